"""One input pipeline for every command: images on disk -> tf.data batches.

Sources: class-per-folder trees (JPEG, PNG, GIF, BMP; classes are the
sorted folder names), loose image files (for predict and features),
TFRecords in TF-Slim's ImageNet format, and CIFAR-10 python batches. Only
the list of file names is held in memory; images are read, decoded and
preprocessed in parallel as batches are drawn, behind bounded shuffle and
prefetch buffers.

A file that does not decode is skipped and recorded, by name and reason, in
a `SkippedFiles`: a run never dies on one bad image. Training order and
augmentation are fixed by (seed, epoch) with stateless random ops, so an
epoch resumed after step k yields exactly the batches it would have.
"""

import collections
import fnmatch
import functools
import glob
import os
import pickle
import threading

import numpy as np
import tensorflow as tf

from resnet_v2.data import preprocessing

CIFAR10_TRAIN_FILES = tuple('data_batch_%d' % i for i in range(1, 6))
CIFAR10_TEST_FILE = 'test_batch'
CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')
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
SHUFFLE_BUFFER = 2048
LIST_CHUNK = 1024
CYCLE_LENGTH = 4

Source = collections.namedtuple(
    'Source', ['kind', 'path', 'items', 'labels', 'class_names'])
Source.__doc__ = """Where images come from.

kind: 'folder' (items: image paths, labels: class indices), 'files' (items:
  image paths, labels None), 'tfrecord' (items: record files; labels are in
  the records), 'cifar10' (items: batch files) or 'arrays' (items: uint8
  images [N, H, W, 3] in memory, labels: [N]; for data already in numpy).
path: what the user named.
class_names: list of names, or None where the source does not say.
"""


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


def _visible(names):
  return sorted(n for n in names if not n.startswith('.'))


def _files_under(folder):
  """Every visible file below folder, recursively, sorted.

  Symlinked folders are followed, each real folder once (a link back up
  the tree is not a loop); symlinked files are listed, dangling ones too
  (the pipeline names them as unreadable).
  """
  found, seen = [], set()
  for root, dirs, names in os.walk(folder, followlinks=True):
    try:
      info = os.stat(root)
    except OSError:
      dirs[:] = []
      continue
    if (info.st_dev, info.st_ino) in seen:
      dirs[:] = []
      continue
    seen.add((info.st_dev, info.st_ino))
    dirs[:] = _visible(dirs)
    found.extend(os.path.join(root, n) for n in _visible(names))
  return found


def display_name(name):
  """A file name (str or bytes, maybe not UTF-8) as printable text: bytes
  that are not UTF-8 are shown as \\xNN escapes."""
  if isinstance(name, bytes):
    return name.decode('utf-8', 'backslashreplace')
  return name.encode('utf-8', 'surrogateescape').decode('utf-8',
                                                        'backslashreplace')


def list_image_files(inputs):
  """Expands files and folders (recursively, sorted) into a list of files.

  Every file under a folder is listed, images or not: files that do not
  decode are skipped and reported by the pipeline, so nothing is dropped
  silently.

  Raises:
    ValueError: if an input does not exist or nothing is found.
  """
  found = []
  for item in inputs:
    if os.path.isdir(item):
      found.extend(_files_under(item))
    elif os.path.isfile(item):
      found.append(item)
    else:
      raise ValueError('%s does not exist: give image files or folders.' %
                       item)
  if not found:
    raise ValueError('No files found in %s.' % list(inputs))
  return found


def arrays_source(images, labels, class_names, name='arrays'):
  """Images already in memory (uint8 [N, H, W, 3]) with labels [N].

  Raises:
    ValueError: on mismatched shapes.
  """
  images, labels = np.asarray(images), np.asarray(labels, np.int64)
  if images.ndim != 4 or images.shape[-1] != 3 or len(images) != len(labels):
    raise ValueError('arrays_source needs images [N, H, W, 3] and N labels, '
                     'got %s and %s.' % (images.shape, labels.shape))
  return Source('arrays', name, images.astype(np.uint8), labels,
                list(class_names))


def files_source(inputs):
  """Loose image files and folders, unlabelled (predict, features)."""
  return Source('files', list(inputs), list_image_files(inputs), None, None)


def folder_source(directory, min_classes=2):
  """A folder with one subfolder of images per class.

  Args:
    directory: The folder.
    min_classes: Fewest class folders accepted (2 to train on; 1 to
      evaluate, where the model's classes number the labels).

  Raises:
    ValueError: if the folder is missing, has fewer than two class folders
      or a class folder without files, naming them.
  """
  if not os.path.isdir(directory):
    raise ValueError('Image folder %s does not exist.' % directory)
  classes = [d for d in _visible(os.listdir(directory))
             if os.path.isdir(os.path.join(directory, d))]
  if len(classes) < min_classes:
    raise ValueError('%s must hold one subfolder of images per class, at '
                     'least %s; found %s. Put each class in its own '
                     'folder, e.g. %s/cats/1.jpg and %s/dogs/2.jpg.' %
                     (directory, ('one', 'two')[min_classes - 1]
                      if min_classes <= 2 else min_classes,
                      classes or 'none', directory, directory))
  paths, labels, empty = [], [], []
  for label, name in enumerate(classes):
    found = _files_under(os.path.join(directory, name))
    if not found:
      empty.append(name)
    paths.extend(found)
    labels.extend([label] * len(found))
  if empty:
    raise ValueError('Class folders without files in %s: %s. Add images or '
                     'remove the folders.' % (directory, empty))
  return Source('folder', directory, paths, labels, classes)


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
    names = [n for n in _visible(os.listdir(pattern))
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


@functools.lru_cache(maxsize=8)
def _tfrecord_summary(files):
  """(records, {label: class text}) of TFRecord files, read through once
  (cached: training counts them and names their classes in one pass)."""
  count, texts = 0, {}
  keys = {'image/class/label': TFRECORD_FEATURES['image/class/label'],
          'image/class/text': TFRECORD_OPTIONAL['image/class/text']}
  data = tf.data.TFRecordDataset(list(files)).batch(4096).map(
      lambda records: tf.io.parse_example(records, keys))
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
  _, texts = _tfrecord_summary(tuple(files))
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
                     (files[0], op_error_reason(error))) from None
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
  return Source('tfrecord', pattern, files, None,
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
  return Source('cifar10', directory,
                [os.path.join(directory, n) for n in names], None,
                list(CIFAR10_CLASSES))


def open_source(path, split='train'):
  """Opens what `path` holds: CIFAR-10 batches, TFRecords or class folders.

  Args:
    path: A folder or a TFRecord file / glob pattern.
    split: 'train' or 'test': CIFAR-10's and TF-Slim's TFRecords' files
      of that split; 'test' class folders may hold a single class.

  Returns:
    A `Source`.

  Raises:
    ValueError: if nothing usable is there, saying what was expected.
  """
  if os.path.isdir(path):
    names = os.listdir(path)
    if CIFAR10_TEST_FILE in names or CIFAR10_TRAIN_FILES[0] in names:
      return cifar10_source(path, split)
    if any(os.path.isdir(os.path.join(path, n)) for n in names):
      return folder_source(path, 1 if split == 'test' else 2)
    if any('tfrecord' in n or n.startswith(('train-', 'validation-'))
           for n in names):
      return tfrecord_source(path, split)
    raise ValueError('%s holds neither class folders, TFRecords nor CIFAR-10 '
                     'batches.' % path)
  if os.path.isfile(path) or glob.glob(path):
    return tfrecord_source(path, split)
  raise ValueError('%s does not exist: give a folder of class folders, a '
                   'TFRecord file or pattern, or a cifar-10-batches-py '
                   'folder.' % path)


def split_source(source, fraction=0.1, seed=0):
  """Holds out a seeded, per-class `fraction` of a folder source.

  Returns:
    (train source, validation source).

  Raises:
    ValueError: for sources that cannot be split by file (give a validation
      set), or a class too small to leave an image on each side.
  """
  if source.kind not in ('folder', 'arrays'):
    raise ValueError('Only class folders are split automatically; give '
                     'validation data for %s (%s).' % (source.path,
                                                       source.kind))
  rng = np.random.default_rng(seed)
  labels = np.asarray(source.labels)
  held = np.zeros(len(labels), bool)
  for label, name in enumerate(source.class_names):
    members = np.flatnonzero(labels == label)
    if len(members) < 2:
      raise ValueError('Class %r has %d image(s): a validation split needs '
                       'at least 2 per class; add images or give validation '
                       'data.' % (name, len(members)))
    count = max(1, int(round(len(members) * fraction)))
    held[rng.choice(members, count, replace=False)] = True

  def part(mask):
    if source.kind == 'arrays':
      return source._replace(items=source.items[mask], labels=labels[mask])
    return source._replace(
        items=[p for p, m in zip(source.items, mask) if m],
        labels=[int(l) for l, m in zip(labels, mask) if m])
  return part(~held), part(held)


def offset_class_names(source, labels_offset):
  """A TFRecord source's class names as the net numbers them, after
  `labels_offset` is subtracted from the records' labels (TF-Slim's
  ImageNet: 1001 names with 'background' first, offset 1 for a 1000-class
  net)."""
  if source.kind != 'tfrecord' or not labels_offset or not (
      source.class_names):
    return source
  return source._replace(class_names=source.class_names[labels_offset:])


def relabel(source, class_names, what='the model'):
  """The source with its labels numbered by `class_names` (the model's
  classes), matched by name: a folder that lacks some of the classes is
  scored under the right labels, not shifted ones.

  Args:
    source: A labelled `Source`.
    class_names: The model's class names, in its logits' order; None
      (a model trained on unnamed TFRecord classes) keeps the numbers.
    what: How to call the model in messages.

  Returns:
    A `Source` whose class_names are class_names.

  Raises:
    ValueError: naming the source's classes that the model does not know.
  """
  if class_names is None or source.class_names is None:
    return source
  class_names = list(class_names)
  if list(source.class_names) == class_names:
    return source
  index = {name: i for i, name in enumerate(class_names)}
  unknown = [n for n in source.class_names if n not in index]
  if unknown:
    raise ValueError('%s has classes that %s does not know: %s (it knows '
                     '%s%s). Remove those folders, or use data of the '
                     'same classes.' % (
                         source.path, what, unknown[:10],
                         class_names[:10],
                         ', ...' if len(class_names) > 10 else ''))
  if source.kind not in ('folder', 'arrays'):
    raise ValueError('%s numbers its classes %s, %s %s: they must be the '
                     'same, in the same order.' % (
                         source.path, source.class_names[:10], what,
                         class_names[:10]))
  mapping = np.asarray([index[n] for n in source.class_names], np.int64)
  labels = mapping[np.asarray(source.labels, np.int64)]
  return source._replace(labels=labels if source.kind == 'arrays'
                         else labels.tolist(), class_names=class_names)


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
  if source.kind in ('folder', 'arrays') and len(source.items) > max_images:
    chosen = np.sort(np.random.default_rng(seed).choice(
        len(source.items), max_images, replace=False))
    items = (source.items[chosen] if source.kind == 'arrays'
             else [source.items[i] for i in chosen])
    source = source._replace(items=items,
                             labels=np.asarray(source.labels)[chosen])
  total, count = np.zeros([image_size, image_size, 3], np.float64), 0
  batches = make_dataset(source, preprocessing_name, image_size, batch_size,
                         skipped=skipped).take(-(-max_images // batch_size))
  for images, _, _ in batches:
    total += images.numpy().sum(0)
    count += len(images)
  if not count:
    raise ValueError('No readable image in %s.' % source.path)
  return (total / count).astype(np.float32)


def count_examples(source):
  """How many examples a source holds (TFRecords are read through once)."""
  if source.kind in ('folder', 'files', 'arrays'):
    return len(source.items)
  if source.kind == 'cifar10':
    return sum(len(read_cifar_batch(p)[1]) for p in source.items)
  return _tfrecord_summary(tuple(source.items))[0]


def op_error_reason(error):
  """The line of a TensorFlow op error that says what went wrong."""
  lines = [line for line in error.message.splitlines() if line.strip()]
  reasons = [line for line in lines if not line[0].isspace() and
             not line.startswith(('Graph execution error', 'Detected at'))]
  return (reasons or lines or ['unknown error'])[-1]


def _decode_or_skip(contents, name, skipped, max_pixels, read=False):
  """Reads (if `read`: contents is then a path) and decodes image bytes; a
  file that cannot be read, is larger than max_pixels or does not decode
  is recorded in `skipped` and flagged."""

  def decode(contents, name):
    try:
      data = contents.numpy()
      if read:
        with open(data, 'rb') as handle:
          data = handle.read()
      return preprocessing.decode_image(data, max_pixels), True
    except OSError as error:
      reason = error.strerror or str(error)
    except tf.errors.OpError as error:
      reason = op_error_reason(error)
    except ValueError as error:
      reason = str(error)
    skipped.add(display_name(name.numpy()), reason)
    return tf.zeros([1, 1, 3], tf.uint8), False

  image, ok = tf.py_function(decode, [contents, name], [tf.uint8, tf.bool])
  image.set_shape([None, None, 3])
  ok.set_shape([])
  return image, ok


def _records(source, shuffle, order_seed):
  """A dataset of (encoded image or uint8 image, label, name) of a source."""
  if source.kind in ('folder', 'files'):
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
    # Read with the decoding (`_decode_or_skip`), so that a file that cannot
    # be opened is skipped and named like one that does not decode.
    return data.map(lambda path, label: (path, label, path))
  if source.kind == 'arrays':
    names = ['%s[%d]' % (source.path, i) for i in range(len(source.items))]
    data = tf.data.Dataset.from_tensor_slices(
        (source.items, source.labels, names))
    if shuffle:
      data = data.shuffle(len(names), seed=order_seed,
                          reshuffle_each_iteration=False)
    return data
  if source.kind == 'tfrecord':
    files = tf.data.Dataset.from_tensor_slices(source.items)
    if shuffle:
      files = files.shuffle(len(source.items), seed=order_seed,
                            reshuffle_each_iteration=False)
    data = files.interleave(
        lambda f: tf.data.TFRecordDataset(f).map(lambda r: (r, f)),
        cycle_length=CYCLE_LENGTH, num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True)
    if shuffle:
      data = data.shuffle(SHUFFLE_BUFFER, seed=order_seed,
                          reshuffle_each_iteration=False)

    def parse(record, file_name):
      parsed = tf.io.parse_single_example(
          record, dict(TFRECORD_FEATURES, **TFRECORD_OPTIONAL))
      return parsed['image/encoded'], parsed['image/class/label'], file_name
    return data.map(parse, num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=True)
  if source.kind == 'cifar10':
    def generate():
      for path in source.items:
        images, labels = read_cifar_batch(path)
        for index, (image, label) in enumerate(zip(images, labels)):
          yield image, label, '%s[%d]' % (path, index)
    data = tf.data.Dataset.from_generator(generate, output_signature=(
        tf.TensorSpec([32, 32, 3], tf.uint8), tf.TensorSpec([], tf.int64),
        tf.TensorSpec([], tf.string)))
    if shuffle:
      data = data.shuffle(SHUFFLE_BUFFER * 8, seed=order_seed,
                          reshuffle_each_iteration=False)
    return data
  raise ValueError('Unknown source kind %r.' % (source.kind,))


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
  preprocess = preprocessing.SCHEMES[preprocessing_name]
  data = _records(source, training if shuffle is None else shuffle,
                  order_seed)
  if source.kind not in ('cifar10', 'arrays'):
    def decode(contents, label, name):
      image, ok = _decode_or_skip(contents, name, skipped, max_pixels,
                                  read=source.kind != 'tfrecord')
      return image, label, name, ok
    data = data.map(decode, num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=True)
    data = data.filter(lambda image, label, name, ok: ok).map(
        lambda image, label, name, ok: (image, label, name))
  if source.kind == 'tfrecord' and labels_offset:
    data = data.map(lambda image, label, name: (
        image, label - labels_offset, name))
  if num_classes is not None:
    def check(image, label, name):
      in_range = tf.logical_and(label >= 0, label < num_classes)
      with tf.control_dependencies([tf.debugging.Assert(in_range, [
          'label', label, 'is outside 0..%d (the net has %d classes) in' %
          (num_classes - 1, num_classes), name])]):
        return tf.identity(image), label, name
    data = data.map(check)

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
  data = data.enumerate().map(prepare, num_parallel_calls=tf.data.AUTOTUNE,
                              deterministic=True)
  data = data.batch(batch_size, drop_remainder=training)
  if skip_batches:
    data = data.skip(skip_batches)
  return data.prefetch(tf.data.AUTOTUNE)
