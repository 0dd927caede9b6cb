"""Sources held in memory: read once, cut into whole batches, and
preprocessed as batches exactly as `cifar_preprocess` does image by image."""


import numpy as np
import pytest
import tensorflow as tf

from resnet_v2.data import in_memory
from resnet_v2.data import inputs
from resnet_v2.data import preprocessing
from resnet_v2.data import sources
from tests import test_idx

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def arrays(count=20, size=8, seed=0):
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (count, size, size, 3), np.uint8)
  labels = np.arange(count) % 3
  return sources.arrays_source(images, labels, ['a', 'b', 'c'], 'mine')


def test_evaluation_batches_equal_the_image_by_image_preprocessing():
  source = arrays()
  mean = np.random.default_rng(1).uniform(0, 1, (8, 8, 3)).astype(np.float32)
  batches = list(inputs.make_dataset(source, 'cifar', 8, 6,
                                     pixel_mean=mean))
  assert [len(b[0]) for b in batches] == [6, 6, 6, 2]
  images = np.concatenate([b[0].numpy() for b in batches])
  for image, original in zip(images, source.items):
    expected = preprocessing.cifar_preprocess(original, 8, 8).numpy() - mean
    np.testing.assert_allclose(image, expected, atol=1e-6)
  names = np.concatenate([b[2].numpy() for b in batches])
  assert names[3] == b'mine[3]'
  np.testing.assert_array_equal(
      np.concatenate([b[1].numpy() for b in batches]), source.labels)


def test_training_batches_are_padded_crops_and_flips_of_their_images():
  source = arrays(count=16)
  data = inputs.make_dataset(source, 'cifar', 8, 8, training=True, seed=2)
  seen = set()
  for images, labels, names in data:
    assert images.shape == (8, 8, 8, 3)       # whole batches only
    for image, name in zip(images.numpy(), names.numpy()):
      index = int(name.decode().split('[')[1][:-1])
      seen.add(index)
      padded = np.pad(source.items[index] / 255.0, [[4, 4], [4, 4], [0, 0]])
      crops = [crop for dy in range(9) for dx in range(9)
               for crop in (padded[dy:dy + 8, dx:dx + 8],
                            padded[dy:dy + 8, dx:dx + 8][:, ::-1])]
      assert min(np.abs(crop - image).max() for crop in crops) < 1e-6
  assert seen == set(range(16))
  # (seed, epoch) fix order and crops; another epoch differs.
  again = [b[0].numpy() for b in inputs.make_dataset(
      source, 'cifar', 8, 8, training=True, seed=2)]
  first = [b[0].numpy() for b in data]
  np.testing.assert_array_equal(again, first)
  other = [b[0].numpy() for b in inputs.make_dataset(
      source, 'cifar', 8, 8, training=True, seed=2, epoch=1)]
  assert not np.array_equal(other, first)
  # A resumed epoch gives the batches after the ones done.
  resumed = [b[0].numpy() for b in inputs.make_dataset(
      source, 'cifar', 8, 8, training=True, seed=2, skip_batches=1)]
  np.testing.assert_array_equal(resumed, first[1:])


def test_an_idx_file_is_read_once_and_shared_by_its_splits(tmp_path,
                                                          monkeypatch):
  folder = tmp_path / 'fashion'
  folder.mkdir()
  images, labels = test_idx.write_split(folder, 'train', 30, 0, classes=3)
  source = inputs.open_source(str(folder))
  reads = []
  read_array = in_memory.idx.read_array
  monkeypatch.setattr(in_memory.idx, 'read_array',
                      lambda path: reads.append(path) or read_array(path))
  monkeypatch.setattr(in_memory, '_kept', type(in_memory._kept)())
  train, val = sources.split_source(source, 0.2, seed=0)
  got = {}
  for part in (train, val, train):
    for batch, batch_labels, names in inputs.make_dataset(part, 'cifar', 6,
                                                          4):
      for image, label, name in zip(batch.numpy(), batch_labels.numpy(),
                                    names.numpy()):
        got[int(name.decode().rsplit('[', 1)[1][:-1])] = (image, label)
  assert len(reads) == 1
  assert sorted(got) == list(range(30))
  for index, (image, label) in got.items():
    # Gray repeated to three channels, scaled to [0, 1].
    np.testing.assert_allclose(image, np.repeat(
        images[index][..., None] / 255.0, 3, -1), atol=1e-6)
    assert label == labels[index]


def test_a_label_outside_the_classes_names_the_image():
  source = arrays(count=6)._replace(labels=np.array([0, 1, 2, 7, 0, 1]))
  with pytest.raises(tf.errors.InvalidArgumentError, match=r'mine\[3\]'):
    list(inputs.make_dataset(source, 'cifar', 8, 6, num_classes=3))
