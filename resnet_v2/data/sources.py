"""Where images come from: the `Source` every reader returns, and the
sources made of files: class-per-folder trees (JPEG, PNG, GIF, BMP; classes
are the sorted folder names), loose image files (predict, features) and
arrays in memory; splitting and relabelling sources by class name."""

import collections
import os

import numpy as np


Source = collections.namedtuple(
    'Source', ['kind', 'path', 'items', 'labels', 'class_names'])


SourceKind = collections.namedtuple('SourceKind', [
    'reads_files', 'items_array', 'item_per_image', 'dataset',
    'sharded_by_file', 'pixels', 'path_is_input', 'validation'])
SourceKind.__doc__ = """What a kind of source is, for every module that
treats kinds differently (their readers: `readers.READERS`).

reads_files: items are image files, read and decoded by the pipeline.
items_array: items are a numpy array (split and sampled by index).
item_per_image: len(items) is the number of images.
dataset: a published dataset with train and test splits (`--split`).
sharded_by_file: items are files of many images each (a features run
  shards by file).
pixels: items hold pixels, not encoded images: nothing to decode (and
  read into memory once, `in_memory`, for CIFAR-style training).
path_is_input: path is one file or folder the run reads (no output may
  lie in it).
validation: where training finds validation data when none is given
  (`splits.training_sources`): 'test split' (the dataset's own), 'held
  out' (a seeded share of the items), 'beside' (TF-Slim's validation-*
  files next to train-*) or None.
"""

# Every kind of source, one entry each.
KINDS = {
    #          reads  array  per    data-  by     pixels path   validation
    #          files  items  image  set    file          input
    'folder': SourceKind(True, False, True, False, False, False, True,
                         'held out'),
    'files': SourceKind(True, False, True, False, False, False, False, None),
    'arrays': SourceKind(False, True, True, False, False, True, False, None),
    'idx': SourceKind(False, True, True, True, False, True, True, 'held out'),
    'cifar10': SourceKind(False, False, False, True, True, True, True,
                          'test split'),
    'tfrecord': SourceKind(False, False, False, True, True, False, True,
                           'beside'),
    'webdataset': SourceKind(False, False, False, False, True, False, False,
                             None),
}


def kind_of(source):
  """The `SourceKind` of a source."""
  return KINDS[source.kind]


def _labelled_items(source):
  """Whether a source's items and labels go one to one (class folders,
  arrays, IDX): what splitting and relabelling by item need."""
  return kind_of(source).item_per_image and source.labels is not None


Source.__doc__ = """Where images come from.

kind: 'folder' (items: image paths, labels: class indices), 'files' (items:
  image paths, labels None), 'tfrecord' (items: record files; labels are in
  the records), 'cifar10' (items: batch files), 'idx' (path: the IDX
  images file, items: record indices into it, labels: [N]), 'arrays'
  (items: uint8 images [N, H, W, 3] in memory, labels: [N]; for data
  already in numpy) or 'webdataset' (items: img2dataset-style tar files;
  labels are in them). What each kind is: `KINDS`.
path: what the user named.
class_names: list of names, or None where the source does not say.
"""


def visible_names(names):
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
    dirs[:] = visible_names(dirs)
    found.extend(os.path.join(root, n) for n in visible_names(names))
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
  classes = [d for d in visible_names(os.listdir(directory))
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


def split_source(source, fraction=0.1, seed=0):
  """Holds out a seeded, per-class `fraction` of a folder, arrays or IDX
  source.

  Returns:
    (train source, validation source).

  Raises:
    ValueError: for sources that cannot be split by file (give a validation
      set), or a class too small to leave an image on each side.
  """
  if not _labelled_items(source):
    raise ValueError('Only class folders are split automatically; give '
                     'validation data for %s (%s).' % (source.path,
                                                       source.kind))
  rng = np.random.default_rng(seed)
  labels = np.asarray(source.labels)
  held = np.zeros(len(labels), bool)
  for label, name in enumerate(source.class_names):
    members = np.flatnonzero(labels == label)
    if not len(members):
      continue   # A class only another split has (IDX names every split's).
    if len(members) < 2:
      raise ValueError('Class %r has %d image(s): a validation split needs '
                       'at least 2 per class; add images or give validation '
                       'data.' % (name, len(members)))
    count = max(1, int(round(len(members) * fraction)))
    held[rng.choice(members, count, replace=False)] = True

  def part(mask):
    if kind_of(source).items_array:
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
  if not _labelled_items(source):
    raise ValueError('%s numbers its classes %s, %s %s: they must be the '
                     'same, in the same order.' % (
                         source.path, source.class_names[:10], what,
                         class_names[:10]))
  mapping = np.asarray([index[n] for n in source.class_names], np.int64)
  labels = mapping[np.asarray(source.labels, np.int64)]
  return source._replace(labels=labels if kind_of(source).items_array
                         else labels.tolist(), class_names=class_names)


def training_classes(train_source, val_source, num_classes=None,
                     labels_offset=0):
  """The classes a run trains: from the training data's names (after
  `labels_offset`, see `offset_class_names`) or `num_classes`; the
  validation data relabelled to them.

  Returns:
    (train source, val source, class names or None, num_classes).

  Raises:
    ValueError: if the count is unknown or disagrees with the names.
  """
  train_source = offset_class_names(train_source, labels_offset)
  class_names = train_source.class_names
  num_classes = num_classes or (len(class_names) if class_names else None)
  if not num_classes:
    raise ValueError('%s does not name its classes: give `num_classes`, '
                     'or put TF-Slim\'s labels.txt beside '
                     'the records.' % train_source.path)
  if class_names and len(class_names) != num_classes:
    if len(class_names) > num_classes:
      raise ValueError('%s names %d classes, but num_classes is %d.' % (
          train_source.path, len(class_names), num_classes))
    class_names = class_names + [str(i) for i in range(len(class_names),
                                                       num_classes)]
  if val_source is not None:
    val_source = relabel(offset_class_names(val_source, labels_offset),
                         class_names,
                         'the training data %s' % train_source.path)
  return train_source, val_source, class_names, num_classes
