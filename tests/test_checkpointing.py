"""train.checkpointing: the train-state variables, step checkpoints indexed
once whole, best/ swapped in whole, and the history a resume continues.
Killed runs, full disks and damaged shards end to end: test_training_faults.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2.train import checkpointing
from resnet_v2.train import distribute

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)

CHIEF = distribute.Role('worker', 0, True, 1)


def test_the_counters_go_by_the_names_checkpoints_have_always_used():
  counters = checkpointing.Counters.create()
  names = counters.by_name()
  assert sorted(names) == sorted([
      'global_step', 'train_state/epoch', 'train_state/epoch_start_step',
      'train_state/rate_scale', 'train_state/best_accuracy',
      'train_state/stale_epochs'])
  # The variables themselves, not copies: a restore must reach the run.
  names['train_state/epoch'].assign(7)
  assert int(counters.epoch.numpy()) == 7
  assert names['global_step'] is counters.global_step


def test_a_damaged_newer_checkpoint_is_set_aside_and_the_older_read(
    tmp_path):
  folder = str(tmp_path)
  weights = {'w': tf.Variable(np.arange(4, dtype=np.float32))}
  checkpointing.save_step(weights, folder, CHIEF, 1)
  weights['w'].assign(np.ones(4, np.float32))
  checkpointing.save_step(weights, folder, CHIEF, 2)
  assert model_dir_lib.checkpoint_names(folder) == ['model.ckpt-1',
                                                    'model.ckpt-2']
  data = [n for n in os.listdir(folder)
          if n.startswith('model.ckpt-2.data')]
  with open(os.path.join(folder, data[0]), 'r+b') as handle:
    handle.truncate(3)
  lines = []
  latest = checkpointing.whole_latest(folder, CHIEF, lines.append)
  assert latest == os.path.join(folder, 'model.ckpt-1')
  assert lines and lines[0].startswith('skipped model.ckpt-2')
  assert os.listdir(os.path.join(folder, 'damaged'))
  checkpoint_files.read_by_name(latest, weights)
  np.testing.assert_array_equal(weights['w'].numpy(), np.arange(4))


def test_best_is_replaced_whole(tmp_path):
  folder = str(tmp_path)
  weights = {'w': tf.Variable([1.0, 2.0])}
  checkpointing.save_best(weights, folder, CHIEF)
  weights['w'].assign([3.0, 4.0])
  checkpointing.save_best(weights, folder, CHIEF)
  assert sorted(os.listdir(folder)) == ['best']
  check = {'w': tf.Variable([0.0, 0.0])}
  checkpoint_files.read_by_name(os.path.join(folder, 'best', 'model.ckpt'),
                                check)
  np.testing.assert_array_equal(check['w'].numpy(), [3.0, 4.0])


def test_a_resumed_history_is_cut_back_to_the_checkpoints_step(tmp_path):
  folder = str(tmp_path)
  fresh = checkpointing.new_history({'epochs': 3}, 1, 1)
  assert checkpointing.resumed_history(folder, 5, fresh) is fresh
  history = dict(fresh, steps=[[2, 1.0, 0.5], [4, 0.9, 0.4], [6, 0.8, 0.3]],
                 epochs=[{'epoch': 1, 'step': 3}, {'epoch': 2, 'step': 6}])
  with open(os.path.join(folder, 'history.json'), 'w') as handle:
    json.dump(history, handle)
  resumed = checkpointing.resumed_history(folder, 5, fresh)
  assert resumed['steps'] == [[2, 1.0, 0.5], [4, 0.9, 0.4]]
  assert resumed['epochs'] == [{'epoch': 1, 'step': 3}]


def test_the_epoch_line_gives_both_speeds():
  record = {'epoch': 2, 'train_loss': 0.5, 'train_error': 0.125,
            'val_accuracy': 0.9, 'wall_images_per_second': 640.04,
            'wall_seconds': 82.4, 'images_per_second': 1135.0}
  assert checkpointing.epoch_line(record, 10) == (
      'epoch 2/10: loss 0.5000, train error 0.1250, val accuracy 0.9000, '
      '640.0 images/s (82 s wall; steps 1135.0 images/s)')
