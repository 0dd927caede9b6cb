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
  return ({n: reader.get_tensor(n) for n in names},
          {n: best.get_tensor(n) for n in names})


def test_killed_anywhere_and_resumed_equals_never_killed(tmp_path):
  reference = str(tmp_path / 'reference')
  done = run(reference, 'none')
  assert done.returncode == 0, done.stderr[-3000:]
  seconds = float(done.stdout.split()[2])
  expected, expected_best = final_weights(reference)
  rng = np.random.default_rng(7)
  plans = ['time:%.3f' % (seconds * f) for f in rng.uniform(0.1, 0.9, 2)]
  plans += ['save:2', 'index:3', 'best:1']
  for plan in plans:
    directory = str(tmp_path / plan.replace(':', '_'))
    killed = run(directory, plan)
    assert killed.returncode == -9, (plan, killed.stderr[-3000:])
    resumed = run(directory, 'none')
    assert resumed.returncode == 0, (plan, resumed.stderr[-3000:])
    weights, best = final_weights(directory)
    for name, value in expected.items():
      np.testing.assert_array_equal(weights[name], value, err_msg=plan)
      np.testing.assert_array_equal(best[name], expected_best[name],
                                    err_msg=plan)
    stray = [n for n in os.listdir(directory)
             if n.startswith(LEFTOVER_PREFIXES) or '.tempstate' in n]
    assert not stray, (plan, stray)
