"""CIFAR nets and v1 units: sizes from the papers, plain nets, end_points."""

import pytest
import tensorflow as tf

import resnet_v2
from resnet_v2.nets import cifar

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def parameters(scope=None):
  return sum(v.shape.num_elements() for v in tf.compat.v1.global_variables(scope)
             if 'moving_' not in v.name)


@pytest.mark.parametrize('depth, version, millions', [
    (20, 1, 0.27), (56, 1, 0.85), (110, 1, 1.7), (164, 2, 1.7)])
def test_parameter_counts_match_the_papers(graph, depth, version, millions):
  cifar.cifar_resnet(tf.zeros([1, 32, 32, 3]), depth, version)
  assert parameters() / 1e6 == pytest.approx(millions, rel=0.05)


def test_stages_and_end_points(graph):
  logits, end_points = cifar.cifar_resnet(tf.zeros([2, 32, 32, 3]), 20)
  assert logits.shape.as_list() == [2, 10]
  assert end_points['resnet20_v1/block1'].shape.as_list() == [2, 32, 32, 16]
  assert end_points['resnet20_v1/block2'].shape.as_list() == [2, 16, 16, 32]
  assert end_points['resnet20_v1/block3'].shape.as_list() == [2, 8, 8, 64]
  units = [k for k in end_points if k.endswith('basic_v1')]
  assert len(units) == 9
  convs = [v for v in tf.compat.v1.global_variables()
           if v.op.name.endswith('weights')]
  assert len(convs) == 20 + 2  # 19 convs + fc, and two projection shortcuts


@pytest.mark.parametrize('version', [1, 2])
def test_plain_nets_have_no_shortcuts_or_sums(graph, version):
  depth = {1: 20, 2: 56}[version]
  cifar.cifar_resnet(tf.zeros([1, 32, 32, 3]), depth, version, plain=True)
  residual_scope = 'resnet%d_v%d' % (depth, version)
  cifar.cifar_resnet(tf.zeros([1, 32, 32, 3]), depth, version)

  def sums(scope):
    # Sums of the forward pass (not of initializers or weight decay).
    return [op for op in graph.get_operations() if op.name.startswith(scope)
            and op.type in ('Add', 'AddV2') and '/block' in op.name
            and 'Initializer' not in op.name and 'Regularizer' not in op.name]
  plain_scope = 'plain%d_v%d' % (depth, version)
  assert not [v for v in tf.compat.v1.global_variables(plain_scope)
              if 'shortcut' in v.name]
  assert not sums(plain_scope + '/')
  assert [v for v in tf.compat.v1.global_variables(residual_scope)
          if 'shortcut' in v.name]
  assert len(sums(residual_scope + '/')) == (depth - 2) // (
      6 if version == 1 else 9) * 3


@pytest.mark.parametrize('depth, version, message', [
    (21, 1, r'6n \+ 2'), (30, 2, r'9n \+ 2'), (20, 3, 'version must be')])
def test_bad_depths_are_refused(graph, depth, version, message):
  with pytest.raises(ValueError, match=message):
    cifar.cifar_resnet(tf.zeros([1, 32, 32, 3]), depth, version)


def test_resnet_v1_50_has_tf_slims_layout(graph):
  _, end_points = resnet_v2.resnet_v1_50(tf.zeros([1, 224, 224, 3]),
                                         num_classes=1000)
  names = {v.op.name for v in tf.compat.v1.global_variables()}
  unit = 'resnet_v1_50/block1/unit_1/bottleneck_v1/'
  assert {unit + 'shortcut/weights', unit + 'shortcut/BatchNorm/gamma',
          unit + 'conv2/BatchNorm/moving_mean',
          'resnet_v1_50/conv1/BatchNorm/beta'} <= names
  assert not any('postnorm' in n or n.endswith('conv3/biases') for n in names)
  # The 25,557,032 parameters of every ResNet-50 v1 with 1000 classes.
  assert parameters() == 25557032
  assert end_points['resnet_v1_50/block4'].shape.as_list() == [1, 7, 7, 2048]


def test_v1_identity_unit_adds_its_input(session, rng):
  import numpy as np  # pylint: disable=g-import-not-at-top
  x = rng.normal(size=(1, 4, 4, 8)).astype(np.float32)
  with resnet_v2.arg_scope(resnet_v2.resnet_arg_scope()), \
      resnet_v2.arg_scope([resnet_v2.conv2d],
                          weights_initializer=tf.zeros_initializer()):
    y = resnet_v2.bottleneck_v1(tf.constant(x), 8, 2, stride=1)
  session.run(tf.compat.v1.global_variables_initializer())
  # Zero weights: the residual is BN(0) = 0, so the unit is ReLU(input).
  np.testing.assert_allclose(session.run(y), np.maximum(x, 0), atol=1e-6)
