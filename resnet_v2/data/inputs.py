"""One input pipeline for every command: images on disk -> tf.data batches.

`open_source(path)` opens what a path holds: class-per-folder trees and
loose files (`sources`), TFRecords in TF-Slim's ImageNet format
(`tfrecords`), CIFAR-10 python batches (`cifar10`) or MNIST-format IDX
files (`idx`); `make_dataset` streams it. Files are streamed (only their
names are held; images are read, decoded and preprocessed in parallel
behind bounded buffers); IDX, CIFAR-10 and arrays are held in memory and
cut into whole batches (`in_memory`).

A file that does not decode is skipped and recorded, by name and reason, in
a `SkippedFiles`: a run never dies on one bad image. Training order and
augmentation are fixed by (seed, epoch) with stateless random ops, so an
epoch resumed after step k yields exactly the batches it would have.
"""

import glob
import os
import sys
import threading

import numpy as np
import tensorflow as tf

from resnet_v2 import errors
from resnet_v2.data import cifar10
from resnet_v2.data import idx
from resnet_v2.data import in_memory
from resnet_v2.data import preprocessing
from resnet_v2.data import readers
from resnet_v2.data import sources
from resnet_v2.data import tfrecords


def open_source(path, split='train'):
  """Opens what `path` holds: CIFAR-10 batches, IDX files, TFRecords or
  class folders.

  Args:
    path: A folder or a TFRecord file / glob pattern.
    split: 'train' or 'test': CIFAR-10's, IDX's (train-*, t10k-*) and
      TF-Slim's TFRecords' files of that split; 'test' class folders may
      hold a single class.

  Returns:
    A `sources.Source`.

  Raises:
    ValueError: if nothing usable is there, saying what was expected.
  """
  if os.path.isdir(path):
    names = os.listdir(path)
    if (cifar10.CIFAR10_TEST_FILE in names or
        cifar10.CIFAR10_TRAIN_FILES[0] in names):
      return cifar10.cifar10_source(path, split)
    if idx.is_idx_folder(names):
      return idx.idx_source(path, split)
    if any(os.path.isdir(os.path.join(path, n)) for n in names):
      return sources.folder_source(path, 1 if split == 'test' else 2)
    if any('tfrecord' in n or n.startswith(('train-', 'validation-'))
           for n in names):
      return tfrecords.tfrecord_source(path, split)
    raise ValueError('%s holds neither class folders, TFRecords, CIFAR-10 '
                     'batches nor IDX files.' % path)
  if os.path.isfile(path) or glob.glob(path):
    return tfrecords.tfrecord_source(path, split)
  raise ValueError('%s does not exist: give a folder of class folders, a '
                   'TFRecord file or pattern, or a cifar-10-batches-py '
                   'folder.' % path)


def count_examples(source):
  """How many examples a source holds (`readers.count`; TFRecords are read
  through once)."""
  return readers.count(source)


class SkippedFiles:
  """A thread-safe record of the files the pipeline skipped, and why; each
  file once, however many epochs met it."""

  def __init__(self):
    self._lock = threading.Lock()
    self._items = {}

  def add(self, name, reason):
    with self._lock:
      self._items.setdefault(name, reason)

  def items(self):
    """[(file name, reason)], in the order they were first met."""
    with self._lock:
      return list(self._items.items())

  def __len__(self):
    with self._lock:
      return len(self._items)


PIXEL_MEAN_IMAGES = 2000


def pixel_mean(source, preprocessing_name, image_size, skipped=None,
               batch_size=256, max_images=PIXEL_MEAN_IMAGES, seed=0):
  """The per-pixel mean of a source's evaluation-preprocessed images.

  Streams at most `max_images` images (a seeded sample of a file list,
  else the first ones: CIFAR batches and TF-Slim's TFRecords are shuffled
  when written), so start-up time does not grow with the data set.

  Returns:
    float32 [image_size, image_size, 3].
  """
  kind = sources.kind_of(source)
  if kind.item_per_image and len(source.items) > max_images:
    chosen = np.sort(np.random.default_rng(seed).choice(
        len(source.items), max_images, replace=False))
    items = (source.items[chosen] if kind.items_array
             else [source.items[i] for i in chosen])
    source = source._replace(items=items, labels=None if source.labels is (
        None) else np.asarray(source.labels)[chosen])
  total, count = np.zeros([image_size, image_size, 3], np.float64), 0
  batches = make_dataset(source, preprocessing_name, image_size, batch_size,
                         skipped=skipped).take(-(-max_images // batch_size))
  for images, _, _ in batches:
    total += images.numpy().sum(0)
    count += len(images)
  if not count:
    raise ValueError('No readable image in %s.' % source.path)
  return (total / count).astype(np.float32)


# Images decoded and prepared together in one nested dataset of the
# pipeline. The whole pipeline used 0.66-0.74 ms of CPU a 48x40 JPEG at
# 64x64 with chunks of 32 to 512 (steady passes; 2-core Zen 4), against
# 0.71-0.83 when each chunk's images passed one by one through stages that
# found the failures, and 0.44-0.58 for one flat map that cannot name them.
DECODE_CHUNK = 32


def _why_not_decoded(data, read, max_pixels):
  """Why image bytes (if `read`: a path) do not decode, in Python: a
  reason, or None where they do."""
  try:
    if read:
      with open(data, 'rb') as handle:
        data = handle.read()
    preprocessing.decode_image(data, max_pixels)
    return None
  except OSError as error:
    return error.strerror or str(error)
  except tf.errors.OpError as error:
    return errors.op_error_reason(error)
  except ValueError as error:
    return str(error)


def _record_failures(skipped, max_pixels, read):
  """A py_function body: records in `skipped` why each of (contents,
  names) failed in the graph. The slow path: it runs only for the
  elements the graph dropped."""

  def record(contents, names):
    for data, name in zip(contents.numpy(), names.numpy()):
      reason = _why_not_decoded(data, read, max_pixels) or (
          'it did not read in the pipeline, yet reads now: did it change '
          'during the run?')
      skipped.add(sources.display_name(name), reason)
    return True
  return record


def _decoded_or_skipped(skipped, max_pixels, read, prepare):
  """An interleave function over chunks of (indices, (contents, labels,
  names)): one element, the chunk's prepared (images, labels, names) that
  decoded, in order (`prepare(index, (image, label, name))` makes each; a
  chunk that all failed gives empty arrays). Images are read, decoded and
  prepared in the graph; an element that fails there is dropped, and only
  then is it run through Python to record why in `skipped` (it decodes
  with the same op, so it never yields an image there). One nested dataset
  a chunk, its images batched inside it: per image the pipeline runs one
  map and the unbatching; the failures are found once a chunk."""
  record = _record_failures(skipped, max_pixels, read)

  def chunk(indices, element):
    contents, labels, names = element
    count = tf.shape(names, out_type=tf.int64)[0]

    def in_graph(position, index, data, label, name):
      data = tf.io.read_file(data) if read else data
      image = preprocessing.decode_image(data, max_pixels)
      return (position,) + prepare(index, (image, label, name))

    def explain_failures(positions, images, chunk_labels, chunk_names):
      failed = tf.logical_not(tf.reduce_any(tf.equal(
          tf.range(count)[:, None], positions[None, :]), axis=1))
      done = tf.cond(tf.reduce_any(failed), lambda: tf.py_function(
          record, [tf.boolean_mask(contents, failed),
                   tf.boolean_mask(names, failed)], tf.bool),
                     lambda: tf.constant(True))
      with tf.control_dependencies([done]):
        return tf.identity(images), chunk_labels, chunk_names

    survivors = tf.data.Dataset.from_tensor_slices(
        (tf.range(count), indices, contents, labels, names)).map(
            in_graph).ignore_errors().batch(DECODE_CHUNK)
    none = tf.data.Dataset.from_tensors(tf.nest.map_structure(
        lambda spec: tf.zeros([0] + spec.shape[1:].as_list(), spec.dtype),
        survivors.element_spec))
    return survivors.concatenate(none).take(1).map(explain_failures)
  return chunk


def _label_check(num_classes):
  """A map function that stops the pipeline at a label outside the
  classes, naming the file and the label."""
  def check(image, label, name):
    in_range = tf.logical_and(label >= 0, label < num_classes)
    with tf.control_dependencies([tf.debugging.Assert(in_range, [
        'label', label, 'is outside 0..%d (the net has %d classes) in' %
        (num_classes - 1, num_classes), name])]):
      return tf.identity(image), label, name
  return check


def iterate(dataset):
  """Yields a dataset's elements, then deletes its iterator in a thread of
  its own: that waits, idle, for the iterator's threads to stop (6-20 s
  at the end of a Fashion-MNIST epoch), which the next epoch need not. Not
  a daemon (one in TensorFlow at exit aborts the process); none at exit (a
  run failed mid-epoch): one started then never runs, its start hangs."""
  holder = [iter(dataset)]
  try:
    yield from holder[0]
  finally:
    if not sys.is_finalizing():
      threading.Thread(target=holder.clear, name='release tf.data iterator',
                       daemon=False).start()


def make_dataset(source, preprocessing_name, image_size, batch_size,
                 training=False, seed=0, epoch=0, skipped=None,
                 num_classes=None, labels_offset=0, skip_batches=0,
                 pixel_mean=None, augment=None, shuffle=None,
                 max_pixels=preprocessing.MAX_IMAGE_PIXELS):
  """The batches of a source, preprocessed for a net.

  Args:
    source: A `Source`.
    preprocessing_name: A key of `preprocessing.SCHEMES`.
    image_size: Height and width of the net's input.
    batch_size: Images per batch; training drops the last partial batch.
    training: Shuffle (seeded by seed and epoch), drop the last partial
      batch and (unless augment=False) augment.
    seed, epoch: Fix the order and the augmentation of this epoch.
    skipped: A `SkippedFiles` that collects undecodable files.
    num_classes: If set, a label outside [0, num_classes) stops the run
      with an error naming the file and the label.
    labels_offset: Subtracted from TFRecord labels (1 maps TF-Slim's
      1-based ImageNet labels to 1000 classes).
    skip_batches: Batches of this epoch already done (an exact resume).
    pixel_mean: Optional [image_size, image_size, 3] mean subtracted after
      preprocessing (the CIFAR papers' per-pixel mean).
    augment: Random crops and flips; default `training`.
    shuffle: Seeded random order (a sample of the source, e.g. to
      calibrate on); default `training`.
    max_pixels: Larger images (by their header) are skipped, not decoded.

  Returns:
    A dataset of (images float32 [batch, size, size, 3], labels int64
    [batch], names string [batch]).

  Raises:
    ValueError: on an unknown preprocessing name or bad sizes.
  """
  if preprocessing_name not in preprocessing.SCHEMES:
    raise ValueError('Unknown preprocessing %r; choose from %s.' %
                     (preprocessing_name, sorted(preprocessing.SCHEMES)))
  if batch_size < 1 or image_size < 1:
    raise ValueError('batch_size and image_size must be >= 1, got %r and %r.'
                     % (batch_size, image_size))
  skipped = skipped if skipped is not None else SkippedFiles()
  augment = training if augment is None else augment
  order_seed = seed * 100003 + epoch
  kind = sources.kind_of(source)
  if kind.pixels and preprocessing_name == 'cifar':
    return in_memory.make_dataset(
        source, image_size, batch_size, training, augment,
        training if shuffle is None else shuffle, order_seed, num_classes,
        skip_batches, pixel_mean)
  preprocess = preprocessing.SCHEMES[preprocessing_name]
  mean = None if pixel_mean is None else tf.constant(pixel_mean,
                                                     tf.float32)

  def prepare(index, element):
    image, label, name = element
    op_seed = tf.stack([tf.constant(order_seed, tf.int64), index])
    image = preprocess(image, image_size, image_size, training=augment,
                       seed=op_seed)
    # Static shapes for the consumers (some preprocessing ops lose them).
    image = tf.ensure_shape(image, [image_size, image_size, 3])
    return (image if mean is None else image - mean), label, name

  data = readers.records(source, training if shuffle is None else shuffle,
                         order_seed, skipped)
  if kind.pixels:
    data = data.enumerate().map(prepare, num_parallel_calls=tf.data.AUTOTUNE,
                                deterministic=True)
  else:
    # An image's index (its place in the order, failures included) seeds
    # its augmentation.
    data = data.enumerate().batch(DECODE_CHUNK).interleave(
        _decoded_or_skipped(skipped, max_pixels, kind.reads_files, prepare),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).unbatch()
  if source.kind == 'tfrecord' and labels_offset:
    data = data.map(lambda image, label, name: (
        image, label - labels_offset, name))
  if num_classes is not None:
    data = data.map(_label_check(num_classes))
  data = data.batch(batch_size, drop_remainder=training)
  if skip_batches:
    data = data.skip(skip_batches)
  data = data.prefetch(tf.data.AUTOTUNE)
  if training:
    return data
  # Inference runs without tf.data's autotuning: its optimizing thread
  # cost the net's cores (features of 5,000 images at 64x64: 0.88-0.90 x
  # the forward with it, 0.92-0.95 without; 2-core Intel Xeon,
  # BENCHMARKS.md), and deleting a finished iterator waited for that
  # thread to wake, 15-25 s in 2 exits of 9. Each AUTOTUNE parallelism is
  # then the number of cores.
  options = tf.data.Options()
  options.autotune.enabled = False
  return data.with_options(options)
