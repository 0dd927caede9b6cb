"""serve.Model: one way from a model dir (or a net and a checkpoint) to a
net that runs (on OpenVINO: test_openvino)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import record as record_lib
from resnet_v2.nets import module as module_lib
from resnet_v2.serve import model as model_lib

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)

MODEL, CLASSES, SIZE = 'cifar_resnet_v1_8', 3, 32


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """(model dir, the module it was saved from, a batch of images)."""
  path = str(tmp_path_factory.mktemp('model') / 'run')
  tf.random.set_seed(1)
  module = module_lib.ResNetModule(MODEL, CLASSES)
  # Moving statistics far from (0, 1): a net that ignored them would differ.
  for name, variable in module.variables_by_name.items():
    if name.endswith('moving_mean'):
      variable.assign(tf.random.normal(variable.shape, 0, 0.5, seed=2))
    elif name.endswith('moving_variance'):
      variable.assign(tf.random.uniform(variable.shape, 0.5, 2.0, seed=3))
  prefix = checkpoint_files.save_by_name(module.variables_by_name,
                                    os.path.join(path, 'model.ckpt-1'))
  model_dir_lib.add_checkpoint(path, prefix)
  record_lib.Record(
      model=MODEL, num_classes=CLASSES, class_names=['a', 'b', 'c'],
      image_size=SIZE, preprocessing='cifar', labels_offset=0).write(path)
  images = np.random.default_rng(0).uniform(0, 1, (4, SIZE, SIZE, 3)).astype(
      np.float32)
  return path, module, images


def test_a_model_dir_runs_the_weights_it_holds(trained):
  path, module, images = trained
  net = model_lib.Model.load(path)
  assert (net.model, net.num_classes, net.image_size) == (MODEL, CLASSES,
                                                          SIZE)
  assert net.class_names == ['a', 'b', 'c'] and net.engine == 'tensorflow'
  out = net.run(images, ['logits', 'predictions', 'global_pool'])
  logits, points = module(images)
  np.testing.assert_allclose(out['logits'], logits.numpy(), rtol=1e-5,
                             atol=1e-5)
  np.testing.assert_allclose(out['global_pool'],
                             points['global_pool'].numpy(), rtol=1e-5,
                             atol=1e-5)
  np.testing.assert_allclose(out['predictions'].sum(1), 1.0, rtol=1e-5)
  assert net.top_k(out['predictions'][0], 2)[0][1] in ('a', 'b', 'c')


def test_bad_requests_name_the_problem(trained):
  path, _, images = trained
  with pytest.raises(ValueError, match='`model_dir` names the net'):
    model_lib.Model.load(path, model=MODEL)
  with pytest.raises(ValueError, match='drop `model` and `checkpoint`'):
    model_lib.Model.load(path, checkpoint=path + '/model.ckpt-1')
  with pytest.raises(ValueError, match='not neither'):
    model_lib.Model.load()
  with pytest.raises(ValueError, match='bf16.*openvino engine'):
    model_lib.Model.load(path, precision='bf16')
  with pytest.raises(ValueError, match='quantize'):
    model_lib.Model.load(path, precision='int8')
  with pytest.raises(ValueError, match='engine must be one of'):
    model_lib.Model.load(path, engine='onnx')
  net = model_lib.Model.load(path)
  with pytest.raises(ValueError, match=r"Unknown end_points \['block9'\]"):
    net.run(images, ['block9'])
  with pytest.raises(ValueError, match='no checkpoint yet'):
    empty = os.path.join(os.path.dirname(path), 'empty')
    record_lib.Record.read(path).write(empty)
    model_lib.Model.load(empty)


def test_a_net_by_name_takes_the_checkpoints_classes_and_size(trained,
                                                             capsys):
  path, _, images = trained
  checkpoint = record_lib.Record.from_model_dir(path).checkpoint()
  net = model_lib.Model.load(model=MODEL, checkpoint=checkpoint)
  assert (net.num_classes, net.image_size, net.class_names) == (CLASSES, 32,
                                                                None)
  np.testing.assert_allclose(
      net.run(images, ['logits'])['logits'],
      model_lib.Model.load(path).run(images, ['logits'])['logits'],
      rtol=1e-5, atol=1e-5)
  assert 'RANDOM' not in capsys.readouterr().err
  model_lib.Model.load(model=MODEL, num_classes=4)
  assert 'RANDOM weights' in capsys.readouterr().err
