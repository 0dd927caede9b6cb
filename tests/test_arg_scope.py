"""resnet_arg_scope and the defaults the nets build under."""

import numpy as np
import pytest
import tensorflow as tf
from tf_slim.ops.arg_scope import arg_scope_func_key

import resnet_v2
from resnet_v2.nets.arg_scope import with_resnet_defaults

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)

GraphKeys = tf.compat.v1.GraphKeys


def scoped(scope, op):
  return scope[arg_scope_func_key(op)]


def test_published_defaults():
  scope = resnet_v2.resnet_arg_scope()
  conv = scoped(scope, resnet_v2.conv2d)
  assert conv['normalizer_fn'] is resnet_v2.batch_norm
  assert conv['activation_fn'] is tf.nn.relu
  assert scoped(scope, resnet_v2.batch_norm) == {
      'decay': 0.997, 'epsilon': 1e-5, 'scale': True,
      'updates_collections': GraphKeys.UPDATE_OPS}
  assert scoped(scope, resnet_v2.max_pool2d) == {'padding': 'SAME'}


def test_options_reach_the_layers():
  scope = resnet_v2.resnet_arg_scope(
      use_batch_norm=False, activation_fn=tf.nn.relu6,
      batch_norm_updates_collections=None, batch_norm_decay=0.9)
  conv = scoped(scope, resnet_v2.conv2d)
  assert conv['normalizer_fn'] is None
  assert conv['activation_fn'] is tf.nn.relu6
  assert scoped(scope, resnet_v2.batch_norm)['updates_collections'] is None
  assert scoped(scope, resnet_v2.batch_norm)['decay'] == 0.9


def test_weight_decay_is_l2_of_the_weights(session):
  with resnet_v2.arg_scope(resnet_v2.resnet_arg_scope(weight_decay=0.5)):
    resnet_v2.conv2d(tf.zeros([1, 3, 3, 2]), 4, [3, 3], scope='conv')
  (loss,) = tf.compat.v1.get_collection(GraphKeys.REGULARIZATION_LOSSES)
  (weights,) = [v for v in tf.compat.v1.global_variables()
                if v.op.name == 'conv/weights']
  session.run(tf.compat.v1.global_variables_initializer())
  loss, weights = session.run([loss, weights])
  np.testing.assert_allclose(loss, 0.5 * 0.5 * np.sum(weights**2), rtol=1e-5)


def test_defaults_fill_in_what_the_caller_left_unset():
  with resnet_v2.arg_scope([resnet_v2.batch_norm], decay=0.5):
    with with_resnet_defaults() as merged:
      assert scoped(merged, resnet_v2.batch_norm)['decay'] == 0.5
      assert scoped(merged, resnet_v2.batch_norm)['epsilon'] == 1e-5
      assert scoped(merged, resnet_v2.conv2d)['normalizer_fn'] is (
          resnet_v2.batch_norm)
