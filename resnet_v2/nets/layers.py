"""Layers the nets are made of: a batch normalization that works on current
TensorFlow, and the tf-slim layers that still do.

tf-slim 1.1.0's `batch_norm` imports `tf_keras.legacy_tf_layers` and fails on
every TensorFlow since 2.13. `batch_norm` here is written on the fused
batch-norm kernel directly, keeps slim's variable names (`beta`, `gamma`,
`moving_mean`, `moving_variance` under `BatchNorm`), its update mechanism
(`UPDATE_OPS` or in place) and its arg-scope behaviour. `max_pool2d` is
slim's interface over `tf.nn.max_pool2d`, so that NCHW also runs on CPUs
(TensorFlow's own CPU kernel pools NHWC only). `conv2d` and `softmax` are
tf-slim's own, re-exported so that one `arg_scope([conv2d], ...)` reaches
slim code and ours alike.
"""

import warnings

import tensorflow as tf
from tf_slim.layers import layers as slim_layers
from tf_slim.layers import utils as slim_utils
from tf_slim.ops import variables as slim_variables
from tf_slim.ops.arg_scope import add_arg_scope

from resnet_v2.nets import normalize
from resnet_v2.nets import platform

conv2d = slim_layers.conv2d
softmax = slim_layers.softmax

_DATA_FORMATS = ('NHWC', 'NCHW')

# tf-slim's conv2d calls the legacy `layer.apply`, which warns on every call.
warnings.filterwarnings('ignore', message='`layer.apply` is deprecated',
                        category=UserWarning)
warnings.filterwarnings('ignore', message='`layer.updates` will be removed',
                        category=UserWarning)


@add_arg_scope
def max_pool2d(inputs,
               kernel_size,
               stride=2,
               padding='VALID',
               data_format='NHWC',
               outputs_collections=None,
               scope=None):
  """2D max pooling with tf-slim's interface, NHWC or NCHW on any device.

  TensorFlow's CPU kernel pools NHWC tensors only (with oneDNN off it fails
  on NCHW at run time), so NCHW inputs are transposed to NHWC and back. On
  GPUs grappler's layout optimizer cancels the pair of transposes.

  Args:
    inputs: A rank-4 tensor in `data_format`.
    kernel_size: int or [height, width] of the pooling window.
    stride: int or [height, width] of the stride.
    padding: 'VALID' or 'SAME'.
    data_format: 'NHWC' or 'NCHW'.
    outputs_collections: Collections to add the output to.
    scope: Optional name scope; default 'MaxPool2D'.

  Returns:
    The pooled tensor, in `data_format`.

  Raises:
    ValueError: on a bad data_format.
  """
  if data_format not in _DATA_FORMATS:
    raise ValueError('data_format must be one of %s, got %r.' %
                     (_DATA_FORMATS, data_format))
  with tf.name_scope(scope or 'MaxPool2D') as sc:
    inputs = tf.convert_to_tensor(inputs)
    if data_format == 'NCHW':
      inputs = tf.transpose(inputs, [0, 2, 3, 1], name='to_nhwc')
    outputs = tf.nn.max_pool2d(inputs, kernel_size, stride, padding,
                               name='MaxPool')
    if data_format == 'NCHW':
      outputs = tf.transpose(outputs, [0, 3, 1, 2], name='to_nchw')
    return slim_utils.collect_named_outputs(outputs_collections, sc, outputs)


def _moving_average_update(variable, value, decay, name):
  """variable <- variable * decay + value * (1 - decay), as slim does it."""
  with tf.name_scope(name):
    return tf.compat.v1.assign_sub(variable, (variable - value) * (1.0 - decay))


@add_arg_scope
def batch_norm(inputs,
               decay=0.999,
               center=True,
               scale=False,
               epsilon=0.001,
               activation_fn=None,
               param_initializers=None,
               param_regularizers=None,
               updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS,
               is_training=True,
               reuse=None,
               variables_collections=None,
               outputs_collections=None,
               trainable=True,
               fused=None,
               data_format='NHWC',
               synchronized=False,
               scope=None):
  """Batch normalization (Ioffe & Szegedy, 2015) with tf-slim's interface.

  Usable on its own, as `normalizer_fn` of `conv2d`, and under `arg_scope`.
  In training the batch statistics normalize the input and the moving
  averages are updated: by ops added to `updates_collections`, or, when that
  is None, in place before the output is returned. In inference the moving
  averages normalize the input.

  Args:
    inputs: A float tensor of rank 2 or more; the last dimension (NHWC) or
      dimension 1 (NCHW) holds the channels and must be known.
    decay: Decay of the moving averages, e.g. 0.997.
    center: If True, add the offset `beta`.
    scale: If True, multiply by `gamma`.
    epsilon: Small float added to the variance.
    activation_fn: Optional activation applied to the output.
    param_initializers: Optional dict of initializers for `beta`, `gamma`,
      `moving_mean` and `moving_variance`.
    param_regularizers: Optional dict of regularizers for `beta` and `gamma`.
    updates_collections: Collection the update ops go to; None updates in
      place.
    is_training: Python bool or scalar bool tensor.
    reuse: Whether to reuse the variables of `scope`.
    variables_collections: Optional list, or dict keyed by variable name, of
      extra collections for the variables.
    outputs_collections: Collections to add the output to.
    trainable: If True, `beta` and `gamma` go to TRAINABLE_VARIABLES.
    fused: True to use the fused kernel on rank-4 inputs; False to use
      separate ops (always used for other ranks); None (default) for the
      faster of the two in this process: fused, except inference under
      oneDNN without AVX-512 kernels, where separate ops (a scale and a
      shift) avoid oneDNN's slow convolution + batch norm fusion.
    data_format: 'NHWC' or 'NCHW'.
    synchronized: In training under a `tf.distribute` strategy, normalize
      by the statistics of the whole global batch (an all-reduce across
      replicas) instead of each replica's own; the same formula with one
      replica.
    scope: Optional variable scope; defaults to 'BatchNorm'.

  Returns:
    The normalized tensor, of the shape and dtype of `inputs`.

  Raises:
    ValueError: on an unknown rank or channel dimension, or a bad data_format.
    TypeError: if `inputs` is not floating point.
  """
  inputs, rank, channel_axis, channels = _checked_inputs(inputs,
                                                        data_format)
  with tf.compat.v1.variable_scope(
      scope, 'BatchNorm', [inputs], reuse=reuse) as sc:
    beta, gamma, moving_mean, moving_variance = _variables(
        channels, center, scale, trainable, param_initializers or {},
        param_regularizers or {}, variables_collections)
    if fused is None:
      fused = not (normalize.as_static_bool(is_training) is False and
                   not platform.facts().fused_inference_batch_norm)
    use_fused = fused and rank == 4
    if synchronized and normalize.as_static_bool(is_training) is not False:
      outputs, mean, variance = normalize.synchronized(
          inputs, beta, gamma, moving_mean, moving_variance, epsilon,
          is_training, channel_axis)
    elif use_fused:
      outputs, mean, variance = normalize.fused(
          inputs, beta, gamma, moving_mean, moving_variance, epsilon,
          is_training, data_format, channels)
    else:
      outputs, mean, variance = normalize.plain(
          inputs, beta, gamma, moving_mean, moving_variance, epsilon,
          is_training, channel_axis)

    if normalize.as_static_bool(is_training) is not False:
      outputs = _update_moving_averages(
          outputs, is_training, moving_mean, moving_variance, mean, variance,
          decay, updates_collections)

    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return slim_utils.collect_named_outputs(outputs_collections, sc.name,
                                            outputs)


def _checked_inputs(inputs, data_format):
  """(inputs as a tensor, rank, channel axis, channels) of batch_norm's
  input; raises TypeError/ValueError naming what is wrong."""
  inputs = tf.convert_to_tensor(inputs)
  if not inputs.dtype.is_floating:
    raise TypeError('batch_norm needs floating-point inputs, got %s; cast '
                    'them first, e.g. tf.cast(x, tf.float32).' % inputs.dtype)
  if data_format not in _DATA_FORMATS:
    raise ValueError('data_format must be one of %s, got %r.' %
                     (_DATA_FORMATS, data_format))
  rank = inputs.shape.rank
  if rank is None or rank < 2:
    raise ValueError('batch_norm needs inputs of known rank >= 2, got shape '
                     '%s.' % inputs.shape)
  channel_axis = 1 if (data_format == 'NCHW' and rank > 2) else rank - 1
  channels = inputs.shape[channel_axis]
  if channels is None:
    raise ValueError('batch_norm needs a known channel dimension, got shape '
                     '%s; set it with tensor.set_shape().' % inputs.shape)
  return inputs, rank, channel_axis, channels


def _variables(channels, center, scale, trainable, initializers,
               regularizers, variables_collections):
  """(beta or None, gamma or None, moving_mean, moving_variance), with
  slim's names, in the current variable scope. They live in float32 even
  for bf16/fp16 inputs, as the fused kernel requires."""
  def make(name, initializer, trainable_var, regularizer=None):
    return slim_variables.model_variable(
        name,
        shape=[channels],
        dtype=tf.float32,
        initializer=initializers.get(name, initializer),
        regularizer=regularizer,
        collections=slim_utils.get_variable_collections(
            variables_collections, name),
        trainable=trainable_var)

  beta = make('beta', tf.compat.v1.zeros_initializer(), trainable,
              regularizers.get('beta')) if center else None
  gamma = make('gamma', tf.compat.v1.ones_initializer(), trainable,
               regularizers.get('gamma')) if scale else None
  moving_mean = make('moving_mean', tf.compat.v1.zeros_initializer(), False)
  moving_variance = make('moving_variance',
                         tf.compat.v1.ones_initializer(), False)
  return beta, gamma, moving_mean, moving_variance


def _update_moving_averages(outputs, is_training, moving_mean,
                            moving_variance, mean, variance, decay,
                            updates_collections):
  """Adds the moving-average updates to updates_collections, or (None)
  runs them before outputs; returns outputs."""
  updates = normalize.select(
      is_training,
      lambda: [_moving_average_update(moving_mean, mean, decay,
                                      'AssignMovingAvg'),
               _moving_average_update(moving_variance, variance, decay,
                                      'AssignMovingAvg_1')],
      lambda: [tf.identity(moving_mean), tf.identity(moving_variance)])
  if updates_collections is None:
    with tf.control_dependencies(updates):
      return tf.identity(outputs)
  for update in updates:
    tf.compat.v1.add_to_collections(updates_collections, update)
  return outputs
