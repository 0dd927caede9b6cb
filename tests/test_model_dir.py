"""The model dir: checkpoints by exact name, one writer, leftovers."""

import os

import pytest
import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2 import lock as lock_lib
from resnet_v2 import model_dir

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def save_steps(folder, steps):
  folder.mkdir(parents=True, exist_ok=True)
  for step in steps:
    prefix = str(folder / ('model.ckpt-%d' % step))
    checkpoint_files.save_by_name({'w': tf.constant([float(step)])}, prefix)
    model_dir.add_checkpoint(str(folder), prefix, keep=2)


def test_glob_characters_in_a_name_touch_only_that_model_dir(tmp_path):
  other = tmp_path / 'lr1'
  save_steps(other, [1, 2])
  odd = tmp_path / 'lr[1]'
  save_steps(odd, [1, 2, 3, 4])
  # Its own old checkpoints were pruned, the neighbour's kept.
  assert sorted(os.listdir(other)) == sorted(
      ['checkpoint', 'model.ckpt-1.index', 'model.ckpt-1.data-00000-of-00001',
       'model.ckpt-2.index', 'model.ckpt-2.data-00000-of-00001'])
  assert sorted(n for n in os.listdir(odd) if n.endswith('.index')) == [
      'model.ckpt-3.index', 'model.ckpt-4.index']
  assert model_dir.latest_checkpoint(str(odd)) == str(odd / 'model.ckpt-4')
  assert checkpoint_files.read_checkpoint_shapes(str(odd))[1] == str(
      odd / 'model.ckpt-4')
  # TensorFlow's own lookup globs, and finds nothing here.
  assert tf.train.latest_checkpoint(str(odd)) is None


def test_the_index_never_names_a_missing_checkpoint(tmp_path):
  save_steps(tmp_path, [1, 2])
  os.unlink(tmp_path / 'model.ckpt-2.index')
  assert model_dir.latest_checkpoint(str(tmp_path)) == str(
      tmp_path / 'model.ckpt-1')


def test_leftovers_of_an_interrupted_run_are_removed(tmp_path):
  save_steps(tmp_path, [1])
  checkpoint_files.save_by_name({'w': tf.constant([2.0])},
                           str(tmp_path / 'model.ckpt-2'))   # never indexed
  (tmp_path / '.best_abc').mkdir()
  (tmp_path / '.tmp_xyzhistory.json').write_text('{')
  (tmp_path / 'best.old').mkdir()                # the swap was interrupted
  (tmp_path / 'best.old' / 'model.ckpt.index').write_text('old best')
  (tmp_path / 'mine.txt').write_text('not ours')
  removed = model_dir.remove_leftovers(str(tmp_path))
  assert sorted(os.listdir(tmp_path)) == sorted([
      'best', 'checkpoint', 'mine.txt', 'model.ckpt-1.index',
      'model.ckpt-1.data-00000-of-00001'])
  assert (tmp_path / 'best' / 'model.ckpt.index').read_text() == 'old best'
  assert 'model.ckpt-2.index' in removed


def test_a_folder_of_the_users_is_not_a_model_dir_to_train_into(tmp_path):
  (tmp_path / 'photos').mkdir()
  (tmp_path / 'photos' / 'holiday.jpg').write_bytes(b'x')
  with pytest.raises(ValueError, match=r'holds files that are not a model '
                     r'dir \(holiday.jpg\)'):
    model_dir.check_trainable_dir(str(tmp_path / 'photos'))
  (tmp_path / 'fresh').mkdir()
  (tmp_path / 'fresh' / lock_lib.LOCK_NAME).write_text('{}')
  model_dir.check_trainable_dir(str(tmp_path / 'fresh'))
  model_dir.check_trainable_dir(str(tmp_path / 'not_yet'))
