"""Sources that fit in memory (IDX files, CIFAR-10 batches, arrays), read
once and cut into whole batches.

A small image set (Fashion-MNIST: 47 MB of uint8) is cheaper to hold than
to stream: its files are read and decoded once per process (the last few
whole files are kept, so a training split and its held-out validation
split share one read), and each batch is one gather rather than a chain
of per-image dataset ops. On two cores the per-image ops took the cores
from the training step that the batch is for; the batch path does the
same work as a handful of vectorized ops
(`preprocessing.cifar_preprocess_batch`).
"""

import collections
import hashlib
import os
import threading

import numpy as np
import tensorflow as tf

from resnet_v2.data import cifar10
from resnet_v2.data import idx
from resnet_v2.data import preprocessing

# Whole files kept decoded: a training and a validation split of one file,
# and the test file, without reading any of them twice.
_KEPT_FILES = 8
_kept = collections.OrderedDict()
_lock = threading.Lock()


def _read_once(key, read):
  """read(), remembered under key (a file's path, size and time)."""
  with _lock:
    if key in _kept:
      _kept.move_to_end(key)
      return _kept[key]
  value = read()
  with _lock:
    _kept[key] = value
    while len(_kept) > _KEPT_FILES:
      _kept.popitem(last=False)
  return value


def _file_key(path):
  info = os.stat(path)
  return (os.path.realpath(path), info.st_size, info.st_mtime_ns)


def _idx_images(path):
  """The whole IDX images file as uint8 [N, rows, cols] in memory."""
  return _read_once(_file_key(path),
                    lambda: np.ascontiguousarray(idx.read_array(path)))


def _cifar_batch(path):
  return _read_once(_file_key(path), lambda: cifar10.read_cifar_batch(path))


def _labels(source):
  return None if source.labels is None else np.asarray(source.labels,
                                                       np.int64)


def _idx_pixels(source):
  """IDX: the images file, gray; a split is its record indices."""
  rows = np.asarray(source.items, np.int64)
  return (_idx_images(source.path)[..., None], rows, _labels(source),
          lambda i: '%s[%d]' % (source.path, rows[i]),
          lambda: (_file_key(source.path),))


def _cifar_pixels(source):
  """CIFAR-10: its batch files, one after the other, labels from them."""
  parts = [_cifar_batch(path) for path in source.items]
  where = [(path, row) for path, (part, _) in zip(source.items, parts)
           for row in range(len(part))]
  data = (parts[0][0] if len(parts) == 1 else
          np.concatenate([part for part, _ in parts]))
  return (data, np.arange(len(data)),
          np.concatenate([part_labels for _, part_labels in parts]),
          lambda i: '%s[%d]' % where[i],
          lambda: tuple(_file_key(path) for path in source.items))


def _array_pixels(source):
  """Arrays: the images themselves, kept by their content's hash."""
  data = np.asarray(source.items, np.uint8)
  return (data, np.arange(len(data)), _labels(source),
          lambda i: '%s[%d]' % (source.path, i),
          lambda: (hashlib.sha1(np.ascontiguousarray(data)).hexdigest(),))


# Every kind held in memory (`sources.SourceKind.pixels`), one entry each:
# source -> (images, rows, labels, name function, a function giving the
# key they are kept by as a tensor).
_PIXELS = {'idx': _idx_pixels, 'cifar10': _cifar_pixels,
           'arrays': _array_pixels}


def _pixels(source):
  if source.kind not in _PIXELS:
    raise ValueError('%s sources are streamed, not held in memory.' %
                     source.kind)
  return _PIXELS[source.kind](source)


def images(source):
  """(uint8 images [M, H, W, C], rows int64 [N], labels int64 [N], name
  function) of an in-memory kind: the source's i-th image is
  images[rows[i]] (the whole file stays shared; a split is its rows); C is
  1 for IDX (gray) and 3 otherwise.

  name(i) is the i-th image's name as the streaming path gives it
  ('FILE[index]', or 'ARRAYS[i]').
  """
  return _pixels(source)[:4]


def dataset(source, batch_size, order_seed, shuffle, drop_remainder,
            skip_batches=0):
  """A tf.data dataset of (uint8 images [b, H, W, C], labels [b], names
  [b]) of source: a seeded permutation (shuffle) or file order, whole
  batches only if drop_remainder, starting after skip_batches batches.

  Made of TensorFlow ops only (each batch one gather from the images held
  in memory, a tensor made once): no Python, so no GIL, while it is read.
  """
  loaded = _pixels(source)
  pixels, rows, labels = _tensors(loaded)
  count = int(rows.shape[0])
  order = (np.random.default_rng(order_seed).permutation(count)
           if shuffle else np.arange(count))
  stop = count // batch_size * batch_size if drop_remainder else count
  positions = order[skip_batches * batch_size:stop]
  names = _names(loaded)

  def gather(chosen):
    return (tf.gather(pixels, tf.gather(rows, chosen)),
            tf.gather(labels, chosen), tf.gather(names, chosen))
  return tf.data.Dataset.from_tensor_slices(positions).batch(
      batch_size, drop_remainder=drop_remainder).map(gather)


def _tensors(loaded):
  """(images, rows, labels) of a source's `_pixels` as tensors; the
  images (a whole file) are made a tensor once per process and shared by
  its splits."""
  data, rows, labels, _, key = loaded
  if labels is None:
    labels = np.full([len(rows)], -1, np.int64)
  pixels = _read_once(('tensor',) + key(), lambda: tf.constant(data))
  return pixels, tf.constant(rows), tf.constant(labels)


def _names(loaded):
  """The images' names (of a source's `_pixels`), as a string tensor."""
  _, rows, _, name, _ = loaded
  return tf.constant(np.asarray([name(i) for i in range(len(rows))], object))


def _batch_label_check(num_classes):
  """`inputs`' label check of whole batches: names the first image whose label
  is outside the classes."""
  def check(images, labels, names):
    outside = tf.logical_or(labels < 0, labels >= num_classes)
    first = tf.argmax(tf.cast(outside, tf.int32))
    with tf.control_dependencies([tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(outside)), [
            'label', tf.gather(labels, first), 'is outside 0..%d (the net '
            'has %d classes) in' % (num_classes - 1, num_classes),
            tf.gather(names, first)])]):
      return tf.identity(images), labels, names
  return check


def make_dataset(source, image_size, batch_size, training, augment, shuffle,
                 order_seed, num_classes, skip_batches, pixel_mean):
  """`inputs.make_dataset` of a source held in memory, with the CIFAR
  preprocessing: whole batches gathered (`dataset`), then preprocessed as
  batches (`preprocessing.cifar_preprocess_batch`), on one thread."""
  data = dataset(source, batch_size, order_seed, shuffle, training,
                 skip_batches)
  if num_classes is not None:
    data = data.map(_batch_label_check(num_classes))
  mean = None if pixel_mean is None else tf.constant(pixel_mean,
                                                     tf.float32)
  rows = batch_size if training else None

  def prepare(index, batch):
    images, labels, names = batch
    # Each batch's crops and flips from (seed, epoch) and its place in the
    # epoch, so a resumed epoch draws what the interrupted one would have.
    op_seed = tf.stack([tf.constant(order_seed, tf.int64),
                        index + skip_batches])
    images = preprocessing.cifar_preprocess_batch(
        images, image_size, image_size, training=augment, seed=op_seed)
    images = tf.ensure_shape(images, [rows, image_size, image_size, 3])
    labels = tf.ensure_shape(labels, [rows])
    return (images if mean is None else images - mean), labels, names
  # One thread, one batch at a time, two ahead: a batch costs ~1 ms, and
  # parallel map workers only took the cores from the training step
  # (BENCHMARKS.md, "Time to accuracy").
  data = data.enumerate().map(prepare).prefetch(2)
  options = tf.data.Options()
  options.threading.private_threadpool_size = 1
  options.threading.max_intra_op_parallelism = 1
  return data.with_options(options)
