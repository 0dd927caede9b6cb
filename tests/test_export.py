"""serve.export: a SavedModel that runs in a fresh process, a frozen
GraphDef that computes what the session did, and refusals that leave
nothing behind."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from resnet_v2 import checkpoints
from resnet_v2.serve import export
from test_module import checkpoint  # noqa: F401 (a fixture)
from test_module import images  # noqa: F401 (a fixture)
from test_module import module  # noqa: F401 (a fixture)


def test_saved_model_runs_in_a_fresh_process(module, images, tmp_path):  # pylint: disable=redefined-outer-name
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
