"""nets.module: the TF2 net (eager and tf.function calls, gradients) and
the graph it matches; its SavedModel and frozen graph: test_export."""

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from resnet_v2 import checkpoints
from resnet_v2.nets.module import ResNetModule
from nets_for_tests import write_checkpoint

MODEL = 'resnet_v2_50'


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
  path = tmp_path_factory.mktemp('ckpt') / 'r50.ckpt'
  write_checkpoint(path, lambda x: resnet_v2.resnet_v2_50(
      x, num_classes=10, is_training=False), np.random.default_rng(1))
  return str(path)


@pytest.fixture(scope='module')
def module(checkpoint):
  module = ResNetModule(MODEL, num_classes=10)
  module.restore(checkpoint)
  return module


@pytest.fixture(scope='module')
def images():
  return np.random.default_rng(2).uniform(-1, 1, (2, 64, 64, 3)).astype(
      np.float32)


def graph_outputs(checkpoint, images, names):
  with tf.Graph().as_default() as graph:
    _, end_points = resnet_v2.resnet_v2_50(
        tf.constant(images), num_classes=10, is_training=False,
        spatial_squeeze=True)
    with tf.compat.v1.Session(graph=graph) as session:
      checkpoints.restore(session, checkpoint)
      return session.run({n: end_points[n] for n in names})


def test_variables_keep_slim_names(module):
  with tf.Graph().as_default():
    resnet_v2.resnet_v2_50(tf.zeros([1, 64, 64, 3]), num_classes=10)
    graph_names = sorted(v.name for v in tf.compat.v1.global_variables())
  assert sorted(v.name for v in module.net_variables) == graph_names
  assert tf.executing_eagerly()


def test_eager_and_tf_function_match_the_graph(module, checkpoint, images):
  names = ['predictions', 'resnet_v2_50/block3', 'global_pool']
  expected = graph_outputs(checkpoint, images, names)
  _, eager = module(images)
  traced = tf.function(lambda x: module(x)[1])(tf.constant(images))
  for name in names:
    np.testing.assert_allclose(eager[name].numpy(), expected[name],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(traced[name].numpy(), expected[name],
                               rtol=1e-5, atol=1e-5)


def test_gradients_reach_the_weights(module, images):
  with tf.GradientTape() as tape:
    logits, _ = module(images)
    loss = tf.reduce_sum(logits**2)
  gradients = tape.gradient(loss, module.net_variables)
  trainable = [g for v, g in zip(module.net_variables, gradients)
               if 'moving_' not in v.name]
  assert all(g is not None for g in trainable)
  assert any(float(tf.reduce_sum(tf.abs(g))) > 0 for g in trainable)


def test_bad_calls_are_refused(module):
  with pytest.raises(ValueError, match='rank 4'):
    module(np.zeros((64, 64, 3), np.float32))
  with pytest.raises(ValueError, match='Unknown model'):
    ResNetModule('resnet_v2_18')


@pytest.mark.parametrize('model', ['cifar_resnet_v1_8', 'cifar_resnet_v2_11',
                                   'resnet_v2_50'])
def test_weight_decay_is_what_the_graph_regularizes(model):
  # Slim's conv2d keeps its regularizer from get_variable; the module must
  # still decay every variable a graph would (the trainer's loss adds it).
  from resnet_v2.nets import factory  # pylint: disable=g-import-not-at-top
  with tf.Graph().as_default():
    factory.get_network_fn(model, 10, weight_decay=1e-3, is_training=True)(
        tf.zeros([1, 32, 32, 3]))
    in_graph = {loss.name.split('/kernel/Regularizer/')[0] + '/weights'
                for loss in tf.compat.v1.losses.get_regularization_losses()}
  assert in_graph
  decay = 3e-4
  module = ResNetModule(model, num_classes=10, weight_decay=decay)
  weights = module.variables_by_name
  assert set(module._store.regularizers) == in_graph  # pylint: disable=protected-access
  expected = decay * sum(float(tf.nn.l2_loss(weights[name]))
                         for name in in_graph)
  assert float(module.regularization_loss()) == pytest.approx(expected,
                                                              rel=1e-5)
  assert float(ResNetModule(model, num_classes=10,
                            weight_decay=0.0).regularization_loss()) == 0
