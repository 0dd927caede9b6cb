"""The nets: published variables, end_points, numbers, training and errors."""

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from nets_for_tests import randomize
from reference_resnet import resnet_v2_forward

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)

GraphKeys = tf.compat.v1.GraphKeys
FACTORIES = {name: getattr(resnet_v2, name) for name in resnet_v2.NETS}


def published_variable_names(scope, units_per_block, num_classes=True):
  """The variable names of a published TF-Slim checkpoint, written out."""
  bn = ['beta', 'gamma', 'moving_mean', 'moving_variance']
  names = [scope + '/conv1/weights', scope + '/conv1/biases']
  names += [scope + '/postnorm/' + v for v in bn]
  if num_classes:
    names += [scope + '/logits/weights', scope + '/logits/biases']
  for b, units in enumerate(units_per_block):
    for u in range(units):
      unit = '%s/block%d/unit_%d/bottleneck_v2/' % (scope, b + 1, u + 1)
      names += [unit + 'preact/' + v for v in bn]
      names += [unit + c + '/weights' for c in ('conv1', 'conv2', 'conv3')]
      names += [unit + c + '/BatchNorm/' + v for c in ('conv1', 'conv2')
                for v in bn]
      names += [unit + 'conv3/biases']
      if u == 0:
        names += [unit + 'shortcut/weights', unit + 'shortcut/biases']
  return sorted(names)


@pytest.mark.parametrize('name', sorted(resnet_v2.NETS))
def test_variables_are_those_of_the_published_checkpoint(graph, name):
  facts = resnet_v2.NETS[name]
  FACTORIES[name](tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3]),
                  num_classes=1001)
  variables = tf.compat.v1.global_variables()
  assert sorted(v.op.name for v in variables) == published_variable_names(
      name, facts.units_per_block)
  assert len(variables) == facts.variables
  parameters = sum(v.shape.num_elements() for v in variables
                   if 'moving_' not in v.op.name)
  assert parameters == facts.parameters
  # One L2 loss per conv weight, one pair of BN updates per batch norm.
  assert len(tf.compat.v1.get_collection(GraphKeys.REGULARIZATION_LOSSES)) == (
      sum(1 for v in variables if v.op.name.endswith('/weights')))
  assert len(tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)) == 2 * sum(
      1 for v in variables if v.op.name.endswith('moving_mean'))


def test_published_shapes(graph):
  resnet_v2.resnet_v2_50(tf.zeros([1, 224, 224, 3]), num_classes=1001)
  shapes = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
  unit = 'resnet_v2_50/block1/unit_1/bottleneck_v2/'
  assert shapes['resnet_v2_50/conv1/weights'] == [7, 7, 3, 64]
  assert shapes[unit + 'preact/gamma'] == [64]
  assert shapes[unit + 'shortcut/weights'] == [1, 1, 64, 256]
  assert shapes[unit + 'conv2/weights'] == [3, 3, 64, 64]
  assert shapes[unit + 'conv2/BatchNorm/moving_variance'] == [64]
  assert shapes['resnet_v2_50/block4/unit_3/bottleneck_v2/conv3/weights'] == [
      1, 1, 512, 2048]
  assert shapes['resnet_v2_50/postnorm/beta'] == [2048]
  assert shapes['resnet_v2_50/logits/weights'] == [1, 1, 2048, 1001]
  assert shapes['resnet_v2_50/logits/biases'] == [1001]


def test_end_points_are_keyed_as_tf_slim_keys_them(graph):
  _, end_points = resnet_v2.resnet_v2_50(tf.zeros([2, 224, 224, 3]),
                                         num_classes=1001)
  expected = ['resnet_v2_50/conv1', 'resnet_v2_50/postnorm', 'global_pool',
              'resnet_v2_50/logits', 'predictions']
  for b, units in enumerate((3, 4, 6, 3)):
    expected.append('resnet_v2_50/block%d' % (b + 1))
    for u in range(units):
      unit = 'resnet_v2_50/block%d/unit_%d/bottleneck_v2' % (b + 1, u + 1)
      expected += [unit] + [unit + c for c in ('/conv1', '/conv2', '/conv3')]
      if u == 0:
        expected.append(unit + '/shortcut')
  assert sorted(end_points) == sorted(expected)
  shape = lambda key: end_points[key].shape.as_list()
  assert shape('resnet_v2_50/block1') == [2, 28, 28, 256]
  assert shape('resnet_v2_50/block2') == [2, 14, 14, 512]
  assert shape('resnet_v2_50/block3/unit_6/bottleneck_v2') == [2, 7, 7, 1024]
  assert shape('resnet_v2_50/block4') == [2, 7, 7, 2048]
  assert shape('global_pool') == [2, 1, 1, 2048]
  assert shape('resnet_v2_50/logits') == shape('predictions') == [2, 1, 1, 1001]


TINY_UNITS = [('block1', [(8, 1), (8, 2)]), ('block2', [(16, 1), (16, 1)])]


def tiny_net(inputs, is_training, **kwargs):
  blocks = [resnet_v2.resnet_v2_block('block1', 2, 2, 2),
            resnet_v2.resnet_v2_block('block2', 4, 2, 1)]
  return resnet_v2.resnet_v2(inputs, blocks, num_classes=5,
                             is_training=is_training, scope='tiny', **kwargs)


@pytest.mark.parametrize('is_training', [False, True])
def test_outputs_agree_with_an_independent_implementation(session, rng,
                                                          is_training):
  images = rng.normal(size=(3, 37, 35, 3)).astype(np.float32)
  logits, end_points = tiny_net(tf.constant(images), is_training,
                                spatial_squeeze=True)
  session.run(tf.compat.v1.global_variables_initializer())
  weights = randomize(session, rng)
  expected_logits, expected_blocks = resnet_v2_forward(
      images, weights, 'tiny', TINY_UNITS, is_training)
  got, want = session.run([(logits, end_points['tiny/block1']),
                           (expected_logits, expected_blocks['block1'])])
  assert got[0].shape == (3, 5)
  np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
  probabilities = session.run(end_points['predictions'])
  np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-6)


def test_training_updates_moving_statistics(session, rng):
  logits, _ = tiny_net(tf.constant(rng.normal(size=(4, 32, 32, 3)),
                                   tf.float32), is_training=True)
  moving = [v for v in tf.compat.v1.global_variables() if 'moving_' in v.name]
  updates = tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)
  session.run(tf.compat.v1.global_variables_initializer())
  before = session.run(moving)
  session.run(logits)
  assert all(np.array_equal(a, b) for a, b in zip(before, session.run(moving)))
  session.run(updates)
  changed = [not np.allclose(a, b) for a, b in zip(before, session.run(moving))]
  assert all(changed)


def test_inference_adds_no_updates(graph):
  tiny_net(tf.zeros([1, 32, 32, 3]), is_training=False)
  assert not tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)


def test_reuse_shares_every_variable(session, rng):
  images = tf.constant(rng.normal(size=(2, 32, 32, 3)), tf.float32)
  first, _ = tiny_net(images, is_training=False)
  count = len(tf.compat.v1.global_variables())
  second, _ = tiny_net(images, is_training=False, reuse=True)
  assert len(tf.compat.v1.global_variables()) == count
  session.run(tf.compat.v1.global_variables_initializer())
  randomize(session, rng)
  a, b = session.run([first, second])
  np.testing.assert_array_equal(a, b)


def test_without_arg_scope_the_published_net_is_built(session, rng):
  images = tf.constant(rng.normal(size=(2, 32, 32, 3)), tf.float32)
  bare, _ = tiny_net(images, is_training=False)
  bare_losses = len(tf.compat.v1.get_collection(GraphKeys.REGULARIZATION_LOSSES))
  with resnet_v2.arg_scope(resnet_v2.resnet_arg_scope()):
    # reuse=True fails on any variable the bare build did not create.
    scoped, _ = tiny_net(images, is_training=False, reuse=True)
  assert bare_losses == sum(1 for v in tf.compat.v1.global_variables()
                            if v.op.name.endswith('weights'))
  session.run(tf.compat.v1.global_variables_initializer())
  randomize(session, rng)
  a, b = session.run([bare, scoped])
  np.testing.assert_array_equal(a, b)


def test_callers_arg_scope_overrides_the_defaults(graph):
  with resnet_v2.arg_scope(resnet_v2.resnet_arg_scope(weight_decay=0.0)):
    tiny_net(tf.zeros([1, 32, 32, 3]), is_training=True)
  assert not tf.compat.v1.get_collection(GraphKeys.REGULARIZATION_LOSSES)


def test_unknown_batch_height_and_width_run(session):
  images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
  logits, end_points = tiny_net(images, is_training=False)
  assert logits.shape.as_list() == [None, 1, 1, 5]
  session.run(tf.compat.v1.global_variables_initializer())
  out = session.run(end_points['tiny/block2'],
                    {images: np.ones((2, 41, 33, 3))})
  assert out.shape == (2, 6, 5, 16)


@pytest.mark.parametrize('output_stride, size', [(8, 28), (16, 14), (32, 7)])
def test_output_stride_keeps_resolution(graph, output_stride, size):
  net, _ = resnet_v2.resnet_v2_50(tf.zeros([1, 224, 224, 3]),
                                  global_pool=False,
                                  output_stride=output_stride)
  assert net.shape.as_list() == [1, size, size, 2048]


def test_spatial_squeeze(graph):
  logits, end_points = resnet_v2.resnet_v2_101(
      tf.zeros([2, 64, 64, 3]), num_classes=7, spatial_squeeze=True)
  assert logits.shape.as_list() == [2, 7]
  assert end_points['predictions'].shape.as_list() == [2, 7]
  assert end_points['resnet_v2_101/logits'].shape.as_list() == [2, 1, 1, 7]


def test_factories_keep_tf_slims_positional_order(graph):
  images = tf.zeros([1, 64, 64, 3])
  resnet_v2.resnet_v2_50(images, 10, False, True, None, None, 'mine')
  assert tf.compat.v1.global_variables()[0].op.name.startswith('mine/')
  with pytest.raises(TypeError):
    # spatial_squeeze is keyword-only: a tensorflow/models positional call
    # fails loudly instead of binding reuse and scope to the wrong names.
    resnet_v2.resnet_v2_50(images, 10, False, True, None, True, None, 'x')
  assert resnet_v2.resnet_v2_152.default_image_size == 224


@pytest.mark.parametrize('make, kwargs, error, message', [
    (lambda: tf.zeros([224, 224, 3]), {}, ValueError, 'rank-4'),
    (lambda: tf.compat.v1.placeholder(tf.float32), {}, ValueError, 'rank-4'),
    (lambda: tf.compat.v1.placeholder(tf.float32, [1, 224, 224, None]), {},
     ValueError, 'known channel dimension'),
    (lambda: tf.zeros([1, 224, 224, 3], tf.uint8), {}, TypeError,
     'floating point.*convert_image_dtype'),
    (lambda: tf.zeros([1, 224, 224, 3]), {'output_stride': 6}, ValueError,
     'multiple of 4'),
    (lambda: tf.zeros([1, 224, 224, 3]), {'output_stride': 12}, ValueError,
     r'cannot be reached.*\[4, 8, 16, 32\]'),
    (lambda: tf.zeros([1, 224, 224, 3]), {'output_stride': 64}, ValueError,
     'cannot be reached'),
    (lambda: tf.zeros([1, 224, 224, 3]), {'num_classes': 0}, ValueError,
     'num_classes must be a positive integer'),
    (lambda: tf.zeros([1, 224, 224, 3]), {'num_classes': -3}, ValueError,
     'num_classes'),
    (lambda: tf.zeros([1, 224, 224, 3]), {'num_classes': 10.0}, ValueError,
     'num_classes'),
    (lambda: tf.zeros([1, 224, 224, 3]), {'num_classes': True}, ValueError,
     'num_classes'),
    (lambda: tf.zeros([1, 16, 224, 3]), {}, ValueError,
     'height is 16, below the minimum of 32.*at least 32x32'),
    (lambda: tf.compat.v1.placeholder(tf.float32, [None, 224, 31, 3]), {},
     ValueError, 'width is 31'),
    (lambda: tf.zeros([1, 224, 224, 3]),
     {'global_pool': False, 'spatial_squeeze': True}, ValueError,
     'needs global_pool'),
])
def test_bad_input_is_refused(graph, make, kwargs, error, message):
  with pytest.raises(error, match=message):
    resnet_v2.resnet_v2_50(make(), **kwargs)
  assert not tf.compat.v1.global_variables()


def test_malformed_blocks_are_refused(graph):
  with pytest.raises(ValueError, match='Block .block1., unit 1'):
    resnet_v2.resnet_v2(tf.zeros([1, 64, 64, 3]),
                        [resnet_v2.Block('block1', resnet_v2.bottleneck,
                                         [(64, 16)])])


@pytest.mark.onednn
@pytest.mark.parametrize('is_training', [False, True])
def test_nchw_computes_what_nhwc_computes(session, rng, is_training):
  images = rng.normal(size=(2, 35, 33, 3)).astype(np.float32)
  nhwc, nhwc_points = tiny_net(tf.constant(images), is_training)
  nchw, nchw_points = tiny_net(tf.constant(images.transpose(0, 3, 1, 2)),
                               is_training, reuse=True, data_format='NCHW')
  assert nchw.shape.as_list() == [2, 5, 1, 1]
  session.run(tf.compat.v1.global_variables_initializer())
  randomize(session, rng)
  for key in ('tiny/block1', 'tiny/postnorm', 'predictions'):
    a, b = session.run([nhwc_points[key], nchw_points[key]])
    np.testing.assert_allclose(a, b.transpose(0, 2, 3, 1), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.onednn
def test_nchw_gradients_are_the_nhwc_gradients(session, rng):
  images = rng.normal(size=(2, 35, 33, 3)).astype(np.float32)
  nhwc, _ = tiny_net(tf.constant(images), True)
  nchw, _ = tiny_net(tf.constant(images.transpose(0, 3, 1, 2)), True,
                     reuse=True, data_format='NCHW')
  variables = tf.compat.v1.trainable_variables()
  grads_nhwc = tf.gradients(tf.reduce_sum(tf.square(nhwc)), variables)
  grads_nchw = tf.gradients(tf.reduce_sum(tf.square(nchw)), variables)
  session.run(tf.compat.v1.global_variables_initializer())
  randomize(session, rng)
  for a, b in zip(*session.run([grads_nhwc, grads_nchw])):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_bad_data_format_is_refused(graph):
  with pytest.raises(ValueError, match='data_format must be one of'):
    resnet_v2.resnet_v2_50(tf.zeros([1, 64, 64, 3]), data_format='NWHC')
  with pytest.raises(ValueError, match=r'\[None, 3, None, None\]'):
    resnet_v2.resnet_v2_50(tf.compat.v1.placeholder(
        tf.float32, [1, None, 64, 64]), data_format='NCHW')


@pytest.mark.onednn
@pytest.mark.parametrize('data_format', ['NHWC', 'NCHW'])
def test_zero_pad_root_pooling_is_keras_pool1(session, rng, data_format):
  images = rng.normal(size=(2, 37, 35, 3)).astype(np.float32)
  if data_format == 'NCHW':
    images = images.transpose(0, 3, 1, 2)
  _, zero_pad = tiny_net(tf.constant(images), False, data_format=data_format,
                         root_pooling='zero_pad')
  tiny_net(tf.constant(images), False, data_format=data_format, reuse=True)
  session.run(tf.compat.v1.global_variables_initializer())
  # pool1 is no end point; its max pool runs NHWC in every data format.
  conv1, pooled, slim_pooled = session.run([
      zero_pad['tiny/conv1']] + [session.graph.get_tensor_by_name(
          scope + '/pool1/MaxPool:0') for scope in ('tiny', 'tiny_1')])
  if data_format == 'NCHW':
    conv1 = conv1.transpose(0, 2, 3, 1)
  # Keras: one zero on every side, then a VALID 3x3/2 max pool.
  padded = np.pad(conv1, [[0, 0], [1, 1], [1, 1], [0, 0]])
  rows, cols = (padded.shape[1] - 3) // 2 + 1, (padded.shape[2] - 3) // 2 + 1
  expected = np.stack([np.stack([
      padded[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max((1, 2))
      for j in range(cols)], 1) for i in range(rows)], 1)
  np.testing.assert_allclose(pooled, expected, rtol=1e-6)
  assert np.abs(slim_pooled - expected).max() > 1e-3


def test_an_unknown_root_pooling_is_refused(graph):
  with pytest.raises(ValueError, match="root_pooling must be one of"):
    resnet_v2.resnet_v2_50(tf.zeros([1, 64, 64, 3]), root_pooling='valid')
