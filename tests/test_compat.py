"""The ResNet v1 family and the drop-in facades: tf-slim's and
tensorflow/models' module layouts, signatures, defaults and end points.

tf-slim's own test files run in tests/test_tf_slim_compat.py; the
tensorflow/models test files are not in any package, so the behaviours they
check are tested here."""

import inspect

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from resnet_v2.compat import slim
from resnet_v2.compat.models import resnet_utils as models_utils
from resnet_v2.compat.models import resnet_v1 as models_v1
from resnet_v2.compat.models import resnet_v2 as models_v2
from resnet_v2.compat.slim.nets import resnet_v1 as slim_v1
from resnet_v2.compat.slim.nets import resnet_v2 as slim_v2
from resnet_v2.nets import registry


def grid(batch, height, width, channels=3):
  """tf-slim's test input: row + column index in every channel."""
  values = (np.arange(height)[:, None] + np.arange(width)[None, :]).astype(
      np.float32)
  return tf.constant(np.tile(values[None, :, :, None],
                             [batch, 1, 1, channels]))


def small_blocks(block=resnet_v2.resnet_v1_block):
  return [block('block1', base_depth=1, num_units=3, stride=2),
          block('block2', base_depth=2, num_units=3, stride=2),
          block('block3', base_depth=4, num_units=3, stride=2),
          block('block4', base_depth=8, num_units=2, stride=1)]


def parameters(variables):
  return sum(v.shape.num_elements() for v in variables
             if 'moving_' not in v.op.name)


@pytest.mark.parametrize('name', sorted(resnet_v2.V1_NETS))
def test_v1_depths_have_their_published_layout(graph, name):
  facts = resnet_v2.V1_NETS[name]
  getattr(resnet_v2, name)(
      tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3]),
      num_classes=1000)
  variables = tf.compat.v1.global_variables()
  assert len(variables) == facts.variables
  assert parameters(variables) == facts.parameters
  shapes = {v.op.name: v.shape.as_list() for v in variables}
  unit = name + '/block1/unit_1/bottleneck_v1/'
  assert shapes[name + '/conv1/weights'] == [7, 7, 3, 64]
  assert shapes[name + '/conv1/BatchNorm/gamma'] == [64]
  assert shapes[unit + 'shortcut/weights'] == [1, 1, 64, 256]
  assert shapes[unit + 'conv3/BatchNorm/moving_variance'] == [256]
  assert shapes[name + '/logits/weights'] == [1, 1, 2048, 1000]
  units = sum(facts.units_per_block)
  assert len([n for n in shapes if n.endswith('conv2/weights')]) == units


def test_resnet_v1_50_has_25557032_parameters(graph):
  resnet_v2.resnet_v1_50(tf.zeros([1, 224, 224, 3]), num_classes=1000)
  assert parameters(tf.compat.v1.global_variables()) == 25557032


def test_every_resnet_is_reachable_by_name():
  for depth in (50, 101, 152, 200):
    for version in (1, 2):
      spec = registry.get_spec('resnet_v%d_%d' % (version, depth))
      assert spec.checkpoint_classes == (1000 if version == 1 else 1001)
      assert spec.preprocessing == ('vgg' if version == 1 else 'inception')


def models_end_points(scope, units=(3, 3, 3, 2)):
  """tensorflow/models' expected v1 end points of the small net."""
  expected = [scope + '/conv1']
  for block, count in enumerate(units, 1):
    for unit in range(1, count + 1):
      prefix = '%s/block%d/unit_%d/bottleneck_v1' % (scope, block, unit)
      expected += [prefix + '/conv%d' % c for c in (1, 2, 3)] + [prefix]
    expected.append('%s/block%d/unit_1/bottleneck_v1/shortcut' % (scope,
                                                                    block))
    expected.append('%s/block%d' % (scope, block))
  return expected + ['global_pool', scope + '/logits',
                     scope + '/spatial_squeeze', 'predictions']


def test_models_v1_returns_exactly_its_end_points_and_squeezes(graph):
  with slim.arg_scope(models_utils.resnet_arg_scope()):
    logits, end_points = models_v1.resnet_v1(
        grid(2, 224, 224), small_blocks(models_v1.resnet_v1_block), 10,
        scope='resnet')
  assert sorted(end_points) == sorted(models_end_points('resnet'))
  assert logits.shape.as_list() == [2, 10]
  assert end_points['resnet/block1'].shape.as_list() == [2, 28, 28, 4]


def test_models_v2_squeezes_by_default_and_has_no_postnorm_end_point(graph):
  with slim.arg_scope(models_utils.resnet_arg_scope()):
    logits, end_points = models_v2.resnet_v2_50(tf.zeros([1, 64, 64, 3]),
                                                10)
  assert logits.shape.as_list() == [1, 10]
  assert 'resnet_v2_50/spatial_squeeze' in end_points
  assert not [n for n in end_points if n.endswith('postnorm')]
  # The project's own (tf-slim's) keeps it and the 4-d logits.
  with tf.Graph().as_default():
    logits, end_points = slim_v2.resnet_v2_50(tf.zeros([1, 64, 64, 3]), 10)
    assert logits.shape.as_list() == [1, 1, 1, 10]
    assert 'resnet_v2_50/postnorm' in end_points


def test_models_default_squeeze_without_pooling_or_classes_is_features(graph):
  # tensorflow/models squeezes only logits: this call is valid there.
  net, end_points = models_v2.resnet_v2(
      grid(2, 65, 65), small_blocks(resnet_v2.resnet_v2_block), None,
      global_pool=False)
  assert net.shape.as_list() == [2, 3, 3, 32]
  with tf.Graph().as_default():
    net, _ = models_v1.resnet_v1(grid(2, 65, 65), small_blocks(), 0,
                                 global_pool=False)
    assert net.shape.as_list() == [2, 3, 3, 32]
  assert 'predictions' not in end_points


def test_models_positional_orders():
  def names(fn):
    return list(inspect.signature(fn).parameters)
  common = ['inputs', 'num_classes', 'is_training', 'global_pool',
            'output_stride']
  assert names(models_v2.resnet_v2_50) == common + [
      'spatial_squeeze', 'reuse', 'scope']
  assert names(models_v1.resnet_v1_50)[:9] == common + [
      'spatial_squeeze', 'store_non_strided_activations', 'reuse', 'scope']
  assert names(models_v1.resnet_v1_152)[:9] == common + [
      'store_non_strided_activations', 'spatial_squeeze', 'reuse', 'scope']
  assert names(models_v1.resnet_v1)[:11] == [
      'inputs', 'blocks', 'num_classes', 'is_training', 'global_pool',
      'output_stride', 'include_root_block', 'spatial_squeeze',
      'store_non_strided_activations', 'reuse', 'scope']
  assert names(models_utils.stack_blocks_dense) == [
      'net', 'blocks', 'output_stride', 'store_non_strided_activations',
      'outputs_collections']
  # tf-slim's: spatial_squeeze is keyword-only, reuse follows output_stride.
  assert names(slim_v1.resnet_v1_50)[:7] == common + ['reuse', 'scope']
  assert names(slim_v1.resnet_v1)[:9] == [
      'inputs', 'blocks', 'num_classes', 'is_training', 'global_pool',
      'output_stride', 'include_root_block', 'reuse', 'scope']


def test_store_non_strided_activations_same_output_denser_end_points(graph):
  blocks = small_blocks()
  inputs = grid(1, 30, 31)
  with slim.arg_scope(models_utils.resnet_arg_scope()), \
      slim.arg_scope([slim.batch_norm], is_training=False):
    strided = models_utils.stack_blocks_dense(
        inputs, blocks, None, False, outputs_collections='strided')
    tf.compat.v1.get_variable_scope().reuse_variables()
    dense = models_utils.stack_blocks_dense(
        inputs, blocks, None, True, outputs_collections='dense')
  strided_points = slim.utils.convert_collection_to_dict('strided')
  dense_points = slim.utils.convert_collection_to_dict('dense')
  with tf.compat.v1.Session() as session:
    session.run(tf.compat.v1.global_variables_initializer())
    a, b, block1, block1_dense = session.run(
        [strided, dense, strided_points['block1'], dense_points['block1']])
  np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)
  assert block1_dense.shape[1:3] == (30, 31) and block1.shape[1:3] == (15, 16)
  np.testing.assert_allclose(block1, block1_dense[:, ::2, ::2], atol=1e-4,
                             rtol=1e-4)


def test_is_training_none_leaves_batch_norm_to_the_callers_scope(graph):
  with slim.arg_scope(models_utils.resnet_arg_scope()), \
      slim.arg_scope([slim.batch_norm], is_training=False):
    models_v1.resnet_v1(grid(2, 64, 64), small_blocks(), 10,
                        is_training=None)
  assert not tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  with tf.Graph().as_default():
    with slim.arg_scope(models_utils.resnet_arg_scope()):
      models_v1.resnet_v1(grid(2, 64, 64), small_blocks(), 10,
                          is_training=True)
    assert tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)


def test_bounded_activations_stay_within_six(graph):
  with slim.arg_scope(models_utils.resnet_arg_scope()), \
      slim.arg_scope([models_v1.bottleneck], use_bounded_activations=True):
    _, end_points = models_v1.resnet_v1(grid(1, 64, 64) * 10.0,
                                        small_blocks(), None,
                                        is_training=False)
  units = [p for n, p in end_points.items() if n.endswith('bottleneck_v1')]
  with tf.compat.v1.Session() as session:
    session.run(tf.compat.v1.global_variables_initializer())
    values = session.run(units)
  assert max(v.max() for v in values) <= 6.0
  assert max(v.max() for v in values) > 1.0  # not trivially small


def test_depth_multiplier_and_min_base_depth(graph):
  models_v1.resnet_v1_50(tf.zeros([1, 64, 64, 3]), depth_multiplier=0.0625,
                         min_base_depth=8)
  shapes = {v.op.name: v.shape.as_list()
            for v in tf.compat.v1.global_variables()}
  # block1: max(64 * 0.0625, 8) = 8; block4: 512 * 0.0625 = 32, fed by
  # block3's 4 * 16 channels.
  assert shapes['resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/weights'] == [
      1, 1, 64, 8]
  assert shapes['resnet_v1_50/block4/unit_1/bottleneck_v1/conv1/weights'] == [
      1, 1, 64, 32]


def test_slim_facade_has_the_batch_norm_that_works():
  assert slim.batch_norm is resnet_v2.batch_norm
  assert slim.conv2d is resnet_v2.conv2d
  with tf.Graph().as_default():
    net = slim.conv2d(tf.zeros([1, 8, 8, 3]), 4, [3, 3],
                      normalizer_fn=slim.batch_norm)
    assert net.shape.as_list() == [1, 8, 8, 4]
    assert [v for v in tf.compat.v1.global_variables()
            if v.op.name.endswith('BatchNorm/moving_mean')]
