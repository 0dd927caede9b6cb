"""Fault injection: a run killed anywhere (mid-step, mid-save, mid-swap of
best/) and resumed ends with the same weights as one never killed, and
leaves nothing half-written behind."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from resnet_v2 import model_dir as model_dir_lib

HERE = os.path.dirname(os.path.abspath(__file__))
LEFTOVER_PREFIXES = ('.tmp_', '.best_', '.old_', 'best.old', '.lock')


def run(directory, plan):
  return subprocess.run(
      [sys.executable, os.path.join(HERE, 'killed_training.py'), directory,
       plan], capture_output=True, text=True, check=False, timeout=300)


def final_weights(directory):
  reader = tf.train.load_checkpoint(model_dir_lib.latest_checkpoint(
      directory))
  best = tf.train.load_checkpoint(os.path.join(directory, 'best',
                                               'model.ckpt'))
  names = sorted(best.get_variable_to_shape_map())
  # Everything a resume reads: weights, slots, the step.
  state = sorted(reader.get_variable_to_shape_map())
  return ({n: reader.get_tensor(n) for n in state},
          {n: best.get_tensor(n) for n in names})


def test_killed_anywhere_and_resumed_equals_never_killed(tmp_path):
  reference = str(tmp_path / 'reference')
  done = run(reference, 'none')
  assert done.returncode == 0, done.stderr[-3000:]
  seconds = float(done.stdout.split()[2])
  expected, expected_best = final_weights(reference)
  rng = np.random.default_rng(7)
  # One random moment (mid-step or mid-save), then each write's window.
  plans = ['time:%.3f' % (seconds * rng.uniform(0.1, 0.9))]
  plans += ['save:2', 'index:3', 'best:1']
  for plan in plans:
    directory = str(tmp_path / plan.replace(':', '_'))
    killed = run(directory, plan)
    assert killed.returncode == -9, (plan, killed.stderr[-3000:])
    resumed = run(directory, 'none')
    assert resumed.returncode == 0, (plan, resumed.stderr[-3000:])
    weights, best = final_weights(directory)
    assert sorted(weights) == sorted(expected)
    for name, value in expected.items():
      np.testing.assert_array_equal(weights[name], value, err_msg=plan)
    for name, value in expected_best.items():
      np.testing.assert_array_equal(best[name], value, err_msg=plan)
    stray = [n for n in os.listdir(directory)
             if n.startswith(LEFTOVER_PREFIXES) or '.tempstate' in n]
    assert not stray, (plan, stray)


# -- damaged files and full disks, in process --------------------------------

import dataclasses  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402

import pytest  # noqa: E402

from resnet_v2 import checkpoint_files  # noqa: E402
from resnet_v2.data import inputs  # noqa: E402
from resnet_v2.train import trainer as training  # noqa: E402
from test_inputs import write_tfrecord  # noqa: E402
from test_trainer import CONFIG  # noqa: E402
from test_trainer import synthetic  # noqa: E402


def _tfrecord_shards(folder, shards=3, records=24):
  folder.mkdir()
  rng = np.random.default_rng(0)
  for shard in range(shards):
    write_tfrecord(folder / ('train-%05d-of-%05d' % (shard, shards)), [
        (rng.integers(0, 255, (20, 20, 3), np.uint8), int(label))
        for label in rng.integers(0, 2, records)])
  (folder / 'labels.txt').write_text('0:band0\n1:band1\n')
  return folder


def _flip_a_byte(path):
  data = bytearray(path.read_bytes())
  data[len(data) // 2] ^= 0xFF
  path.write_bytes(bytes(data))


def test_a_damaged_tfrecord_shard_is_named_and_the_run_goes_on(tmp_path):
  folder = _tfrecord_shards(tmp_path / 'data')
  damaged = folder / 'train-00001-of-00003'
  _flip_a_byte(damaged)
  source = inputs.open_source(str(folder / 'train-*'))
  config = dataclasses.replace(CONFIG, epochs=1, batch_size=8,
                               max_unreadable=0.5)
  trainer = training.Trainer(source, None, str(tmp_path / 'run'), config)
  lines = []
  history = trainer.train(log=lines.append)
  assert history['epochs'][-1]['step'] >= 1
  [(name, reason)] = history['skipped_files']
  assert name.startswith(str(damaged) + '[') and 'corrupted record at' in (
      reason) and 'the rest of the file was skipped' in reason
  assert any(str(damaged) in line for line in lines)
  written = json.loads((tmp_path / 'run' / 'history.json').read_text())
  assert written['skipped_files'] == [[name, reason]]
  # Beyond the share allowed, the run stops in one line naming the list.
  strict = dataclasses.replace(config, max_unreadable=0.0)
  with pytest.raises(ValueError, match=r'could not be read .* more than '
                     r'`max_unreadable`=0.*history.json'):
    training.Trainer(source, None, str(tmp_path / 'strict'), strict).train(
        log=quiet)


def quiet(line):
  del line


def test_resume_skips_a_damaged_latest_checkpoint_and_keeps_it_aside(
    tmp_path):
  train, val = synthetic()
  config = dataclasses.replace(CONFIG, epochs=2)
  run = str(tmp_path / 'run')
  training.Trainer(train, val, run, config).train(log=quiet)
  latest = model_dir_lib.latest_checkpoint(run)
  data = [n for n in os.listdir(run)
          if n.startswith(os.path.basename(latest) + '.data-')][0]
  with open(os.path.join(run, data), 'r+b') as handle:
    handle.truncate(100)
  lines = []
  more = dataclasses.replace(config, epochs=3)
  history = training.Trainer(train, val, run, more).train(resume=True,
                                                         log=lines.append)
  assert any('skipped %s' % os.path.basename(latest) in line and
             'cut short' in line and 'damaged' in line for line in lines)
  assert 'resuming at epoch 2' in '\n'.join(lines)
  assert history['epochs'][-1]['epoch'] == 3
  assert os.path.isfile(os.path.join(run, 'damaged', data))


@pytest.fixture
def small_disk(tmp_path):
  """A tmpfs of 1.5 MiB (root only; else the test is skipped), made
  larger by `grow()`."""
  mount = tmp_path / 'disk'
  mount.mkdir()
  done = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1536k', 'tmpfs',
                         str(mount)], capture_output=True, check=False)
  if done.returncode:
    pytest.skip('cannot mount a tmpfs here: %s' % done.stderr.decode())

  def grow():
    subprocess.run(['mount', '-o', 'remount,size=64m', str(mount)],
                   check=True)
  yield mount, grow
  # Lazily: a file the run left open must not keep the tmpfs mounted.
  subprocess.run(['umount', '-l', str(mount)], check=False)


def test_a_full_disk_keeps_the_last_checkpoint_and_resume_goes_on(
    small_disk):
  mount, grow = small_disk
  train, val = synthetic()
  run = str(mount / 'run')
  config = dataclasses.replace(CONFIG, epochs=6)
  with pytest.raises(ValueError) as error:
    training.Trainer(train, val, run, config).train(log=quiet)
  message = str(error.value)
  intact = model_dir_lib.latest_checkpoint(run)
  assert 'No space left on device' in message and '\n' not in message
  assert 'the latest intact checkpoint is %s' % intact in message
  assert '`resume`' in message and '{{' not in message
  checkpoint_files.check_whole(intact)
  named = set(model_dir_lib.checkpoint_names(run))
  left = [n for n in os.listdir(run) if n.startswith(LEFTOVER_PREFIXES) or
          '.tempstate' in n or (n.startswith('model.ckpt-') and
                                n.split('.data-')[0].split('.index')[0]
                                not in named)]
  assert not left, left
  grow()
  history = training.Trainer(train, val, run, config).train(resume=True,
                                                           log=quiet)
  assert history['epochs'][-1]['epoch'] == 6


def test_a_full_disk_during_an_export_leaves_nothing(small_disk, tmp_path,
                                                     capsys):
  from resnet_v2 import cli  # pylint: disable=g-import-not-at-top
  mount, _ = small_disk
  train, val = synthetic()
  run = str(tmp_path / 'run')
  training.Trainer(train, val, run, dataclasses.replace(
      CONFIG, epochs=1)).train(log=quiet)
  shutil.copytree(run, str(tmp_path / 'copy'))
  (mount / 'filler').write_bytes(b'\0' * (1536 * 1024 - 64 * 1024))
  assert cli.main(['export', '--model-dir', run, '--output',
                   str(mount / 'served')]) == 1
  err = capsys.readouterr().err.strip()
  assert '\n' not in err and 'No space left on device' in err, err
  assert '{{' not in err and '[Op:' not in err, err
  assert sorted(os.listdir(mount)) == ['filler']
