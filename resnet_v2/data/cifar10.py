"""CIFAR-10 python batches, read as data only: a pickle that asks to run
anything but numpy's array reconstruction is refused, and nothing is run."""

import os
import pickle

import numpy as np

from resnet_v2.data import sources


CIFAR10_TRAIN_FILES = tuple('data_batch_%d' % i for i in range(1, 6))


CIFAR10_TEST_FILE = 'test_batch'


CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')


def cifar10_source(directory, split='train'):
  """The `cifar-10-batches-py` folder: data_batch_1..5 or test_batch.

  Raises:
    ValueError: naming the missing folder or files.
  """
  if not os.path.isdir(directory):
    raise ValueError('CIFAR-10 folder %s does not exist. Unpack '
                     'cifar-10-python.tar.gz there (it holds data_batch_1..5 '
                     'and test_batch).' % directory)
  names = CIFAR10_TRAIN_FILES if split == 'train' else (CIFAR10_TEST_FILE,)
  missing = [n for n in names
             if not os.path.isfile(os.path.join(directory, n))]
  if missing:
    raise ValueError('CIFAR-10 folder %s lacks %s.' % (directory, missing))
  return sources.Source('cifar10', directory,
                [os.path.join(directory, n) for n in names], None,
                list(CIFAR10_CLASSES))


# What a CIFAR-10 python batch may hold besides plain containers: numpy
# arrays and their dtypes, nothing that runs code.
_CIFAR_PICKLE_GLOBALS = frozenset([
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
])


def _latin1_bytes(text, encoding):
  if encoding not in ('latin1', 'latin-1'):
    raise pickle.UnpicklingError('it asks for the text encoding %r, not '
                                 'latin1' % (encoding,))
  return text.encode('latin1')


class _DataOnlyUnpickler(pickle.Unpickler):
  """Rebuilds numpy arrays, bytes, strings, numbers, lists, tuples and dicts
  only: any other global a pickle names (the way a pickle runs code) is
  refused (as Keras's and PyTorch's safe loaders do)."""

  def find_class(self, module, name):
    if (module, name) in _CIFAR_PICKLE_GLOBALS:
      return super().find_class(module, name)
    if (module, name) == ('_codecs', 'encode'):
      # How Python 3 pickles bytes at protocol 2: latin-1 text to bytes.
      return _latin1_bytes
    raise pickle.UnpicklingError(
        'it asks to run %s.%s, and a CIFAR-10 batch holds only arrays and '
        'lists; it was not run' % (module, name))


def read_cifar_batch(path):
  """Reads one CIFAR-10 python batch: (uint8 [N, 32, 32, 3], int64 [N]).

  The file is data: it is unpickled by `_DataOnlyUnpickler`, which never
  imports or calls anything but numpy's array constructors.

  Raises:
    ValueError: naming the file, if it is not such a batch (or asks to run
      code).
  """
  try:
    with open(path, 'rb') as handle:
      batch = _DataOnlyUnpickler(handle, encoding='bytes').load()
  except (OSError, pickle.UnpicklingError, EOFError, ValueError,
          TypeError, AttributeError, IndexError) as error:
    raise ValueError('%s is not a readable CIFAR-10 python batch: %s' %
                     (path, error)) from None
  if not isinstance(batch, dict) or b'data' not in batch or (
      b'labels' not in batch):
    raise ValueError('%s is not a CIFAR-10 batch: expected a dict with '
                     "b'data' and b'labels'." % path)
  data = np.asarray(batch[b'data'])
  try:
    labels = np.asarray(batch[b'labels'], np.int64)
  except (TypeError, ValueError):
    labels = np.zeros([0], np.int64) - 1
  if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data) or (
      not len(data) or data.dtype == object) or labels.ndim != 1:
    raise ValueError('%s: expected data [N, 3072] and N labels, got data %s '
                     'and %d labels.' % (path, data.shape, len(labels)))
  if labels.min() < 0 or labels.max() > 9:
    raise ValueError('%s: labels must be 0..9, got %d..%d.' %
                     (path, labels.min(), labels.max()))
  images = data.astype(np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  return images, labels
