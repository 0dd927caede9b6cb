"""Units: the v2 bottleneck's projection and identity shortcut."""

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from resnet_v2.nets import units

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def test_bottleneck_projects_only_when_depth_changes(graph):
  with resnet_v2.arg_scope(resnet_v2.resnet_arg_scope()):
    same = units.bottleneck(tf.zeros([2, 9, 9, 8]), 8, 2, stride=2,
                             scope='same')
    wider = units.bottleneck(tf.zeros([2, 9, 9, 4]), 8, 2, stride=2,
                              scope='wider')
  names = [v.op.name for v in tf.compat.v1.global_variables()]
  assert 'wider/shortcut/weights' in names and 'wider/shortcut/biases' in names
  assert not any(name.startswith('same/shortcut') for name in names)
  assert same.shape.as_list() == wider.shape.as_list() == [2, 5, 5, 8]


def test_bottleneck_identity_path_is_subsampled_input(session, rng):
  # With conv3's weights zero the residual is zero: the unit is its shortcut.
  x = rng.normal(size=(1, 5, 5, 4)).astype(np.float32)
  with resnet_v2.arg_scope(resnet_v2.resnet_arg_scope()):
    with resnet_v2.arg_scope([resnet_v2.conv2d],
                             weights_initializer=tf.zeros_initializer()):
      y = units.bottleneck(tf.constant(x), 4, 2, stride=2)
  session.run(tf.compat.v1.global_variables_initializer())
  np.testing.assert_array_equal(session.run(y), x[:, ::2, ::2, :])
