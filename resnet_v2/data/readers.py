"""The reader of each kind of source (`sources.KINDS`): a tf.data dataset
of (encoded image, or uint8 pixels; label; name), in a seeded order.

`READERS` holds one entry per kind (its records and how to count them);
`inputs.make_dataset` decodes what is encoded (`SourceKind.pixels` is
False) and preprocesses.
"""

import collections
import os

import numpy as np
import tensorflow as tf

from resnet_v2.data import cifar10
from resnet_v2.data import idx
from resnet_v2.data import tfrecords
from resnet_v2.data import webdataset

SHUFFLE_BUFFER = 2048
LIST_CHUNK = 1024
CYCLE_LENGTH = 4


def file_records(source, shuffle, order_seed, skipped):
  """Image files (a class folder tree, or loose files): their paths, read
  with the decoding, so that a file that cannot be opened is skipped and
  named like one that does not decode."""
  del skipped   # files are skipped when decoded
  items = source.items
  labels = (source.labels if source.labels is not None
            else [-1] * len(items))

  def generate():
    # The permutation is made here, not captured: graph-mode programs
    # keep every dataset function alive, and file lists can be millions.
    # Chunks, so that Python runs once per LIST_CHUNK files.
    order = (np.random.default_rng(order_seed).permutation(len(items))
             if shuffle else np.arange(len(items)))
    for start in range(0, len(order), LIST_CHUNK):
      chunk = order[start:start + LIST_CHUNK]
      yield (np.asarray([os.fsencode(items[i]) for i in chunk], object),
             np.asarray([labels[i] for i in chunk], np.int64))
  data = tf.data.Dataset.from_generator(generate, output_signature=(
      tf.TensorSpec([None], tf.string),
      tf.TensorSpec([None], tf.int64))).unbatch()
  return data.map(lambda path, label: (path, label, path))


def array_records(source, shuffle, order_seed, skipped):
  """Pixels already in memory: `name[row]` names."""
  del skipped
  names = ['%s[%d]' % (source.path, i) for i in range(len(source.items))]
  data = tf.data.Dataset.from_tensor_slices(
      (source.items, source.labels, names))
  if shuffle:
    data = data.shuffle(len(names), seed=order_seed,
                        reshuffle_each_iteration=False)
  return data


def tfrecord_records(source, shuffle, order_seed, skipped):
  """TF-Slim's TFRecords, interleaved across files."""
  return tfrecords.records(source, shuffle, order_seed, skipped,
                           CYCLE_LENGTH, SHUFFLE_BUFFER)


def cifar10_records(source, shuffle, order_seed, skipped):
  """CIFAR-10's python batches, a batch file at a time."""
  del skipped

  def generate():
    for path in source.items:
      images, labels = cifar10.read_cifar_batch(path)
      for index, (image, label) in enumerate(zip(images, labels)):
        yield image, label, '%s[%d]' % (path, index)
  data = tf.data.Dataset.from_generator(generate, output_signature=(
      tf.TensorSpec([32, 32, 3], tf.uint8), tf.TensorSpec([], tf.int64),
      tf.TensorSpec([], tf.string)))
  if shuffle:
    data = data.shuffle(SHUFFLE_BUFFER * 8, seed=order_seed,
                        reshuffle_each_iteration=False)
  return data


def idx_records(source, shuffle, order_seed, skipped):
  """MNIST-format IDX records, grey made RGB."""
  del skipped
  rows, cols = idx.image_size(source)

  def generate():
    # A full seeded permutation, made here (see `file_records`).
    order = (np.random.default_rng(order_seed).permutation(len(source.items))
             if shuffle else np.arange(len(source.items)))
    yield from idx.record_chunks(source, order, LIST_CHUNK)
  data = tf.data.Dataset.from_generator(generate, output_signature=(
      tf.TensorSpec([None, rows, cols, 1], tf.uint8),
      tf.TensorSpec([None], tf.int64),
      tf.TensorSpec([None], tf.string))).unbatch()
  return data.map(lambda image, label, name: (
      tf.image.grayscale_to_rgb(image), label, name))


def webdataset_records(source, shuffle, order_seed, skipped):
  """img2dataset-style tar shards."""
  data = tf.data.Dataset.from_generator(
      lambda: webdataset.chunks(source, skipped, LIST_CHUNK),
      output_signature=(tf.TensorSpec([None], tf.string),
                        tf.TensorSpec([None], tf.int64),
                        tf.TensorSpec([None], tf.string))).unbatch()
  return data.shuffle(SHUFFLE_BUFFER, seed=order_seed) if shuffle else data


def count_items(source):
  """One item, one image (image files, arrays, IDX records)."""
  return len(source.items)


def count_cifar10(source):
  return sum(len(cifar10.read_cifar_batch(p)[1]) for p in source.items)


def count_tfrecords(source):
  """TFRecords are read through once (their summary is cached)."""
  return tfrecords.tfrecord_summary(tuple(source.items))[0]


def count_webdataset(source):
  return sum(1 for p in source.items for _ in webdataset.samples(p))


Reader = collections.namedtuple('Reader', ['records', 'count'])
Reader.__doc__ = """How a kind of source is read.

records: fn(source, shuffle, order_seed, skipped) -> the dataset of
  (encoded image or uint8 pixels, label, name).
count: fn(source) -> how many images it holds.
"""

# The reader of every kind in `sources.KINDS`.
READERS = {
    'folder': Reader(file_records, count_items),
    'files': Reader(file_records, count_items),
    'arrays': Reader(array_records, count_items),
    'tfrecord': Reader(tfrecord_records, count_tfrecords),
    'cifar10': Reader(cifar10_records, count_cifar10),
    'idx': Reader(idx_records, count_items),
    'webdataset': Reader(webdataset_records, count_webdataset),
}


def _reader(source):
  if source.kind not in READERS:
    raise ValueError('Unknown source kind %r.' % (source.kind,))
  return READERS[source.kind]


def records(source, shuffle, order_seed, skipped):
  """A dataset of (encoded image or uint8 image, label, name) of a source.

  Raises:
    ValueError: for a kind with no reader.
  """
  return _reader(source).records(source, shuffle, order_seed, skipped)


def count(source):
  """How many images a source holds.

  Raises:
    ValueError: for a kind with no reader.
  """
  return _reader(source).count(source)
