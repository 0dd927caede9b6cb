"""Checkpoint files read whole or named as damaged: truncated at several
points, a missing shard, an unreadable index; eval, predict and export say
so in one line; a damaged best/ falls back to the latest step checkpoint."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2 import cli
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import record as record_lib
from resnet_v2.nets import module as module_lib

MODEL, CLASSES, SIZE = 'cifar_resnet_v1_8', 2, 32
OP_TEXT = ('{{function_node', '[Op:', 'Traceback', '/job:localhost')


@pytest.fixture
def model_dir(tmp_path):
  """A model dir with two step checkpoints and best/, and an image."""
  path = tmp_path / 'run'
  net = module_lib.ResNetModule(MODEL, CLASSES)
  for step in (1, 2):
    prefix = checkpoint_files.save_by_name(net.variables_by_name, str(
        path / ('model.ckpt-%d' % step)))
    model_dir_lib.add_checkpoint(str(path), prefix)
  (path / 'best').mkdir()
  for name in os.listdir(path):
    if name.startswith('model.ckpt-2.'):
      shutil.copy(path / name, path / 'best' / name.replace('-2', ''))
  record_lib.Record(model=MODEL, num_classes=CLASSES, class_names=['a', 'b'],
                    image_size=SIZE, preprocessing='cifar',
                    labels_offset=0).write(str(path))
  image = tmp_path / 'data' / 'a' / 'image.png'
  image.parent.mkdir(parents=True)
  image.write_bytes(tf.io.encode_png(np.zeros([8, 8, 3], np.uint8)).numpy())
  return path, image


def _data_file(prefix):
  folder, base = os.path.split(prefix)
  return os.path.join(folder, [n for n in os.listdir(folder)
                               if n.startswith(base + '.data-')][0])


def _cut(path, keep):
  size = os.path.getsize(path)
  with open(path, 'r+b') as handle:
    handle.truncate(int(size * keep))


@pytest.mark.quick
@pytest.mark.parametrize('keep', [0.0, 0.5, 0.999])
def test_a_truncated_data_file_is_named_with_its_length(model_dir, keep):
  prefix = str(model_dir[0] / 'model.ckpt-2')
  _cut(_data_file(prefix), keep)
  with pytest.raises(checkpoint_files.DamagedCheckpointError) as error:
    checkpoint_files.check_whole(prefix)
  message = str(error.value)
  assert 'model.ckpt-2.data-00000-of-00001 cut short' in message
  assert 'bytes its index names' in message and '\n' not in message
  with pytest.raises(checkpoint_files.DamagedCheckpointError):
    checkpoint_files.read_tensors(prefix, ['global_step'])


@pytest.mark.quick
def test_a_missing_shard_and_an_unreadable_index_are_named(model_dir):
  prefix = str(model_dir[0] / 'model.ckpt-2')
  os.remove(_data_file(prefix))
  with pytest.raises(checkpoint_files.DamagedCheckpointError,
                     match='data file model.ckpt-2.data-00000-of-00001 is '
                     'missing'):
    checkpoint_files.check_whole(prefix)
  prefix = str(model_dir[0] / 'model.ckpt-1')
  _cut(prefix + '.index', 0.5)
  with pytest.raises(checkpoint_files.DamagedCheckpointError,
                     match=r'model.ckpt-1.index is unreadable'):
    checkpoint_files.check_whole(prefix)


@pytest.mark.parametrize('keep', [0.0, 0.5])
def test_eval_predict_and_export_name_a_damaged_checkpoint(model_dir, keep,
                                                           tmp_path, capsys):
  path, image = model_dir
  shutil.rmtree(path / 'best')
  _cut(_data_file(str(path / 'model.ckpt-2')), keep)
  for command in (['predict', '--model-dir', str(path), str(image)],
                  ['export', '--model-dir', str(path), '--output',
                   str(tmp_path / 'served')],
                  ['eval', '--model-dir', str(path), '--data',
                   str(image.parent.parent), '--output',
                   str(tmp_path / 'eval')]):
    assert cli.main(command) == 1, command
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0, err
    assert 'model.ckpt-2 is damaged' in err and 'cut short' in err, err
    assert not any(text in err for text in OP_TEXT), err
  assert not (tmp_path / 'served').exists()


def test_a_damaged_best_falls_back_to_the_latest_step_checkpoint(
    model_dir, capsys):
  path, image = model_dir
  _cut(_data_file(str(path / 'best' / 'model.ckpt')), 0.5)
  assert cli.main(['predict', '--model-dir', str(path), str(image)]) == 0
  err = capsys.readouterr().err
  assert 'best/model.ckpt is damaged' in err
  assert 'Using the latest step checkpoint, %s' % (
      path / 'model.ckpt-2') in err
  # With no step checkpoint to use instead: refused by name.
  for name in os.listdir(path):
    if name.startswith('model.ckpt-'):
      os.remove(path / name)
  assert cli.main(['predict', '--model-dir', str(path), str(image)]) == 1
  assert 'holds no step checkpoint to use instead' in capsys.readouterr().err
