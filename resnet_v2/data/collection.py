"""What a collection of images is: the inputs of a features run, as one
`sources.Source` (`open_collection`), beside `inputs.open_source` (the
inputs of training and evaluation)."""

import glob
import os

from resnet_v2.data import inputs
from resnet_v2.data import sources
from resnet_v2.data import webdataset

SPLITS = ('train', 'test')


def _listed_paths(text_file):
  """The paths a text file lists, one a line (relative to its folder)."""
  folder = os.path.dirname(os.path.abspath(text_file))
  with open(text_file, encoding='utf-8', errors='surrogateescape') as handle:
    lines = [line.rstrip('\n') for line in handle]
  return [os.path.join(folder, line) for line in lines if line.strip()]


def _dataset(path, split):
  """The source of a single input that is a dataset the pipeline opens
  whole (TFRecords, CIFAR-10 batches, IDX files; their `split`), else None
  (image files and folders). A folder is listed once."""
  base = os.path.basename(path)
  if os.path.isdir(path):
    try:
      source = inputs.open_source(path, split)
    except ValueError:
      return None
    return source if sources.kind_of(source).dataset else None
  if 'tfrecord' in base or base.startswith(('train-', 'validation-')) or (
      not os.path.exists(path) and glob.glob(path)):
    return inputs.open_source(path, split)
  return None


def open_collection(inputs, split='train'):
  """The source of a collection of images (what `features` reads): one text file of paths; one TFRecord,
  CIFAR-10 or IDX dataset (labels kept; its 'train' or 'test' split);
  webdataset tar shards; or image files and folders (listed recursively,
  sorted).

  Raises:
    ValueError: if an input does not exist or holds nothing.
  """
  inputs = list(inputs)
  if len(inputs) == 1 and inputs[0].endswith('.txt') and os.path.isfile(
      inputs[0]):
    paths = _listed_paths(inputs[0])
    if not paths:
      raise ValueError('%s lists no files.' % inputs[0])
    return sources.Source('files', inputs[0], paths, None, None)
  if inputs and all(i.endswith('.tar') for i in inputs):
    return webdataset.webdataset_source(inputs)
  if split not in SPLITS:
    raise ValueError('split must be one of %s, got %r.' % (SPLITS, split))
  dataset = _dataset(inputs[0], split) if len(inputs) == 1 else None
  return dataset or sources.files_source(inputs)
