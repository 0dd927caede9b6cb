"""The input pipeline: sources, streaming batches, bad files, exact order."""

import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2.data import inputs

from resnet_v2.data import tfrecords

from resnet_v2.data import sources

from resnet_v2.data import cifar10

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def write_image(path, pixels, fmt=None):
  path.parent.mkdir(parents=True, exist_ok=True)
  fmt = fmt or path.suffix.lstrip('.')
  if fmt == 'png':
    data = tf.io.encode_png(pixels).numpy()
  elif fmt in ('jpg', 'jpeg'):
    data = tf.io.encode_jpeg(pixels).numpy()
  else:
    raise ValueError(fmt)
  path.write_bytes(data)


@pytest.fixture
def folder(tmp_path):
  rng = np.random.default_rng(0)
  root = tmp_path / 'data'
  for name in ('cat', 'dog'):
    for index in range(5):
      size = (20 + index, 30, 3)   # mixed sizes
      write_image(root / name / ('%d.png' % index),
                  rng.integers(0, 255, size, np.uint8))
  return root


def batches(dataset):
  return [tuple(part.numpy() for part in batch) for batch in dataset]


def test_folder_source_lists_classes_and_files(folder):
  source = inputs.open_source(str(folder))
  assert source.kind == 'folder' and source.class_names == ['cat', 'dog']
  assert source.labels == [0] * 5 + [1] * 5
  assert source.items[0].endswith(os.path.join('cat', '0.png'))


def test_batches_are_preprocessed_labelled_and_named(folder):
  source = inputs.open_source(str(folder))
  out = batches(inputs.make_dataset(source, 'inception', 16, 4))
  assert [len(b[0]) for b in out] == [4, 4, 2]   # eval keeps the remainder
  images = np.concatenate([b[0] for b in out])
  assert images.shape == (10, 16, 16, 3) and images.dtype == np.float32
  assert -1.0 <= images.min() and images.max() <= 1.0
  names = [n.decode() for b in out for n in b[2]]
  assert names == source.items   # evaluation keeps the file order
  assert np.concatenate([b[1] for b in out]).tolist() == source.labels


def test_inference_pipelines_run_without_tf_data_autotuning(folder):
  """Autotuning's optimizing thread took the net's cores in `features`,
  and deleting a finished iterator could wait 15-25 s for it to wake;
  inference pipelines run without it, and their output is unchanged."""
  source = inputs.open_source(str(folder))
  inference = inputs.make_dataset(source, 'inception', 16, 4)
  assert inference.options().autotune.enabled is False
  training = inputs.make_dataset(source, 'inception', 16, 4, training=True)
  assert training.options().autotune.enabled is not False
  tuned = inference.with_options(_autotune_on())
  assert tuned.options().autotune.enabled is True
  for ours, theirs in zip(batches(inference), batches(tuned)):
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[2].tolist() == theirs[2].tolist()


def _autotune_on():
  options = tf.data.Options()
  options.autotune.enabled = True
  return options


def test_training_order_is_fixed_by_seed_and_epoch_and_resumes_exactly(
    folder):
  source = inputs.open_source(str(folder))

  def run(**kwargs):
    return batches(inputs.make_dataset(source, 'cifar', 8, 3, training=True,
                                       **kwargs))
  first = run(seed=1, epoch=0)
  assert len(first) == 3   # training drops the partial batch
  again = run(seed=1, epoch=0)
  for a, b in zip(first, again):
    np.testing.assert_array_equal(a[0], b[0])
  other_epoch = run(seed=1, epoch=1)
  assert [b[2].tolist() for b in other_epoch] != [b[2].tolist()
                                                  for b in first]
  resumed = run(seed=1, epoch=0, skip_batches=2)
  assert len(resumed) == 1
  np.testing.assert_array_equal(resumed[0][0], first[2][0])
  assert resumed[0][2].tolist() == first[2][2].tolist()


def test_bad_files_are_skipped_and_named(folder):
  (folder / 'cat' / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
  (folder / 'dog' / 'notes.txt').write_text('not an image')
  source = inputs.open_source(str(folder))
  skipped = inputs.SkippedFiles()
  out = batches(inputs.make_dataset(source, 'inception', 8, 4,
                                    training=True, skipped=skipped))
  assert sum(len(b[0]) for b in out) == 8   # 10 good images, 2 full batches
  named = sorted(os.path.basename(path) for path, _ in skipped.items())
  assert named == ['broken.png', 'notes.txt']
  assert all(reason for _, reason in skipped.items())


def test_image_modes_all_decode(tmp_path):
  rng = np.random.default_rng(0)
  gray = rng.integers(0, 255, (9, 7, 1), np.uint8)
  rgba = rng.integers(0, 255, (9, 7, 4), np.uint8)
  deep = rng.integers(0, 65535, (9, 7, 3), np.uint16)
  write_image(tmp_path / 'gray.png', gray)
  write_image(tmp_path / 'rgba.png', rgba)
  (tmp_path / 'deep.png').write_bytes(tf.io.encode_png(deep).numpy())
  write_image(tmp_path / 'gray.jpg', gray)
  source = sources.files_source([str(tmp_path)])
  skipped = inputs.SkippedFiles()
  out = batches(inputs.make_dataset(source, 'inception', 8, 8,
                                    skipped=skipped))
  assert not skipped.items()
  assert out[0][0].shape == (4, 8, 8, 3)


def test_label_outside_the_classes_stops_naming_the_file(folder):
  source = inputs.open_source(str(folder))
  with pytest.raises(tf.errors.InvalidArgumentError, match='dog'):
    batches(inputs.make_dataset(source, 'inception', 8, 4, num_classes=1))


def write_tfrecord(path, images_and_labels, keys=('image/encoded',
                                                   'image/class/label')):
  with tf.io.TFRecordWriter(str(path)) as writer:
    for pixels, label in images_and_labels:
      feature = {}
      if 'image/encoded' in keys:
        feature['image/encoded'] = tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[tf.io.encode_jpeg(pixels).numpy()]))
      if 'image/class/label' in keys:
        feature['image/class/label'] = tf.train.Feature(
            int64_list=tf.train.Int64List(value=[label]))
      writer.write(tf.train.Example(features=tf.train.Features(
          feature=feature)).SerializeToString())


def test_tfrecords_in_slim_format_stream_with_their_labels(tmp_path):
  rng = np.random.default_rng(0)
  for shard in range(2):
    write_tfrecord(tmp_path / ('train-%05d-of-00002' % shard),
                   [(rng.integers(0, 255, (12, 10, 3), np.uint8), 1 + i)
                    for i in range(3)])
  source = inputs.open_source(str(tmp_path / 'train-*'))
  assert source.kind == 'tfrecord' and len(source.items) == 2
  out = batches(inputs.make_dataset(source, 'inception', 8, 6,
                                    labels_offset=1, num_classes=3))
  assert sorted(out[0][1].tolist()) == [0, 0, 1, 1, 2, 2]
  # Each record is named by its file and number.
  assert out[0][2][0].decode().endswith('train-00000-of-00002[0]')


def test_tfrecords_without_the_keys_are_refused_naming_the_file(tmp_path):
  write_tfrecord(tmp_path / 'bad.tfrecord',
                 [(np.zeros((4, 4, 3), np.uint8), 1)],
                 keys=('image/encoded',))
  with pytest.raises(ValueError, match=r"bad.tfrecord: records lack "
                     r"\['image/class/label'\]"):
    inputs.open_source(str(tmp_path / 'bad.tfrecord'))


def test_cifar_batches_stream(tmp_path):
  folder = tmp_path / 'cifar'
  folder.mkdir()
  rng = np.random.default_rng(0)
  for name in cifar10.CIFAR10_TRAIN_FILES + (cifar10.CIFAR10_TEST_FILE,):
    with open(folder / name, 'wb') as handle:
      pickle.dump({b'data': rng.integers(0, 255, (4, 3072), np.uint8),
                   b'labels': list(range(4))}, handle)
  source = inputs.open_source(str(folder))
  assert source.kind == 'cifar10' and len(source.items) == 5
  out = batches(inputs.make_dataset(source, 'cifar', 32, 10, training=True))
  assert len(out) == 2 and out[0][0].shape == (10, 32, 32, 3)
  test = inputs.open_source(str(folder), split='test')
  assert len(test.items) == 1


@pytest.mark.parametrize('make, message', [
    (lambda root: None, 'does not exist'),
    (lambda root: root.mkdir(), 'neither class folders'),
    (lambda root: (root / 'only').mkdir(parents=True), 'at least two'),
    (lambda root: [(root / n).mkdir(parents=True) for n in 'ab'],
     'Class folders without files'),
])
def test_bad_sources_are_refused_before_anything_runs(tmp_path, make,
                                                      message):
  root = tmp_path / 'root'
  make(root)
  with pytest.raises(ValueError, match=message):
    inputs.open_source(str(root))


def test_validation_split_is_seeded_and_per_class(folder):
  source = inputs.open_source(str(folder))
  train, val = sources.split_source(source, 0.2, seed=3)
  assert sorted(val.labels) == [0, 1]
  assert set(train.items).isdisjoint(val.items)
  assert len(train.items) + len(val.items) == 10
  assert sources.split_source(source, 0.2, seed=3)[1].items == val.items


def test_pixel_mean_reads_a_bounded_seeded_sample(folder):
  source = inputs.open_source(str(folder))
  everything = inputs.pixel_mean(source, 'cifar', 8)
  assert everything.shape == (8, 8, 3)
  sample = inputs.pixel_mean(source, 'cifar', 8, max_images=4, batch_size=2)
  assert not np.allclose(sample, everything)
  np.testing.assert_array_equal(
      sample, inputs.pixel_mean(source, 'cifar', 8, max_images=4,
                                batch_size=2))
  images = np.concatenate([b[0] for b in batches(inputs.make_dataset(
      source, 'cifar', 8, 10))])
  np.testing.assert_allclose(everything, images.mean(0), atol=1e-5)


def test_training_without_augmentation_still_shuffles_and_drops(folder):
  source = inputs.open_source(str(folder))
  plain = batches(inputs.make_dataset(source, 'cifar', 8, 3, training=True,
                                      augment=False))
  assert len(plain) == 3   # 10 images: the partial batch is dropped
  names = [n.decode() for b in plain for n in b[2]]
  assert names != sorted(names)   # shuffled
  evaluation = batches(inputs.make_dataset(source, 'cifar', 8, 10))
  by_name = dict(zip([n.decode() for n in evaluation[0][2]],
                     evaluation[0][0]))
  for image, name in zip(plain[0][0], plain[0][2]):
    np.testing.assert_array_equal(image, by_name[name.decode()])


# -- data is data ------------------------------------------------------------

class _RunsCode:
  def __reduce__(self):
    return (os.system, ('touch RAN',))


def test_a_cifar_batch_that_asks_to_run_code_is_refused_and_not_run(
    tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  folder = tmp_path / 'cifar'
  folder.mkdir()
  for name in cifar10.CIFAR10_TRAIN_FILES:
    with open(folder / name, 'wb') as handle:
      pickle.dump({b'data': np.zeros((2, 3072), np.uint8),
                   b'labels': [0, 1], b'x': _RunsCode()}, handle)
  with pytest.raises(ValueError, match=r'data_batch_1 is not a readable '
                     r'CIFAR-10 python batch: it asks to run posix\.system'):
    cifar10.read_cifar_batch(str(folder / 'data_batch_1'))
  with pytest.raises(ValueError, match='asks to run'):
    inputs.count_examples(inputs.open_source(str(folder)))
  assert not (tmp_path / 'RAN').exists()


def test_a_real_cifar_batch_layout_still_reads(tmp_path):
  """CIFAR-10's files were pickled by Python 2 with numpy arrays inside
  (protocol 2): the restricted unpickler rebuilds them."""
  data = np.arange(2 * 3072, dtype=np.int64).reshape(2, 3072) % 256
  path = tmp_path / 'data_batch_1'
  with open(path, 'wb') as handle:
    pickle.dump({b'batch_label': b'training batch 1 of 5',
                 b'labels': [3, 7], b'data': data.astype(np.uint8),
                 b'filenames': [b'a.png', b'b.png']}, handle, protocol=2)
  images, labels = cifar10.read_cifar_batch(str(path))
  assert labels.tolist() == [3, 7]
  assert images.shape == (2, 32, 32, 3) and images[0, 0, 0, 0] == 0


# -- every file that cannot be read is skipped and named -----------------------

def test_unreadable_files_of_every_kind_are_skipped_and_named(folder):
  good = len(sources.folder_source(str(folder)).items)
  (folder / 'cat' / 'dangling.png').symlink_to(folder / 'nowhere.png')
  odd = os.fsencode(str(folder / 'dog')) + b'/caf\xe9.png'   # not UTF-8
  with open(odd, 'wb') as out:
    out.write(b'not an image')
  source = inputs.open_source(str(folder))
  (folder / 'cat' / '3.png').unlink()       # deleted after listing
  skipped = inputs.SkippedFiles()
  out = batches(inputs.make_dataset(source, 'cifar', 8, 64,
                                    skipped=skipped))
  assert sum(len(b[1]) for b in out) == good - 1
  reasons = dict(skipped.items())
  assert 'No such file or directory' in reasons[str(folder / 'cat' /
                                                    'dangling.png')]
  assert 'No such file or directory' in reasons[str(folder / 'cat' /
                                                    '3.png')]
  assert str(folder / 'dog' / 'caf\\xe9.png') in reasons


def test_failures_anywhere_in_a_decode_chunk_are_named_and_the_rest_kept_in_order(
    tmp_path):
  # Images decode DECODE_CHUNK at a time; failures at a chunk's first and
  # last place, runs across a chunk boundary, a whole chunk and the very
  # last file: each named with its reason, the others in their order.
  chunk = inputs.DECODE_CHUNK
  broken = {0, chunk - 1, chunk, chunk + 1, 3 * chunk + 4} | set(
      range(2 * chunk, 3 * chunk))
  count = 4 * chunk
  broken.add(count - 1)
  rng = np.random.default_rng(0)
  for index in range(count):
    path = tmp_path / 'data' / ('%03d.png' % index)
    if index in broken:
      path.parent.mkdir(parents=True, exist_ok=True)
      path.write_bytes(b'not an image %d' % index)
    else:
      write_image(path, rng.integers(0, 255, (6, 5, 3), np.uint8))
  skipped = inputs.SkippedFiles()
  source = sources.files_source([str(tmp_path / 'data')])
  out = batches(inputs.make_dataset(source, 'cifar', 8, 10,
                                    skipped=skipped))
  names = [os.path.basename(name.decode()) for b in out for name in b[2]]
  assert names == ['%03d.png' % i for i in range(count) if i not in broken]
  reasons = dict(skipped.items())
  assert sorted(os.path.basename(name) for name in reasons) == [
      '%03d.png' % i for i in sorted(broken)]
  assert all(reasons.values()), reasons


def test_symlinked_class_folders_are_followed_once(tmp_path, folder):
  other = tmp_path / 'elsewhere' / 'bird'
  write_image(other / '0.png', np.zeros((8, 8, 3), np.uint8))
  (folder / 'bird').symlink_to(other)
  (other / 'loop').symlink_to(other)             # a link back: not a loop
  source = sources.folder_source(str(folder))
  assert source.class_names == ['bird', 'cat', 'dog']
  assert [p for p in source.items if '/bird/' in p] == [
      str(folder / 'bird' / '0.png')]


def test_images_over_the_pixel_limit_are_skipped_undecoded(tmp_path):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  root = tmp_path / 'data'
  write_image(root / 'a' / 'small.png', np.zeros((4, 4, 3), np.uint8))
  write_image(root / 'a' / 'big.jpg', np.zeros((20, 30, 3), np.uint8))
  write_image(root / 'b' / 'big.png', np.zeros((30, 20, 3), np.uint8))
  Image.new('RGB', (25, 25)).save(root / 'b' / 'big.gif')
  Image.new('RGB', (25, 25)).save(root / 'b' / 'big.bmp')
  Image.new('RGB', (3, 3)).save(root / 'b' / 'small.bmp')
  skipped = inputs.SkippedFiles()
  out = batches(inputs.make_dataset(inputs.open_source(str(root)), 'cifar',
                                    8, 16, skipped=skipped, max_pixels=100))
  names = sorted(os.path.basename(n.decode()) for b in out for n in b[2])
  assert names == ['small.bmp', 'small.png']
  reasons = dict(skipped.items())
  assert len(reasons) == 4
  assert all('larger than the 100-pixel limit' in r for r in reasons.values())


# -- TF-Slim's dataset conventions ---------------------------------------------

def test_slim_layout_names_classes_and_finds_the_validation_split(tmp_path):
  rng = np.random.default_rng(0)
  for split in ('train', 'validation'):
    write_tfrecord(tmp_path / ('%s-00000-of-00001' % split),
                   [(rng.integers(0, 255, (8, 8, 3), np.uint8), i % 3)
                    for i in range(6)])
  (tmp_path / 'labels.txt').write_text('0:cat\n1:dog\n2:emu\n')
  train = inputs.open_source(str(tmp_path / 'train-*'))
  assert train.class_names == ['cat', 'dog', 'emu']
  val = tfrecords.validation_beside(train)
  assert [os.path.basename(f) for f in val.items] == [
      'validation-00000-of-00001']
  # A folder of both splits: each split reads its own files.
  assert [os.path.basename(f) for f in inputs.open_source(
      str(tmp_path)).items] == ['train-00000-of-00001']
  assert [os.path.basename(f) for f in inputs.open_source(
      str(tmp_path), split='test').items] == ['validation-00000-of-00001']
  assert sources.offset_class_names(train, 1).class_names == ['dog', 'emu']
  (tmp_path / 'labels.txt').write_text('zero cat\n')
  with pytest.raises(ValueError, match=r'labels.txt line 1 is not '
                     r'LABEL:NAME'):
    inputs.open_source(str(tmp_path / 'train-*'))


def test_class_texts_in_the_records_name_the_classes(tmp_path):
  path = tmp_path / 'train-00000-of-00001'
  with tf.io.TFRecordWriter(str(path)) as writer:
    for label, text in [(1, b'tench'), (0, b'background'), (1, b'tench')]:
      feature = {
          'image/encoded': tf.train.Feature(bytes_list=tf.train.BytesList(
              value=[tf.io.encode_png(np.zeros((4, 4, 3), np.uint8))
                     .numpy()])),
          'image/class/label': tf.train.Feature(
              int64_list=tf.train.Int64List(value=[label])),
          'image/class/text': tf.train.Feature(
              bytes_list=tf.train.BytesList(value=[text]))}
      writer.write(tf.train.Example(features=tf.train.Features(
          feature=feature)).SerializeToString())
  source = inputs.open_source(str(path))
  assert source.class_names == ['background', 'tench']
  assert inputs.count_examples(source) == 3
  assert tfrecords.validation_beside(source) is None


# -- labels by name -------------------------------------------------------------

def test_relabel_scores_a_subset_under_the_models_labels(folder):
  source = sources.folder_source(str(folder))          # cat, dog
  model_classes = ['ant', 'cat', 'dog']
  relabelled = sources.relabel(source, model_classes)
  assert relabelled.class_names == model_classes
  assert sorted(set(relabelled.labels)) == [1, 2]
  with pytest.raises(ValueError, match=r"classes that the model does not "
                     r"know: \['dog'\]"):
    sources.relabel(source, ['cat', 'emu'])


def test_an_iteration_left_open_until_exit_does_not_hold_the_exit():
  """A run that fails mid-epoch leaves `iterate`'s generator open until the
  interpreter's exit; closing it then must not start a thread (one started
  during finalization never runs, and the start would wait forever: a
  multi-worker worker hung this way after its error line)."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  program = '\n'.join([
      'import tensorflow as tf',
      'from resnet_v2.data import inputs',
      'left_open = inputs.iterate(tf.data.Dataset.range(10))',
      'assert next(left_open) == 0'])
  done = subprocess.run([sys.executable, '-c', program], timeout=120,
                        capture_output=True, check=False)
  assert done.returncode == 0, done.stderr.decode()[-2000:]

