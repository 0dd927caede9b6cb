"""The reader of each kind of source (`sources.KINDS`): a tf.data dataset
of (encoded image, or uint8 pixels; label; name), in a seeded order.

`READERS` holds one entry per kind; `inputs.make_dataset` decodes what is
encoded (`SourceKind.pixels` is False) and preprocesses.
"""

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


# The reader of every kind in `sources.KINDS`.
READERS = {
    'folder': file_records,
    'files': file_records,
    'arrays': array_records,
    'tfrecord': tfrecord_records,
    'cifar10': cifar10_records,
    'idx': idx_records,
    'webdataset': webdataset_records,
}


def records(source, shuffle, order_seed, skipped):
  """A dataset of (encoded image or uint8 image, label, name) of a source.

  Raises:
    ValueError: for a kind with no reader.
  """
  if source.kind not in READERS:
    raise ValueError('Unknown source kind %r.' % (source.kind,))
  return READERS[source.kind](source, shuffle, order_seed, skipped)
