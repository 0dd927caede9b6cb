"""IDX (MNIST-format) files as a source: parsed, paired, streamed, refused."""

import gzip
import os

import numpy as np
import pytest

from resnet_v2.data import idx
from resnet_v2.data import inputs
from resnet_v2.data import sources

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def write_idx(path, array, compress=None, cut=0):
  """Writes uint8 `array` as IDX (gzipped if the name ends in .gz); `cut`
  drops that many bytes from the end."""
  array = np.asarray(array, np.uint8)
  data = (bytes([0, 0, 8, array.ndim]) +
          np.asarray(array.shape, '>u4').tobytes() + array.tobytes())
  data = data[:len(data) - cut]
  compress = str(path).endswith('.gz') if compress is None else compress
  with (gzip.open if compress else open)(path, 'wb') as handle:
    handle.write(data)


def write_split(folder, prefix, count, seed, classes=10, gz=True, size=6):
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (count, size, size), np.uint8)
  labels = np.arange(count) % classes
  suffix = '.gz' if gz else ''
  write_idx(folder / ('%s-images-idx3-ubyte%s' % (prefix, suffix)), images)
  write_idx(folder / ('%s-labels-idx1-ubyte%s' % (prefix, suffix)), labels)
  return images, labels


@pytest.fixture
def idx_folder(tmp_path):
  folder = tmp_path / 'fashion'
  folder.mkdir()
  train = write_split(folder, 'train', 40, 0, classes=4)
  test = write_split(folder, 't10k', 12, 1, classes=5, gz=False)
  return folder, train, test


def streamed(source, **kwargs):
  images, labels, names = [], [], []
  for batch in inputs.make_dataset(source, 'cifar', 6, 8, **kwargs):
    images.append(batch[0].numpy())
    labels.append(batch[1].numpy())
    names.extend(n.decode() for n in batch[2].numpy())
  return np.concatenate(images), np.concatenate(labels), names


def test_both_splits_stream_their_pixels_and_labels_gzipped_or_not(
    idx_folder):
  folder, (train_images, train_labels), (test_images, test_labels) = (
      idx_folder)
  for split, images, labels in (('train', train_images, train_labels),
                                ('test', test_images, test_labels)):
    source = inputs.open_source(str(folder), split)
    assert source.kind == 'idx' and inputs.count_examples(source) == len(
        labels)
    # The classes of every split: train has 4, test 5, both say 5.
    assert source.class_names == ['0', '1', '2', '3', '4']
    got, got_labels, names = streamed(source)
    np.testing.assert_array_equal(got_labels, labels)
    # Gray repeated to three channels, scaled to [0, 1] by the preprocessing.
    for channel in range(3):
      np.testing.assert_allclose(got[..., channel], images / 255.0, atol=1e-6)
    assert names[3] == '%s[3]' % source.path


def test_training_order_is_a_seeded_permutation_of_every_record(idx_folder):
  folder, (images, labels), _ = idx_folder
  source = inputs.open_source(str(folder))
  first, first_labels, names = streamed(source, training=True, augment=False,
                                        seed=3, epoch=1)
  again = streamed(source, training=True, augment=False, seed=3, epoch=1)
  other = streamed(source, training=True, augment=False, seed=3, epoch=2)
  np.testing.assert_array_equal(first, again[0])
  assert names != other[2]
  # 40 records, batches of 8: every record once, in a shuffled order.
  order = [int(n.rsplit('[', 1)[1][:-1]) for n in names]
  assert sorted(order) == list(range(40)) and order != sorted(order)
  np.testing.assert_array_equal(first_labels, labels[order])
  np.testing.assert_allclose(first[..., 0], images[order] / 255.0, atol=1e-6)


def test_held_out_validation_is_per_class_and_disjoint(idx_folder):
  folder, (_, labels), _ = idx_folder
  train, val = sources.split_source(inputs.open_source(str(folder)), 0.25)
  assert train.kind == val.kind == 'idx'
  assert not set(train.items) & set(val.items)
  assert len(train.items) + len(val.items) == len(labels)
  # 10 records of each of 4 classes; a quarter of each, rounded: 2 (or 3).
  assert all(count in (2, 3) for count in np.bincount(val.labels, minlength=4))
  np.testing.assert_array_equal(labels[val.items], val.labels)


def test_a_truncated_file_is_named(idx_folder):
  folder, _, _ = idx_folder
  write_idx(folder / 'train-images-idx3-ubyte.gz',
            np.zeros([40, 6, 6]), cut=7)
  with pytest.raises(ValueError, match='train-images-idx3-ubyte.gz is '
                     'truncated: its header declares 40x6x6'):
    inputs.open_source(str(folder))


def test_a_file_longer_than_its_header_is_named(idx_folder):
  folder, _, _ = idx_folder
  path = folder / 't10k-labels-idx1-ubyte'
  path.write_bytes(path.read_bytes() + b'\0')
  with pytest.raises(ValueError, match='t10k-labels-idx1-ubyte is longer'):
    inputs.open_source(str(folder), 'test')


def test_a_mismatched_pair_names_both_files(idx_folder):
  folder, _, _ = idx_folder
  write_idx(folder / 'train-labels-idx1-ubyte.gz', np.zeros([39]))
  with pytest.raises(ValueError, match=r'train-images-idx3-ubyte.gz holds 40 '
                     r'images but .*train-labels-idx1-ubyte.gz holds 39 '
                     r'labels'):
    inputs.open_source(str(folder))


@pytest.mark.parametrize('content, message', [
    (b'\x89PNG\r\n\x1a\n' + bytes(40), 'is not an IDX file of unsigned bytes'),
    (bytes([0, 0, 8, 3, 0, 0]), 'is truncated inside its header'),
    (bytes([0, 0, 0x0d, 3]) + bytes(12), 'is not an IDX file'),
])
def test_a_file_that_is_not_idx_is_named(idx_folder, content, message):
  folder, _, _ = idx_folder
  path = folder / 't10k-images-idx3-ubyte'
  path.write_bytes(content)
  with pytest.raises(ValueError, match='t10k-images-idx3-ubyte ' + message):
    inputs.open_source(str(folder), 'test')


def test_a_corrupt_gzip_is_named(idx_folder):
  folder, _, _ = idx_folder
  path = folder / 'train-images-idx3-ubyte.gz'
  path.write_bytes(path.read_bytes()[:30])
  with pytest.raises(ValueError, match='train-images-idx3-ubyte.gz cannot '
                     'be read'):
    inputs.open_source(str(folder))


def test_a_missing_half_of_the_pair_is_named(idx_folder):
  folder, _, _ = idx_folder
  os.remove(folder / 't10k-labels-idx1-ubyte')
  with pytest.raises(ValueError, match='lacks t10k-images-idx3-ubyte'):
    inputs.open_source(str(folder), 'test')


def test_the_dotted_spelling_of_the_names_is_found(tmp_path):
  folder = tmp_path / 'mnist'
  folder.mkdir()
  images = np.arange(2 * 4 * 4).reshape(2, 4, 4)
  write_idx(folder / 'train-images.idx3-ubyte', images)
  write_idx(folder / 'train-labels.idx1-ubyte', [1, 0])
  source = inputs.open_source(str(folder))
  assert idx.image_size(source) == (4, 4) and list(source.labels) == [1, 0]
  assert source.class_names == ['0', '1']
