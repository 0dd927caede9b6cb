"""Training data on disk: CIFAR-10 python batches, or class-per-folder images.

Every check runs before a graph is built, and a problem is reported with the
file and what was expected.
"""

import collections
import os

import numpy as np

from resnet_v2 import inputs

CIFAR10_DEFAULT_DIR = os.path.join(os.path.expanduser('~'), '.keras',
                                   'datasets', 'cifar-10-batches-py')
CIFAR10_TRAIN_FILES = list(inputs.CIFAR10_TRAIN_FILES)
CIFAR10_TEST_FILE = inputs.CIFAR10_TEST_FILE

Dataset = collections.namedtuple(
    'Dataset', ['train_images', 'train_labels', 'test_images', 'test_labels',
                'class_names'])
Dataset.__doc__ = """uint8 images [N, H, W, 3] and int64 labels [N]."""


_read_cifar_batch = inputs.read_cifar_batch


def load_cifar10(directory=CIFAR10_DEFAULT_DIR):
  """Loads the standard `cifar-10-batches-py` folder.

  Raises:
    ValueError: naming the missing or malformed file.
  """
  if not os.path.isdir(directory):
    raise ValueError('CIFAR-10 folder %s does not exist. Unpack '
                     'cifar-10-python.tar.gz there (it holds data_batch_1..5 '
                     'and test_batch), or point --data at a folder of class '
                     'subfolders.' % directory)
  missing = [f for f in CIFAR10_TRAIN_FILES + [CIFAR10_TEST_FILE]
             if not os.path.isfile(os.path.join(directory, f))]
  if missing:
    raise ValueError('CIFAR-10 folder %s lacks %s.' % (directory, missing))
  parts = [_read_cifar_batch(os.path.join(directory, f))
           for f in CIFAR10_TRAIN_FILES]
  test_images, test_labels = _read_cifar_batch(
      os.path.join(directory, CIFAR10_TEST_FILE))
  names = list(inputs.CIFAR10_CLASSES)
  return Dataset(np.concatenate([p[0] for p in parts]),
                 np.concatenate([p[1] for p in parts]), test_images,
                 test_labels, names)


def _decode_and_resize(path, image_size):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from resnet_v2 import preprocessing  # pylint: disable=g-import-not-at-top
  image = preprocessing.read_image(path)
  image = tf.image.resize(image, [image_size, image_size], method='area')
  return np.clip(np.round(image.numpy()), 0, 255).astype(np.uint8)


def load_image_folder(directory, image_size=32, test_fraction=0.1, seed=0):
  """Loads class subfolders of images, resized, split into train and test.

  Raises:
    ValueError: if the folder is missing, has fewer than two class folders,
      a class without readable images, or unreadable files (all listed).
  """
  if not os.path.isdir(directory):
    raise ValueError('Image folder %s does not exist.' % directory)
  classes = sorted(d for d in os.listdir(directory)
                   if os.path.isdir(os.path.join(directory, d)) and
                   not d.startswith('.'))
  if len(classes) < 2:
    raise ValueError('%s must hold one subfolder per class (at least two), '
                     'found %s.' % (directory, classes))
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  images, labels, unreadable, empty = [], [], [], []
  for label, name in enumerate(classes):
    folder = os.path.join(directory, name)
    files = sorted(f for f in os.listdir(folder) if not f.startswith('.'))
    count = 0
    for file_name in files:
      path = os.path.join(folder, file_name)
      try:
        images.append(_decode_and_resize(path, image_size))
      except tf.errors.OpError:
        unreadable.append(path)
        continue
      labels.append(label)
      count += 1
    if not count:
      empty.append(name)
  if empty or unreadable:
    raise ValueError('%s is not a clean image folder: %s%s' % (
        directory,
        'classes without readable images: %s. ' % empty if empty else '',
        'unreadable files: %s' % unreadable if unreadable else ''))
  images, labels = np.stack(images), np.asarray(labels, np.int64)
  order = np.random.default_rng(seed).permutation(len(labels))
  test = max(1, int(round(len(labels) * test_fraction)))
  return Dataset(images[order[test:]], labels[order[test:]],
                 images[order[:test]], labels[order[:test]], classes)
