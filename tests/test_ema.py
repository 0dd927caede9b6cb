"""The weight average: its arithmetic, the swap into the net, the
checkpoint names, and a Trainer whose validation and best/ use it."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import model_dir as model_dir_lib
from resnet_v2.train import ema
from resnet_v2.train import trainer as training
from tests import test_trainer

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def test_the_average_follows_tensorflows_formula_with_num_updates():
  weight = tf.Variable([1.0, -2.0])
  average = ema.WeightAverage({'w': weight}, decay=0.9)
  expected = np.array([1.0, -2.0])
  for step, value in enumerate(([3.0, 0.0], [5.0, 4.0], [-1.0, 1.0])):
    weight.assign(value)
    average.update(tf.constant(step, tf.int64))
    decay = min(0.9, (1.0 + step) / (10.0 + step))
    expected = decay * expected + (1 - decay) * np.array(value)
    np.testing.assert_allclose(average.shadows['w'].numpy(), expected,
                               rtol=1e-6)
  # Late in a run the decay is the one asked for.
  before = average.shadows['w'].numpy()
  average.update(tf.constant(10000, tf.int64))
  np.testing.assert_allclose(average.shadows['w'].numpy(),
                             0.9 * before + 0.1 * np.array([-1.0, 1.0]),
                             rtol=1e-6)


def test_swapped_holds_the_average_inside_and_restores_after():
  weight = tf.Variable([1.0, 2.0])
  average = ema.WeightAverage({'w': weight}, decay=0.5)
  weight.assign([3.0, 4.0])
  with average.swapped():
    np.testing.assert_array_equal(weight.numpy(), [1.0, 2.0])
  np.testing.assert_array_equal(weight.numpy(), [3.0, 4.0])
  with pytest.raises(KeyError):
    with average.swapped():
      raise KeyError('inside')
  np.testing.assert_array_equal(weight.numpy(), [3.0, 4.0])
  average.reset()
  np.testing.assert_array_equal(average.shadows['w'].numpy(), [3.0, 4.0])
  names = average.checkpoint_names()
  assert names['w'] is average.shadows['w']
  assert names[ema.LIVE_PREFIX + 'w'] is weight


def test_a_run_with_ema_keeps_the_average_under_the_nets_names(tmp_path):
  train, val = test_trainer.synthetic()
  config = dataclasses.replace(test_trainer.CONFIG, ema=0.9, epochs=2)
  trainer = training.Trainer(train, val, str(tmp_path), config)
  history = trainer.train(progress=False, log=test_trainer.quiet)
  reader = tf.train.load_checkpoint(model_dir_lib.latest_checkpoint(
      str(tmp_path)))
  name = 'cifar_resnet_v1_8/logits/weights'
  live = trainer.model_variables[name].numpy()
  np.testing.assert_array_equal(reader.get_tensor(name),
                                trainer.average.shadows[name].numpy())
  np.testing.assert_array_equal(
      reader.get_tensor(ema.LIVE_PREFIX + name), live)
  assert not np.allclose(reader.get_tensor(name), live)
  # Moving statistics are not averaged again.
  assert reader.has_tensor('cifar_resnet_v1_8/conv1/BatchNorm/moving_mean')
  assert not reader.has_tensor(
      ema.LIVE_PREFIX + 'cifar_resnet_v1_8/conv1/BatchNorm/moving_mean')
  # Validation ran on the average: evaluating it again gives the same.
  assert trainer.evaluate()['top1'] == pytest.approx(
      history['epochs'][-1]['val_accuracy'])
  best = tf.train.load_checkpoint(model_dir_lib.best_checkpoint(
      str(tmp_path))).get_variable_to_shape_map()
  assert name in best
  assert not any(n.startswith(ema.LIVE_PREFIX) for n in best)
