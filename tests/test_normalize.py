"""nets.normalize: how `layers.batch_norm` computes (the fused kernel or
separate ops, a static or a tensor `is_training`, NHWC or NCHW), checked
against numpy."""

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2.nets import layers

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)

GraphKeys = tf.compat.v1.GraphKeys


def variable(suffix):
  """The one global variable whose name ends with suffix."""
  (found,) = [v for v in tf.compat.v1.global_variables()
              if v.op.name.endswith(suffix)]
  return found


def numpy_normalize(x, mean, variance, beta, gamma, epsilon, axis=-1):
  shape = [1] * x.ndim
  shape[axis] = -1
  r = lambda v: np.reshape(v, shape)
  return (x - r(mean)) / np.sqrt(r(variance) + epsilon) * r(gamma) + r(beta)


@pytest.mark.parametrize('fused', [None, False])
def test_training_normalizes_with_batch_statistics(session, rng, fused):
  x = rng.normal(3.0, 2.0, size=(4, 5, 5, 3)).astype(np.float32)
  y = layers.batch_norm(tf.constant(x), scale=True, epsilon=1e-3,
                        fused=fused, is_training=True)
  session.run(tf.compat.v1.global_variables_initializer())
  expected = numpy_normalize(x, x.mean((0, 1, 2)), x.var((0, 1, 2)), 0, 1,
                             1e-3)
  np.testing.assert_allclose(session.run(y), expected, atol=1e-4)


@pytest.mark.parametrize('fused', [None, False])
def test_update_ops_move_the_averages(session, rng, fused):
  x = rng.normal(3.0, 2.0, size=(4, 5, 5, 3)).astype(np.float32)
  y = layers.batch_norm(tf.constant(x), decay=0.9, fused=fused)
  updates = tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)
  assert len(updates) == 2
  mean, variance = variable('moving_mean'), variable('moving_variance')
  session.run(tf.compat.v1.global_variables_initializer())
  session.run(y)
  np.testing.assert_allclose(session.run(mean), 0.0)  # output alone: no update
  session.run(updates)
  # The fused kernel hands out the unbiased batch variance, as slim's did.
  ddof = 1 if fused is None else 0
  np.testing.assert_allclose(session.run(mean), 0.1 * x.mean((0, 1, 2)),
                             rtol=1e-5)
  np.testing.assert_allclose(session.run(variance),
                             0.9 + 0.1 * x.var((0, 1, 2), ddof=ddof),
                             rtol=1e-5)


@pytest.mark.parametrize('fused', [None, False])
def test_inference_uses_moving_statistics(session, rng, fused):
  x = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
  params = {name: rng.uniform(0.5, 2.0, size=4).astype(np.float32)
            for name in ('beta', 'gamma', 'moving_mean', 'moving_variance')}
  init = {name: tf.constant_initializer(value)
          for name, value in params.items()}
  y = layers.batch_norm(tf.constant(x), scale=True, epsilon=1e-5,
                        param_initializers=init, is_training=False,
                        activation_fn=tf.nn.relu, fused=fused)
  assert not tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)
  session.run(tf.compat.v1.global_variables_initializer())
  expected = np.maximum(numpy_normalize(
      x, params['moving_mean'], params['moving_variance'], params['beta'],
      params['gamma'], 1e-5), 0)
  np.testing.assert_allclose(session.run(y), expected, atol=1e-5)


def test_is_training_can_be_a_tensor(session, rng):
  x = rng.normal(5.0, 1.0, size=(4, 2, 2, 3)).astype(np.float32)
  training = tf.compat.v1.placeholder(tf.bool, [])
  y = layers.batch_norm(tf.constant(x), is_training=training)
  updates = tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)
  session.run(tf.compat.v1.global_variables_initializer())
  trained = session.run(y, {training: True})
  inferred = session.run(y, {training: False})
  assert abs(trained.mean()) < 1e-4  # batch statistics
  np.testing.assert_allclose(inferred, x / np.sqrt(1.0 + 1e-3), rtol=1e-5)
  session.run(updates, {training: False})
  mean = variable('moving_mean')
  np.testing.assert_allclose(session.run(mean), 0.0)
  session.run(updates, {training: True})
  assert np.all(session.run(mean) > 0)


def test_nchw_matches_nhwc(session, rng):
  x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
  nhwc = layers.batch_norm(tf.constant(x), scope='nhwc')
  nchw = layers.batch_norm(tf.constant(x.transpose(0, 3, 1, 2)),
                           data_format='NCHW', scope='nchw')
  session.run(tf.compat.v1.global_variables_initializer())
  a, b = session.run([nhwc, nchw])
  np.testing.assert_allclose(a, b.transpose(0, 2, 3, 1), atol=1e-5)
