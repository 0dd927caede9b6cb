"""Residual units: the functions a `blocks.Block` applies once per unit.

`bottleneck` is ResNet v2's full pre-activation unit (He et al. 2016,
"Identity Mappings in Deep Residual Networks"), as tf-slim's
`resnet_v2.bottleneck`; `bottleneck_v1` and `basic_v1` are ResNet v1's
post-activation units. Each takes one `Block` arg set (`depth`,
`depth_bottleneck`, `stride`) and a `rate` for atrous convolution.
"""

import tensorflow as tf
from tf_slim.layers import utils as slim_utils
from tf_slim.ops.arg_scope import add_arg_scope

from resnet_v2.nets import layers
from resnet_v2.nets.blocks import conv2d_same
from resnet_v2.nets.blocks import subsample


@add_arg_scope
def bottleneck(inputs, depth, depth_bottleneck, stride, rate=1,
               outputs_collections=None, scope=None, data_format='NHWC',
               plain=False):
  """The full pre-activation bottleneck unit of He et al. (2016b), Fig. 1(b).

  preact = ReLU(BN(inputs)); the residual is 1x1 -> 3x3 (strided, atrous)
  -> 1x1 convolutions on preact, the last without BN or ReLU; the shortcut is
  `inputs` subsampled when the depth is unchanged, else a strided 1x1
  convolution of preact. The unit returns shortcut + residual.

  Args:
    inputs: A tensor of shape [batch, height, width, channels].
    depth: Output depth of the unit.
    depth_bottleneck: Depth of the two inner convolutions.
    stride: Stride of the unit (applied by the 3x3 conv and the shortcut).
    rate: Atrous rate of the 3x3 convolution.
    outputs_collections: Collections to add the unit's output to.
    scope: Optional variable scope; defaults to 'bottleneck_v2'.
    data_format: 'NHWC' or 'NCHW'.
    plain: If True, no shortcut: the unit is its residual branch alone (for
      the plain-versus-residual experiment).

  Returns:
    The unit's output: height ceil(height / stride), width
    ceil(width / stride), `depth` channels.
  """
  with tf.compat.v1.variable_scope(scope, 'bottleneck_v2', [inputs]) as sc:
    preact = layers.batch_norm(inputs, activation_fn=tf.nn.relu,
                               scope='preact', data_format=data_format)
    if not plain:
      shortcut = _shortcut(inputs, preact, depth, stride, data_format,
                           normalizer_fn=None)
    residual = layers.conv2d(preact, depth_bottleneck, [1, 1], stride=1,
                             scope='conv1', data_format=data_format)
    residual = conv2d_same(residual, depth_bottleneck, 3, stride, rate=rate,
                           scope='conv2', data_format=data_format)
    residual = layers.conv2d(residual, depth, [1, 1], stride=1,
                             normalizer_fn=None, activation_fn=None,
                             scope='conv3', data_format=data_format)
    output = residual if plain else shortcut + residual
    return slim_utils.collect_named_outputs(outputs_collections, sc.name,
                                            output)


def _shortcut(inputs, projected_from, depth, stride, data_format, **kwargs):
  """The identity (subsampled) when the depth is unchanged, else a strided
  1x1 projection of `projected_from`, scoped 'shortcut'; kwargs go to the
  projection's conv2d."""
  if depth == inputs.shape[-1 if data_format == 'NHWC' else 1]:
    return subsample(inputs, stride, 'shortcut', data_format)
  kwargs.setdefault('activation_fn', None)
  return layers.conv2d(projected_from, depth, [1, 1], stride=stride,
                       scope='shortcut', data_format=data_format, **kwargs)


def _post_activation_sum(inputs, residual, depth, stride, data_format,
                         plain, bounded=False):
  """ReLU(shortcut + residual) of a v1 unit; ReLU(residual) when plain.

  bounded: the residual clipped to [-6, 6], ReLU6 on a projection shortcut
  and on the sum (tensorflow/models' use_bounded_activations).
  """
  if bounded:
    residual = tf.clip_by_value(residual, -6.0, 6.0)
  if not plain:
    residual += _shortcut(inputs, inputs, depth, stride, data_format,
                          activation_fn=tf.nn.relu6 if bounded else None)
  return tf.nn.relu6(residual) if bounded else tf.nn.relu(residual)


@add_arg_scope
def basic_v1(inputs, depth, stride, rate=1, outputs_collections=None,
             scope=None, data_format='NHWC', plain=False):
  """The basic unit of He et al. (2016a), as in their CIFAR-10 nets.

  Two 3x3 convolutions, each with BN, the first with ReLU; the shortcut
  (identity, or a strided 1x1 conv + BN when the depth changes) is added
  before the final ReLU. Its args are {'depth', 'stride'} (no bottleneck).

  Args:
    inputs: A tensor [batch, height, width, channels] (or NCHW).
    depth: Output depth of both convolutions.
    stride: Stride of the first convolution and the shortcut.
    rate: Atrous rate of the convolutions.
    outputs_collections: Collections to add the unit's output to.
    scope: Optional variable scope; defaults to 'basic_v1'.
    data_format: 'NHWC' or 'NCHW'.
    plain: If True, no shortcut.

  Returns:
    The unit's output, `depth` channels, spatially divided by `stride`.
  """
  with tf.compat.v1.variable_scope(scope, 'basic_v1', [inputs]) as sc:
    residual = conv2d_same(inputs, depth, 3, stride, rate=rate, scope='conv1',
                           data_format=data_format)
    residual = layers.conv2d(residual, depth, [3, 3], stride=1, rate=rate,
                             activation_fn=None, scope='conv2',
                             data_format=data_format)
    output = _post_activation_sum(inputs, residual, depth, stride,
                                  data_format, plain)
    return slim_utils.collect_named_outputs(outputs_collections, sc.name,
                                            output)


@add_arg_scope
def bottleneck_v1(inputs, depth, depth_bottleneck, stride, rate=1,
                  outputs_collections=None, scope=None, data_format='NHWC',
                  plain=False, use_bounded_activations=False):
  """The post-activation bottleneck unit of ResNet-50 v1 (He et al. 2016a).

  1x1 -> 3x3 (strided, atrous) -> 1x1 convolutions with BN, ReLU after the
  first two; the shortcut is added before the last ReLU. With the depth
  unchanged this is Keras's 'identity block'; with a projection shortcut
  (strided 1x1 conv + BN) its 'convolutional block'. Variable names are
  tf-slim's resnet_v1 ones ('bottleneck_v1/conv1', ...).

  Args:
    inputs: A tensor [batch, height, width, channels] (or NCHW).
    depth: Output depth of the unit.
    depth_bottleneck: Depth of the first two convolutions.
    stride: Stride of the 3x3 convolution and the shortcut.
    rate: Atrous rate of the 3x3 convolution.
    outputs_collections: Collections to add the unit's output to.
    scope: Optional variable scope; defaults to 'bottleneck_v1'.
    data_format: 'NHWC' or 'NCHW'.
    plain: If True, no shortcut.
    use_bounded_activations: ReLU6 on the projection shortcut and the sum,
      the residual clipped to [-6, 6] (tensorflow/models' option, for
      quantized inference).

  Returns:
    The unit's output, `depth` channels, spatially divided by `stride`.
  """
  with tf.compat.v1.variable_scope(scope, 'bottleneck_v1', [inputs]) as sc:
    residual = layers.conv2d(inputs, depth_bottleneck, [1, 1], stride=1,
                             scope='conv1', data_format=data_format)
    residual = conv2d_same(residual, depth_bottleneck, 3, stride, rate=rate,
                           scope='conv2', data_format=data_format)
    residual = layers.conv2d(residual, depth, [1, 1], stride=1,
                             activation_fn=None, scope='conv3',
                             data_format=data_format)
    output = _post_activation_sum(inputs, residual, depth, stride,
                                  data_format, plain,
                                  bounded=use_bounded_activations)
    return slim_utils.collect_named_outputs(outputs_collections, sc.name,
                                            output)
