"""The command line: what the user had is never destroyed, labels go by
name, errors are one line."""

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import cli
from resnet_v2.cli import commands
from resnet_v2.cli import flags
from resnet_v2 import files
from resnet_v2 import lock as lock_lib
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import record as record_lib


def write_classes(root, classes=('class_0', 'class_1'), per_class=8,
                  size=16, seed=0):
  rng = np.random.default_rng(seed)
  for label, name in enumerate(classes):
    for index in range(per_class):
      image = rng.integers(0, 60, (size, size, 3))
      band = size // 2
      image[(label % 2) * band:(label % 2 + 1) * band] += 150
      path = root / name / ('%02d.png' % index)
      path.parent.mkdir(parents=True, exist_ok=True)
      path.write_bytes(tf.io.encode_png(image.astype(np.uint8)).numpy())
  return root


TRAIN = ['train', '--model', 'cifar_resnet_v1_8', '--image-size', '16',
         '--batch-size', '8', '--learning-rate', '0.05', '--no-augment']


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  root = tmp_path_factory.mktemp('cli')
  data = write_classes(root / 'data')
  run = root / 'work' / 'run'
  assert cli.main(TRAIN + ['--data', str(data), '--epochs', '1',
                           '--model-dir', str(run)]) == 0
  return data, run


def tree(folder):
  return sorted(str(p.relative_to(folder)) for p in folder.rglob('*'))


def test_export_never_replaces_what_it_did_not_write(trained, tmp_path,
                                                     capsys, monkeypatch):
  _, run = trained
  before = tree(run)
  mine = tmp_path / 'mine'
  mine.mkdir()
  (mine / 'notes.txt').write_text('keep me')
  assert cli.main(['export', '--model-dir', str(run), '--output',
                   str(mine)]) == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and 'was not written by resnet_v2' in err[0]
  assert '--overwrite' in err[0]
  assert (mine / 'notes.txt').read_text() == 'keep me'
  # The model dir itself, and a folder holding it, even with --overwrite.
  monkeypatch.chdir(run.parent)
  for output in (str(run), '.', 'run/export'):
    assert cli.main(['export', '--model-dir', str(run), '--output', output,
                     '--overwrite']) == 1
    assert 'input' in capsys.readouterr().err
  assert tree(run) == before
  # A new folder, readable by others (the user's umask, not 0700); then
  # exported again over its own export; the user's folder with --overwrite.
  old_umask = os.umask(0o022)
  try:
    exported = tmp_path / 'exported'
    for _ in range(2):
      assert cli.main(['export', '--model-dir', str(run), '--output',
                       str(exported)]) == 0
    assert stat.S_IMODE(exported.stat().st_mode) == 0o755
    assert cli.main(['export', '--model-dir', str(run), '--output',
                     str(mine), '--overwrite']) == 0
  finally:
    os.umask(old_umask)
  assert (mine / 'saved_model.pb').exists()
  assert not (mine / 'notes.txt').exists()
  assert sorted(p.name for p in tmp_path.iterdir()) == ['exported', 'mine']


def test_eval_scores_a_folder_missing_a_class_under_the_models_labels(
    trained, tmp_path, capsys):
  data, run = trained
  only_second = tmp_path / 'test'
  (only_second).mkdir()
  os.symlink(data / 'class_1', only_second / 'class_1')
  output = tmp_path / 'report'
  assert cli.main(['eval', '--model-dir', str(run), '--data',
                   str(only_second), '--output', str(output)]) == 0
  metrics = json.loads((output / 'metrics.json').read_text())
  assert [(c['class'], c['name']) for c in metrics['per_class']] == [
      (1, 'class_1')]
  confusion = np.asarray(metrics['confusion'])
  assert confusion.shape == (2, 2) and confusion[0].sum() == 0
  assert confusion[1].sum() == 8
  # A class the model does not know is refused by name.
  os.symlink(data / 'class_0', only_second / 'zebra')
  assert cli.main(['eval', '--model-dir', str(run), '--data',
                   str(only_second), '--output', str(output)]) == 1
  assert "does not know: ['zebra']" in capsys.readouterr().err


def test_eval_and_features_keep_the_users_files_and_say_why_in_one_line(
    trained, tmp_path, capsys, monkeypatch):
  data, run = trained
  mine = tmp_path / 'report'
  mine.mkdir()
  (mine / 'metrics.json').write_text('my own')
  assert cli.main(['eval', '--model-dir', str(run), '--data', str(data),
                   '--output', str(mine)]) == 1
  assert (mine / 'metrics.json').read_text() == 'my own'
  (tmp_path / 'a_file').write_text('x')
  image = str(data / 'class_0' / '00.png')
  assert cli.main(['features', '--model-dir', str(run), image, '-o',
                   str(tmp_path / 'a_file' / 'f.npz')]) == 1
  (tmp_path / 'mine.npz').write_text('my own')
  assert cli.main(['features', '--model-dir', str(run), image, '-o',
                   str(tmp_path / 'mine.npz')]) == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 3
  assert 'report already exists and was not written by' in err[0]
  assert 'a_file is a file, not a folder' in err[1]
  assert 'mine.npz already exists' in err[2]
  assert (tmp_path / 'mine.npz').read_text() == 'my own'

  # An OSError met while writing (a full disk) is one line naming the file.
  def full(path, *args, **kwargs):
    raise OSError(28, 'No space left on device', path)
  monkeypatch.setattr(files, 'write_json', full)
  assert cli.main(['eval', '--model-dir', str(run), '--data', str(data),
                   '--output', str(tmp_path / 'new')]) == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].endswith(': No space left on device')
  assert not (tmp_path / 'new').exists()


def test_training_refuses_a_users_folder_and_a_dir_in_use(tmp_path, capsys):
  data = write_classes(tmp_path / 'data', per_class=8)
  photos = tmp_path / 'photos'
  photos.mkdir()
  (photos / 'me.jpg').write_bytes(b'x')
  assert cli.main(TRAIN + ['--data', str(data), '--model-dir',
                           str(photos)]) == 1
  assert 'holds files that are not a model dir (me.jpg)' in (
      capsys.readouterr().err)
  assert cli.main(TRAIN + ['--data', str(data), '--model-dir',
                           str(data / 'run')]) == 1
  assert 'inside the input' in capsys.readouterr().err
  run = tmp_path / 'run'
  holder = subprocess.Popen([sys.executable, '-c', '''if True:
      import sys, time
      from resnet_v2 import lock
      lock.Lock(sys.argv[1]).acquire()
      print('locked', flush=True)
      time.sleep(120)''', str(run)], stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'locked'
    assert cli.main(TRAIN + ['--data', str(data), '--epochs', '1',
                             '--model-dir', str(run)]) == 1
    assert 'is in use: pid %d' % holder.pid in capsys.readouterr().err
  finally:
    holder.kill()
    holder.wait()
  assert not list(run.glob('model.ckpt*'))
  # Its holder gone, the lock is taken over.
  assert cli.main(TRAIN + ['--data', str(data), '--epochs', '1',
                           '--model-dir', str(run)]) == 0
  assert not (run / lock_lib.LOCK_NAME).exists()


def test_val_fraction_zero_trains_on_all_and_eval_reads_the_last_checkpoint(
    tmp_path, capsys):
  data = write_classes(tmp_path / 'data', per_class=4)
  run = tmp_path / 'run'
  assert cli.main(TRAIN + ['--data', str(data), '--epochs', '1',
                           '--val-fraction', '0', '--model-dir',
                           str(run)]) == 0
  assert 'note: --val-fraction 0: all of %s trains and nothing validates' % (
      data) in capsys.readouterr().err
  history = json.loads((run / 'history.json').read_text())
  # All 8 images trained (a batch of 8: one step); none validated.
  assert history['epochs'][-1]['step'] == 1
  assert 'val_accuracy' not in history['epochs'][-1]
  assert not (run / model_dir_lib.BEST_DIR).exists()
  assert cli.main(['eval', '--model-dir', str(run), '--data', str(data),
                   '--batch-size', '8']) == 0
  assert 'over 8 images' in capsys.readouterr().out
  assert cli.main(TRAIN + ['--data', str(data), '--val-fraction', '1',
                           '--model-dir', str(tmp_path / 'other')]) == 1
  err = capsys.readouterr().err.strip()
  assert err.endswith('--val-fraction is 1: give a share of the training '
                      'data from 0 (none held out) up to, not including, 1.')
  assert len(err.splitlines()) == 1 and not (tmp_path / 'other').exists()


def test_a_model_dir_with_glob_characters_resumes_and_spares_its_neighbour(
    tmp_path, capsys):
  data = write_classes(tmp_path / 'data', per_class=8)
  neighbour = tmp_path / 'lr1'
  neighbour.mkdir()
  (neighbour / 'model.ckpt-1.index').write_text('another run')
  run = str(tmp_path / 'lr[1]')
  args = TRAIN + ['--data', str(data), '--model-dir', run, '--epochs']
  assert cli.main(args + ['1']) == 0
  assert cli.main(args + ['2']) == 1
  assert 'already holds checkpoints' in capsys.readouterr().err
  assert cli.main(args + ['2', '--resume']) == 0
  history = json.loads((tmp_path / 'lr[1]' / 'history.json').read_text())
  assert [e['epoch'] for e in history['epochs']] == [1, 2]
  assert model_dir_lib.latest_checkpoint(run).endswith(
      'model.ckpt-%d' % history['epochs'][-1]['step'])
  assert (neighbour / 'model.ckpt-1.index').read_text() == 'another run'


def test_slim_tfrecords_train_with_their_labels_and_validation_split(
    tmp_path, capsys):
  from test_inputs import write_tfrecord  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  for split, count in (('train', 16), ('validation', 8)):
    write_tfrecord(tmp_path / ('%s-00000-of-00001' % split),
                   [(rng.integers(0, 255, (16, 16, 3), np.uint8), 1 + i % 2)
                    for i in range(count)])
  (tmp_path / 'labels.txt').write_text('0:background\n1:cat\n2:dog\n')
  run = tmp_path / 'run'
  assert cli.main(TRAIN + ['--data', str(tmp_path / 'train-*'),
                           '--labels-offset', '1', '--epochs', '1',
                           '--model-dir', str(run)]) == 0
  assert 'validating on' in capsys.readouterr().err
  record = record_lib.Record.read(str(run))
  assert (record.num_classes, record.class_names) == (2, ['cat', 'dog'])
  history = json.loads((run / 'history.json').read_text())
  assert 'val_accuracy' in history['epochs'][0]


def test_exclude_takes_a_slim_scope_and_commas(trained, tmp_path):
  data, run = trained
  three = write_classes(tmp_path / 'three', ('a', 'b', 'c'), per_class=4)
  tuned = tmp_path / 'tuned'
  checkpoint = model_dir_lib.latest_checkpoint(str(run))
  assert cli.main(TRAIN + ['--data', str(three), '--epochs', '1',
                           '--checkpoint', checkpoint, '--exclude',
                           'cifar_resnet_v1_8/logits,global_step',
                           '--trainable', 'cifar_resnet_v1_8/logits',
                           '--model-dir', str(tuned)]) == 0
  history = json.loads((tuned / 'history.json').read_text())
  assert history['restored_from']['excluded'] == [
      'cifar_resnet_v1_8/logits/biases', 'cifar_resnet_v1_8/logits/weights']
  del data


def test_the_command_lines_defaults_are_the_librarys():
  from resnet_v2.data import preprocessing  # pylint: disable=g-import-not-at-top
  from resnet_v2.train import distribute  # pylint: disable=g-import-not-at-top
  assert flags.MAX_IMAGE_PIXELS == preprocessing.MAX_IMAGE_PIXELS
  assert flags.COLLECTIVE_TIMEOUT == distribute.COLLECTIVE_TIMEOUT
  from resnet_v2.serve import export  # pylint: disable=g-import-not-at-top
  assert flags.EXPORT_FORMATS == export.FORMATS
  from resnet_v2.serve import model  # pylint: disable=g-import-not-at-top
  assert flags.ENGINES == model.ENGINES


def test_help_answers_without_loading_tensorflow():
  # Every `--help` and the parser itself: TensorFlow loads only when a
  # command runs (the time this saves is in BENCHMARKS.md).
  script = '''if True:
    import sys
    from resnet_v2 import cli
    for argv in (['--help'], ['train', '--help'], ['eval', '--help'],
                 ['export', '--help']):
      try:
        cli.main(argv)
      except SystemExit as done:
        assert done.code == 0, argv
    assert 'tensorflow' not in sys.modules, 'TensorFlow loaded for --help'
    import resnet_v2
    assert 'tensorflow' not in sys.modules, 'import resnet_v2 loaded it'
    resnet_v2.resnet_v2_50
    assert 'tensorflow' in sys.modules
  '''
  done = subprocess.run([sys.executable, '-c', script], capture_output=True,
                        text=True, check=False)
  assert done.returncode == 0, done.stderr
  assert 'usage: resnet-v2 train' in done.stdout


def test_train_flags_reach_the_config_by_name():
  args = cli.build_parser().parse_args([
      'train', '--model-dir', 'x', '--epochs', '3', '--save-every', '7',
      '--max-image-pixels', '99', '--no-augment', '--exclude', 'a/*',
      '--exclude', 'b', '--schedule', 'cosine', '--labels-offset', '1'])
  config = commands.train_config(args)
  assert (config.epochs, config.save_every_steps, config.max_pixels) == (
      3, 7, 99)
  assert (config.augment, config.exclude, config.schedule,
          config.labels_offset) == (False, ('a/*', 'b'), 'cosine', 1)
  assert config.model == 'cifar_resnet_v1_20' and config.batch_size == 128


def test_library_parameters_are_shown_as_flags():
  assert flags.in_flags('Give `model_dir`, or `model` and `checkpoint`.') == (
      'Give --model-dir, or --model and --checkpoint.')
  assert flags.in_flags('drop `image_size`=299 (or quantize again)') == (
      'drop --image-size 299 (or quantize again)')
  assert flags.in_flags('it exports as `export_format`=openvino only.') == (
      'it exports as --format openvino only.')
  # Code and names that are not parameters stay as they are.
  assert flags.in_flags('run `resnet-v2 features` on `x`') == (
      'run `resnet-v2 features` on `x`')
