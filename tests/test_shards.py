"""Features folders: shards equal to the .npz, Parquet metadata, labels,
resume after a kill (in-process and kill -9 at random moments), refusals,
and the same job on a real Ray cluster with a node killed."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from nets_for_tests import seeded_checkpoint
from resnet_v2 import files
from resnet_v2.serve import features
from resnet_v2.serve import model as model_lib
from resnet_v2.serve import shards

MODEL, SIZE = 'cifar_resnet_v1_20', 32
END_POINTS = ['global_pool', 'cifar_resnet_v1_20/block2']


def _images(folder, count, broken=(3,)):
  rng = np.random.default_rng(0)
  for index in range(count):
    path = folder / ('%s/%04d.png' % ('ab'[index % 2], index))
    path.parent.mkdir(parents=True, exist_ok=True)
    if index in broken:
      path.write_bytes(b'\x89PNG\r\n\x1a\n cut short')
    else:
      path.write_bytes(tf.io.encode_png(rng.integers(
          0, 255, (36, 40, 3), np.uint8)).numpy())
  return folder


@pytest.fixture(scope='module')
def images(tmp_path_factory):
  return _images(tmp_path_factory.mktemp('images'), 37)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
  """Seeded random weights of the net (features only: no logits)."""
  return seeded_checkpoint(tmp_path_factory.mktemp('checkpoint'), MODEL)


@pytest.fixture(scope='module')
def net(checkpoint):
  return model_lib.Model.load(model=MODEL, checkpoint=checkpoint)


def _run(images, folder, net, **options):
  options = dict(dict(shard_size=8, batch_size=4), **options)
  return features.extract_to_folder([str(images)], str(folder), net,
                                    END_POINTS, **options)


@pytest.mark.quick
def test_shards_hold_what_the_npz_holds_with_parquet_metadata(
    images, net, tmp_path):
  import pyarrow.parquet  # pylint: disable=g-import-not-at-top
  manifest = _run(images, tmp_path / 'out', net)
  features.extract_features([str(images)], str(tmp_path / 'all.npz'), net,
                            END_POINTS, batch_size=4)
  expected = np.load(tmp_path / 'all.npz')
  assert manifest['images'] == 36 and manifest['shards'] == 5
  assert manifest['complete_shards'] == [0, 1, 2, 3, 4]
  assert manifest['shard_rows'] == [8, 8, 7, 8, 5]   # b/0003 is broken
  assert [os.path.basename(n) for n, _ in manifest['skipped_files']] == [
      '0003.png']
  assert manifest['end_points'] == {
      'global_pool': [1, 1, 64], 'cifar_resnet_v1_20/block2': [16, 16, 32]}
  for name in END_POINTS:
    np.testing.assert_allclose(shards.load(str(tmp_path / 'out'), name),
                               expected[name], rtol=1e-5, atol=1e-5)
  table = pyarrow.parquet.read_table(
      str(tmp_path / 'out' / 'metadata' / 'metadata_00002.parquet'))
  assert table.column_names == ['name', 'shard', 'row', 'label']
  names = [n for i in range(5) for n in pyarrow.parquet.read_table(
      shards.metadata_path(str(tmp_path / 'out'), i))['name'].to_pylist()]
  assert names == expected['file_names'].tolist()
  assert table['shard'].to_pylist() == [2] * 7
  assert table['row'].to_pylist() == list(range(7))
  assert table['label'].null_count == 7   # image files have no labels
  assert os.path.isfile(tmp_path / 'out' / 'cifar_resnet_v1_20_block2' /
                        'cifar_resnet_v1_20_block2_00004.npy')


@pytest.mark.quick
def test_float16_halves_the_arrays(images, net, tmp_path):
  manifest = features.extract_to_folder(
      [str(images)], str(tmp_path / 'half'), net, ['global_pool'],
      shard_size=16, batch_size=4, dtype='float16')
  array = np.load(shards.array_path(str(tmp_path / 'half'), 'global_pool', 0))
  assert array.dtype == np.float16 and manifest['dtype'] == 'float16'


@pytest.mark.quick
def test_image_files_go_through_one_pipeline_released_off_the_path(
    images, net, tmp_path, monkeypatch):
  # Building a pipeline took 0.5 s a shard (measured); files' shards share
  # one, and the end of its iteration (which waits for the iterator's
  # threads) is left to inputs.iterate's release thread.
  from resnet_v2.data import inputs  # pylint: disable=g-import-not-at-top
  from resnet_v2.serve import worker  # pylint: disable=g-import-not-at-top
  released = []
  real = inputs.iterate

  def iterate(dataset):
    released.append(dataset)
    yield from real(dataset)
  monkeypatch.setattr(worker.inputs_lib, 'iterate', iterate)
  features.extract_to_folder([str(images)], str(tmp_path / 'f'), net,
                             END_POINTS, shard_size=4, batch_size=3)
  manifest = shards.read_manifest(str(tmp_path / 'f'))
  assert len(released) == 1 and manifest['shards'] == 10


def test_files_that_do_not_read_are_named_in_their_own_shards(net, tmp_path):
  # Shards of 4 through one pipeline, batches of 3 across their edges:
  # broken files at a shard's end (3), start (4), a whole shard (8-11) and
  # the last file (13); every shard names its own and holds the others.
  broken = (3, 4, 8, 9, 10, 11, 13)
  folder = _images(tmp_path / 'images', 14, broken)
  manifest = features.extract_to_folder(
      [str(folder)], str(tmp_path / 'f'), net, ['global_pool'],
      shard_size=4, batch_size=3)
  paths = sorted(str(p) for p in folder.glob('*/*.png'))
  for index in range(4):
    own = paths[4 * index:4 * index + 4]
    with open(shards.skipped_path(str(tmp_path / 'f'), index)) as handle:
      named = [name for name, _ in json.load(handle)]
    table = pq.read_table(shards.metadata_path(str(tmp_path / 'f'), index))
    number = lambda path: int(os.path.basename(path)[:4])
    assert named == [p for p in own if number(p) in broken]
    assert table['name'].to_pylist() == [p for p in own
                                         if number(p) not in broken]
  assert len(manifest['skipped_files']) == len(broken)
  kept = [p for p in paths if int(os.path.basename(p)[:4]) not in broken]
  expected = net.run(np.stack([net.read_image(p) for p in kept]),
                     ['global_pool'])['global_pool']
  got = np.concatenate([np.load(shards.array_path(
      str(tmp_path / 'f'), 'global_pool', index)) for index in range(4)])
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_a_labelled_dataset_keeps_its_labels(net, tmp_path):
  from test_idx import write_split  # pylint: disable=g-import-not-at-top
  folder = tmp_path / 'idx'
  folder.mkdir()
  _, labels = write_split(folder, 'train', 12, 0, classes=4)
  write_split(folder, 't10k', 4, 1, classes=4)
  manifest = features.extract_to_folder([str(folder)], str(tmp_path / 'out'),
                                        net, ['global_pool'], shard_size=5)
  import pyarrow.parquet  # pylint: disable=g-import-not-at-top
  got = [l for i in range(3) for l in pyarrow.parquet.read_table(
      shards.metadata_path(str(tmp_path / 'out'), i))['label'].to_pylist()]
  assert got == labels.tolist() and manifest['source_kind'] == 'idx'


@pytest.mark.quick
def test_a_rerun_continues_after_the_last_complete_shard(images, net,
                                                         tmp_path):
  folder = tmp_path / 'out'
  _run(images, folder, net)
  whole = {n: shards.load(str(folder), n) for n in END_POINTS}
  # A run killed inside shard 3: its metadata never written, a temporary
  # array left behind.
  os.remove(shards.metadata_path(str(folder), 3))
  os.remove(shards.metadata_path(str(folder), 4))
  stray = folder / 'global_pool' / '.tmp_abc_global_pool_00003.npy'
  stray.write_bytes(b'half')
  before = {i: os.stat(shards.metadata_path(str(folder), i)).st_mtime_ns
            for i in range(3)}
  manifest = _run(images, folder, net)
  assert not stray.exists()
  assert {i: os.stat(shards.metadata_path(str(folder), i)).st_mtime_ns
          for i in range(3)} == before
  assert manifest['complete_shards'] == [0, 1, 2, 3, 4]
  for name in END_POINTS:
    np.testing.assert_array_equal(shards.load(str(folder), name), whole[name])


@pytest.mark.quick
def test_another_run_or_a_foreign_folder_is_refused(images, net, tmp_path):
  folder = tmp_path / 'out'
  _run(images, folder, net)
  with pytest.raises(ValueError, match='holds features of another run '
                     r'\(end_points'):
    features.extract_to_folder([str(images)], str(folder), net,
                               ['global_pool'], shard_size=8)
  with pytest.raises(ValueError, match='shard_size: 8 in the folder, 4 now'):
    _run(images, folder, net, shard_size=4)
  mine = tmp_path / 'mine'
  mine.mkdir()
  (mine / 'notes.txt').write_text('mine')
  with pytest.raises(files.OutputError, match='not a features folder'):
    _run(images, mine, net)
  assert os.listdir(mine) == ['notes.txt']
  with pytest.raises(files.OutputError, match='inside the input'):
    _run(images, images / 'out', net)


@pytest.mark.quick
def test_a_text_file_of_paths_is_an_input(images, net, tmp_path):
  listing = tmp_path / 'list.txt'
  listing.write_text('\n'.join(str(images / 'a' / n) for n in sorted(
      os.listdir(images / 'a'))[:5]) + '\n')
  manifest = features.extract_to_folder([str(listing)], str(tmp_path / 'o'),
                                        net, ['global_pool'])
  assert manifest['images'] == 5 and manifest['source_kind'] == 'files'


COMMAND = ['-m', 'resnet_v2.cli', 'features', '--model', MODEL,
           '--shard-size', '16', '--batch-size', '8',
           '--end-point', 'global_pool']


@pytest.mark.parametrize('seed', [0])
def test_killed_at_random_moments_the_rerun_equals_a_run_never_killed(
    tmp_path, checkpoint, seed):
  folder = _images(tmp_path / 'many', 200, broken=(17, 150))
  command = [sys.executable] + COMMAND + ['--checkpoint', checkpoint,
                                          str(folder), '--output']
  whole = tmp_path / 'whole'
  start = time.perf_counter()
  subprocess.run(command + [str(whole)], check=True, capture_output=True)
  seconds = time.perf_counter() - start
  killed = tmp_path / 'killed'
  rng = np.random.default_rng(seed)
  kills = 0
  for _ in range(3):
    child = subprocess.Popen(command + [str(killed)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    # Into the run (its start-up included), wherever that is on this
    # machine: from TensorFlow's import to the last shard's write.
    time.sleep(float(rng.uniform(0.4, 0.95)) * seconds)
    if child.poll() is None:
      child.send_signal(signal.SIGKILL)
      kills += 1
    child.communicate()
  done = subprocess.run(command + [str(killed)], capture_output=True,
                        text=True)
  assert done.returncode == 0, done.stderr[-2000:]
  assert kills >= 1
  listing = lambda root: sorted(
      os.path.relpath(os.path.join(r, n), root)
      for r, _, names in os.walk(root) for n in names)
  assert listing(killed) == listing(whole)   # no stray file
  for path in listing(whole):
    if path.endswith('.npy'):
      np.testing.assert_array_equal(np.load(killed / path),
                                    np.load(whole / path))
  ours, theirs = (json.loads((f / 'manifest.json').read_text())
                  for f in (killed, whole))
  assert ours['images'] == theirs['images'] == 198
  assert ours == theirs


def _webdataset_shard(path, keys, rng):
  """An img2dataset-style tar: KEY.jpg, KEY.json, KEY.txt, KEY.cls."""
  import io  # pylint: disable=g-import-not-at-top
  import tarfile  # pylint: disable=g-import-not-at-top
  with tarfile.open(path, 'w') as archive:
    for key in keys:
      members = {
          'jpg': tf.io.encode_jpeg(rng.integers(
              0, 255, (36, 40, 3), np.uint8)).numpy(),
          'json': json.dumps({'key': key}).encode(),
          'txt': b'a caption', 'cls': str(int(key) % 3).encode()}
      for extension, data in members.items():
        info = tarfile.TarInfo('%s.%s' % (key, extension))
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))


@pytest.mark.quick
def test_webdataset_tar_shards_are_read_as_streams(net, tmp_path):
  import pyarrow.parquet  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  tars = [str(tmp_path / ('%05d.tar' % i)) for i in range(2)]
  _webdataset_shard(tars[0], ['000', '001', '002'], rng)
  _webdataset_shard(tars[1], ['003', '004'], rng)
  manifest = features.extract_to_folder(tars, str(tmp_path / 'out'), net,
                                        ['global_pool'], batch_size=2)
  assert (manifest['source_kind'], manifest['shards'],
          manifest['shard_rows']) == ('webdataset', 2, [3, 2])
  table = pyarrow.parquet.read_table(shards.metadata_path(
      str(tmp_path / 'out'), 1))
  assert table['name'].to_pylist() == [tars[1] + '/003', tars[1] + '/004']
  assert table['label'].to_pylist() == [0, 1]
  # Nothing was extracted beside the tars.
  assert sorted(os.listdir(tmp_path)) == ['00000.tar', '00001.tar', 'out']
  # A shard cut short: the samples before the damage stay, the rest named.
  import tarfile  # pylint: disable=g-import-not-at-top
  with tarfile.open(tars[1]) as archive:
    cut = archive.getmember('004.jpg').offset_data + 100
  with open(tars[1], 'r+b') as handle:
    handle.truncate(cut)   # inside the second sample's image
  manifest = features.extract_to_folder([tars[1]], str(tmp_path / 'cut'),
                                        net, ['global_pool'], batch_size=2)
  assert manifest['images'] == 1
  [(name, reason)] = manifest['skipped_files']
  assert name.startswith(tars[1]) and 'damaged tar shard' in reason


@pytest.mark.quick
def test_planning_a_hundred_thousand_shards_looks_at_each_file_once(
    tmp_path, monkeypatch):
  os.makedirs(os.path.dirname(shards.metadata_path(str(tmp_path), 0)))
  for index in (0, 1, 5):
    open(shards.metadata_path(str(tmp_path), index), 'w').close()
  looked = []
  isfile = os.path.isfile
  monkeypatch.setattr(shards.os.path, 'isfile',
                      lambda path: looked.append(path) or isfile(path))
  todo = shards.incomplete_shards(str(tmp_path), 100000)
  assert len(looked) == 100000 == len(set(looked))
  assert todo[:4] == [2, 3, 4, 6] and len(todo) == 100000 - 3
