"""IDX files, the format of MNIST, Fashion-MNIST, EMNIST and KMNIST: a
folder holding an images/labels pair per split (`train-images-idx3-ubyte`
and `train-labels-idx1-ubyte`, `t10k-...` for the test split), gzipped or
not.

A source's items are record indices into its images file (so a split or a
sample is a subset of indices) and its labels are read whole (one byte
each). Images are read as batches are drawn: an uncompressed file is
memory-mapped, a gzipped one decompressed into memory once per pass (47 MB
for Fashion-MNIST's training images). Gray images are repeated to three
channels, as `decode_image` does for gray PNGs and JPEGs, so every net and
its preprocessing take them unchanged. Classes are the label numbers ('0',
'1', ...): the format names none.
"""

import gzip
import os

import numpy as np

from resnet_v2.data import sources

# IDX: two zero bytes, a type code (0x08: unsigned byte, the only one image
# sets use), the number of dimensions, then one big-endian uint32 per
# dimension.
_UNSIGNED_BYTE = 0x08
SPLIT_PREFIXES = {'train': 'train', 'test': 't10k'}


def _open(path):
  return gzip.open(path, 'rb') if path.endswith('.gz') else open(path, 'rb')


def read_header(path, check_size=True):
  """The shape an IDX file declares, checked against its size.

  Args:
    path: The file.
    check_size: Whether to check the data's length (a gzipped file is
      then decompressed through; an uncompressed one's size is its
      length on disk).

  Returns:
    A tuple of ints: (N,) for labels, (N, rows, cols) for images.

  Raises:
    ValueError: naming the file, if it is not IDX of unsigned bytes, or is
      shorter or longer than its header says.
  """
  try:
    with _open(path) as handle:
      head = handle.read(4)
      if len(head) < 4 or head[:2] != b'\0\0' or head[2] != _UNSIGNED_BYTE \
          or not 1 <= head[3] <= 3:
        raise ValueError('%s is not an IDX file of unsigned bytes (it starts '
                         '%r; expected 00 00 08 and 1-3 dimensions).' %
                         (path, head))
      dims = handle.read(4 * head[3])
      if len(dims) < 4 * head[3]:
        raise ValueError('%s is truncated inside its header.' % path)
      shape = tuple(int(d) for d in np.frombuffer(dims, '>u4'))
      if not check_size:
        return shape
      expected = int(np.prod(shape))
      if path.endswith('.gz'):
        size = 0
        while True:
          chunk = handle.read(1 << 22)
          if not chunk:
            break
          size += len(chunk)
      else:
        size = os.fstat(handle.fileno()).st_size - 4 - len(dims)
  except (OSError, EOFError, gzip.BadGzipFile) as error:
    raise ValueError('%s cannot be read: %s' % (path, error)) from None
  if size != expected:
    raise ValueError('%s is %s: its header declares %s (%d bytes of data), '
                     'it holds %d. Download it again.' % (
                         path, 'truncated' if size < expected else
                         'longer than its header says', 'x'.join(
                             map(str, shape)), expected, size))
  return shape


def read_array(path):
  """The whole array an IDX file holds (uint8), memory-mapped if it is not
  gzipped. Raises ValueError as `read_header` does."""
  shape = read_header(path)
  offset = 4 + 4 * len(shape)
  if not path.endswith('.gz'):
    return np.memmap(path, np.uint8, 'r', offset, shape)
  with gzip.open(path, 'rb') as handle:
    data = handle.read()
  return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)


def _find(directory, names, prefix, kind):
  for suffix in ('', '.gz'):
    # Both spellings of the files seen in the wild: '-idx3-ubyte' and
    # '.idx3-ubyte'.
    for separator in ('-', '.'):
      name = '%s-%s%sidx%d-ubyte%s' % (prefix, kind, separator,
                                      3 if kind == 'images' else 1, suffix)
      if name in names:
        return os.path.join(directory, name)
  return None


def is_idx_folder(names):
  """Whether a folder listing holds IDX images."""
  return any('-images' in n and 'idx3-ubyte' in n for n in names)


def idx_source(directory, split='train'):
  """The images/labels pair of one split of an IDX folder.

  Args:
    directory: The folder (e.g. /usr/share/datasets/fashion-mnist).
    split: 'train' (train-*) or 'test' (t10k-*).

  Returns:
    A `sources.Source` of kind 'idx'.

  Raises:
    ValueError: naming the file that is missing, not IDX, truncated, or
      does not pair with the other (counts differ).
  """
  names = os.listdir(directory)
  prefix = SPLIT_PREFIXES[split]
  images_path = _find(directory, names, prefix, 'images')
  labels_path = _find(directory, names, prefix, 'labels')
  if not images_path or not labels_path:
    raise ValueError('%s lacks %s-images-idx3-ubyte[.gz] and %s-labels-idx1-'
                     'ubyte[.gz] (the %s split of an MNIST-format folder).' %
                     (directory, prefix, prefix, split))
  image_shape = read_header(images_path)
  if len(image_shape) != 3:
    raise ValueError('%s holds a %d-dimensional array; images are N x rows '
                     'x columns.' % (images_path, len(image_shape)))
  labels = np.asarray(read_array(labels_path), np.int64)
  if labels.ndim != 1:
    raise ValueError('%s holds a %d-dimensional array; labels are one '
                     'number per image.' % (labels_path, labels.ndim))
  if len(labels) != image_shape[0]:
    raise ValueError('%s holds %d images but %s holds %d labels: they are '
                     'not a pair.' % (images_path, image_shape[0],
                                      labels_path, len(labels)))
  # The classes of every split in the folder, so that train and test agree.
  top = labels.max(initial=0)
  for other in SPLIT_PREFIXES.values():
    path = _find(directory, names, other, 'labels')
    if path and path != labels_path:
      top = max(top, int(read_array(path).max(initial=0)))
  return sources.Source('idx', images_path, np.arange(len(labels)), labels,
                        [str(i) for i in range(top + 1)])


def image_size(source):
  """(rows, columns) of an IDX source's images (its header only: the file
  was checked whole when the source was opened)."""
  return read_header(source.path, check_size=False)[1:]


def record_chunks(source, order, chunk=1024):
  """Yields (uint8 [n, rows, cols, 1] images, labels [n], names [n]) of
  `source` in `order` (positions into source.items), `chunk` at a time."""
  images = read_array(source.path)
  order = np.asarray(order, np.int64)
  for start in range(0, len(order), chunk):
    positions = order[start:start + chunk]
    indices = np.asarray(source.items)[positions]
    yield (np.asarray(images[indices])[..., None],
           np.asarray(source.labels)[positions],
           np.asarray(['%s[%d]' % (source.path, i) for i in indices], object))
