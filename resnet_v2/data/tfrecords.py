"""TFRecords in TF-Slim's ImageNet format (build_imagenet_data.py): files of
a split, class names from labels.txt or image/class/text, and the
validation files beside the training ones, and their records read so that
a damaged file is named (with the offset) instead of ending a run."""

import fnmatch
import functools
import glob
import os

import tensorflow as tf
from tensorflow.python.util import deprecation  # pylint: disable=g-direct-tensorflow-import

from resnet_v2 import errors
from resnet_v2.data import sources


# TF-Slim's build_imagenet_data.py keys.
TFRECORD_FEATURES = {
    'image/encoded': tf.io.FixedLenFeature([], tf.string),
    'image/class/label': tf.io.FixedLenFeature([], tf.int64),
}


TFRECORD_OPTIONAL = {
    'image/class/text': tf.io.FixedLenFeature([], tf.string, ''),
    'image/object/bbox/ymin': tf.io.VarLenFeature(tf.float32),
    'image/object/bbox/xmin': tf.io.VarLenFeature(tf.float32),
    'image/object/bbox/ymax': tf.io.VarLenFeature(tf.float32),
    'image/object/bbox/xmax': tf.io.VarLenFeature(tf.float32),
}


def _first_record(path):
  for record in tf.data.TFRecordDataset(path).take(1):
    return record.numpy()
  return None


LABELS_FILE = 'labels.txt'


# TF-Slim's file names of its dataset splits (download_and_convert_*.py,
# build_imagenet_data.py).
TFRECORD_SPLITS = {'train': 'train-*', 'test': 'validation-*'}


def _tfrecord_files(pattern, split):
  """The files a TFRecord argument names: a file, a glob pattern, or a
  folder (its files of the split, TF-Slim's train-* / validation-*, where
  it has them; else all of them)."""
  if os.path.isdir(pattern):
    names = [n for n in sources.visible_names(os.listdir(pattern))
             if os.path.isfile(os.path.join(pattern, n)) and n != LABELS_FILE]
    wanted = [n for n in names if fnmatch.fnmatchcase(
        n, TFRECORD_SPLITS[split])]
    if wanted or any(fnmatch.fnmatchcase(n, p) for n in names
                     for p in TFRECORD_SPLITS.values()):
      names = wanted
    return [os.path.join(pattern, n) for n in names]
  if os.path.isfile(pattern):
    return [pattern]
  return sorted(glob.glob(pattern))


def read_labels_file(path):
  """TF-Slim's labels.txt (`dataset_utils.write_label_file`): lines
  'LABEL:NAME'. Returns the names by label (missing labels named by their
  number).

  Raises:
    ValueError: naming the file and line that is not 'LABEL:NAME'.
  """
  names = {}
  with open(path, encoding='utf-8', errors='replace') as handle:
    for number, line in enumerate(handle, 1):
      line = line.rstrip('\n')
      if not line.strip():
        continue
      label, colon, name = line.partition(':')
      if not colon or not label.strip().isdigit():
        raise ValueError('%s line %d is not LABEL:NAME (TF-Slim\'s '
                         'labels.txt): %r' % (path, number, line[:80]))
      names[int(label)] = name
  if not names:
    raise ValueError('%s names no class.' % path)
  return [names.get(i, str(i)) for i in range(max(names) + 1)]


def tfrecord_summary(files):
  """(records, {label: class text}) of TFRecord files, read through once
  (cached: training counts them and names their classes in one pass)."""
  count, texts = 0, {}
  keys = {'image/class/label': TFRECORD_FEATURES['image/class/label'],
          'image/class/text': TFRECORD_OPTIONAL['image/class/text']}
  # Damaged files are counted up to the damage (the pipeline names it).
  data = tf.data.Dataset.from_tensor_slices(list(files)).interleave(
      lambda f: tf.data.TFRecordDataset(f).ignore_errors(), cycle_length=1
  ).batch(4096).map(lambda records: tf.io.parse_example(records, keys))
  for batch in data:
    labels = batch['image/class/label'].numpy()
    count += len(labels)
    for label, text in zip(labels, batch['image/class/text'].numpy()):
      if text and int(label) not in texts:
        texts[int(label)] = text.decode('utf-8', 'replace')
  return count, texts


def tfrecord_class_names(files):
  """Class names of TF-Slim TFRecords, by label: from labels.txt beside
  the (first) file, else from the records' image/class/text; None where
  neither says."""
  labels_file = os.path.join(os.path.dirname(files[0]), LABELS_FILE)
  if os.path.isfile(labels_file):
    return read_labels_file(labels_file)
  _, texts = tfrecord_summary(tuple(files))
  if not texts:
    return None
  return [texts.get(i, str(i)) for i in range(max(texts) + 1)]


def tfrecord_source(pattern, split='train'):
  """TFRecord files (a file, a glob pattern or a folder of them) in TF-Slim's
  ImageNet format, checked on their first record. A folder with TF-Slim's
  split names gives the split's files (train-* or validation-*). Class
  names come from labels.txt beside the files, else from the records'
  image/class/text (indexed by label, before any labels offset).

  Raises:
    ValueError: if no file matches, or a record lacks the keys
      `image/encoded` and `image/class/label`, naming the file.
  """
  files = _tfrecord_files(pattern, split)
  if not files:
    raise ValueError('No TFRecord files match %s.' % pattern)
  try:
    first = _first_record(files[0])
  except tf.errors.OpError as error:
    raise ValueError('%s is not a readable TFRecord file: %s' %
                     (files[0], errors.op_error_reason(error))) from None
  if first is None:
    raise ValueError('%s holds no records.' % files[0])
  try:
    keys = set(tf.train.Example.FromString(first).features.feature)
  except Exception:  # pylint: disable=broad-except
    keys = set()
  missing = sorted(set(TFRECORD_FEATURES) - keys)
  if missing:
    raise ValueError('%s: records lack %s (has %s); expected TF-Slim\'s '
                     'ImageNet format (build_imagenet_data.py): '
                     'image/encoded and image/class/label.' %
                     (files[0], missing, sorted(keys) or 'no Example'))
  return sources.Source('tfrecord', pattern, files, None,
                tfrecord_class_names(files))


def validation_beside(source):
  """TF-Slim's validation split beside a TFRecord training source (its
  validation-* files in the same folder), or None.
  """
  if source.kind != 'tfrecord':
    return None
  folder = os.path.dirname(source.items[0])
  found = sorted(glob.glob(os.path.join(glob.escape(folder),
                                        TFRECORD_SPLITS['test'])))
  found = [f for f in found if f not in set(source.items)]
  return tfrecord_source(found[0] if len(found) == 1 else os.path.join(
      folder, TFRECORD_SPLITS['test']), 'test') if found else None


def _file_records(path, skipped):
  """Yields (record, 'FILE[N]') of one TFRecord file; where a record is
  damaged, the rest of the file is skipped and named (with the offset) in
  skipped, and the run goes on."""
  path = os.fsdecode(path)
  index = 0
  try:
    with deprecation.silence():
      for record in tf.compat.v1.io.tf_record_iterator(path):
        yield record, '%s[%d]' % (path, index)
        index += 1
  except tf.errors.OpError as error:
    skipped.add('%s[%d]' % (path, index), 'a damaged TFRecord file (%s): '
                'the rest of the file was skipped' %
                errors.op_error_reason(error))


def records(source, shuffle, order_seed, skipped, cycle_length,
            shuffle_buffer):
  """A dataset of (encoded image, label, 'FILE[N]') of TF-Slim's TFRecords,
  files interleaved; damaged files are read up to the damage (named in
  skipped, an `inputs.SkippedFiles`)."""
  files = tf.data.Dataset.from_tensor_slices(source.items)
  if shuffle:
    files = files.shuffle(len(source.items), seed=order_seed,
                          reshuffle_each_iteration=False)
  data = files.interleave(
      lambda f: tf.data.Dataset.from_generator(
          functools.partial(_file_records, skipped=skipped), args=(f,),
          output_signature=(
              tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string))),
      cycle_length=cycle_length, num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=True)
  if shuffle:
    data = data.shuffle(shuffle_buffer, seed=order_seed,
                        reshuffle_each_iteration=False)

  def parse(record, name):
    parsed = tf.io.parse_single_example(record, dict(
        TFRECORD_FEATURES, **TFRECORD_OPTIONAL))
    return parsed['image/encoded'], parsed['image/class/label'], name
  return data.map(parse, num_parallel_calls=tf.data.AUTOTUNE,
                  deterministic=True)
