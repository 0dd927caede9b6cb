"""TF2 interop: eager and tf.function calls, SavedModel, frozen graphs."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from resnet_v2 import checkpoints
from resnet_v2.nets.module import ResNetModule
from resnet_v2.serve import export
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


def test_saved_model_runs_in_a_fresh_process(module, images, tmp_path):
  path = tmp_path / 'served'
  export.export_saved_model(module, str(path), image_size=64,
                            end_points=['global_pool', 'resnet_v2_50/block4'])
  np.save(tmp_path / 'images.npy', images)
  script = textwrap.dedent('''
      import sys, numpy as np, tensorflow as tf
      serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']
      out = serve(images=tf.constant(np.load(sys.argv[2])))
      np.savez(sys.argv[3], **{k: v.numpy() for k, v in out.items()})
  ''')
  subprocess.run([sys.executable, '-c', script, str(path),
                  str(tmp_path / 'images.npy'), str(tmp_path / 'out.npz')],
                 check=True, capture_output=True)
  served = np.load(tmp_path / 'out.npz')
  assert sorted(served) == ['global_pool', 'probabilities',
                            'resnet_v2_50_block4']
  _, end_points = module(images)
  np.testing.assert_allclose(served['probabilities'],
                             end_points['predictions'].numpy(), rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(served['resnet_v2_50_block4'],
                             end_points['resnet_v2_50/block4'].numpy(),
                             rtol=1e-5, atol=1e-5)


def test_saved_model_refuses_unknown_end_points(module, tmp_path):
  with pytest.raises(ValueError, match='Unknown end_points'):
    export.export_saved_model(module, str(tmp_path / 'x'), 64, ['block9'])
  assert not (tmp_path / 'x').exists()


def test_frozen_graph_computes_what_the_session_does(checkpoint, images,
                                                     tmp_path):
  path = tmp_path / 'frozen.pb'
  with tf.Graph().as_default() as graph:
    inputs = tf.compat.v1.placeholder(tf.float32, [None, 64, 64, 3],
                                      name='images')
    _, end_points = resnet_v2.resnet_v2_50(inputs, num_classes=10,
                                           is_training=False,
                                           spatial_squeeze=True)
    with tf.compat.v1.Session(graph=graph) as session:
      checkpoints.restore(session, checkpoint)
      expected = session.run(end_points['predictions'], {inputs: images})
      (name,) = export.export_frozen_graph(
          session, [end_points['predictions']], str(path))
  assert name == 'resnet_v2_50/predictions/Reshape_1'  # tf-slim's name
  graph_def = tf.compat.v1.GraphDef.FromString(path.read_bytes())
  assert not [n for n in graph_def.node if n.op in ('VarHandleOp',
                                                    'VariableV2')]
  with tf.Graph().as_default() as frozen:
    tf.compat.v1.import_graph_def(graph_def, name='')
    with tf.compat.v1.Session(graph=frozen) as session:
      got = session.run(name + ':0', {'images:0': images})
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
