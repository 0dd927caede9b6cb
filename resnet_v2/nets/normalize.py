"""How `layers.batch_norm` computes: the fused kernel, separate ops, or
statistics synchronized across `tf.distribute` replicas.

Each takes the input, the four variables (beta and gamma may be None),
epsilon and is_training (a Python bool or a bool tensor, then both branches
are built under a cond), and returns (outputs, batch mean, batch variance);
the statistics are the moving ones in inference.
"""

import tensorflow as tf


def as_static_bool(value):
  """Returns value as a Python bool if it is known now, else None."""
  if isinstance(value, bool):
    return value
  return None if tf.get_static_value(value) is None else bool(
      tf.get_static_value(value))


def select(is_training, if_training, if_inference):
  """Calls one branch when is_training is static, builds a cond otherwise."""
  static = as_static_bool(is_training)
  if static is None:
    return tf.compat.v1.cond(is_training, if_training, if_inference)
  return if_training() if static else if_inference()


def fused(inputs, beta, gamma, moving_mean, moving_variance,
                     epsilon, is_training, data_format, channels):
  """Normalizes a rank-4 tensor with the fused kernel.

  Returns:
    (outputs, batch mean, batch variance); the statistics are the moving
    ones in inference.
  """
  offset = beta if beta is not None else tf.zeros([channels])
  factor = gamma if gamma is not None else tf.ones([channels])

  def training():
    return tf.compat.v1.nn.fused_batch_norm(
        inputs, factor, offset, epsilon=epsilon, data_format=data_format,
        is_training=True)

  def inference():
    return tf.compat.v1.nn.fused_batch_norm(
        inputs, factor, offset, mean=moving_mean, variance=moving_variance,
        epsilon=epsilon, data_format=data_format, is_training=False)

  return select(is_training, training, inference)


def _channel_layout(inputs, channel_axis):
  """(the axes to reduce over, fn(per-channel vector) -> it shaped to
  broadcast against inputs, in their dtype; None stays None)."""
  axes = [axis for axis in range(inputs.shape.rank) if axis != channel_axis]
  broadcast = [1] * inputs.shape.rank
  broadcast[channel_axis] = -1

  def shaped(variable):
    return None if variable is None else tf.reshape(
        tf.cast(variable, inputs.dtype), broadcast)
  return axes, shaped


def synchronized(inputs, beta, gamma, moving_mean,
                            moving_variance, epsilon, is_training,
                            channel_axis):
  """Normalizes by the statistics of all replicas (sums all-reduced).

  Returns:
    (outputs, global batch mean, global batch variance with Bessel's
    correction, as the fused kernel gives it for the moving average); the
    moving statistics in inference.
  """
  axes, shaped = _channel_layout(inputs, channel_axis)

  def training():
    values = tf.cast(inputs, tf.float32)
    local = [tf.reduce_sum(values, axes),
             tf.reduce_sum(tf.square(values), axes),
             tf.cast(tf.size(values) // tf.shape(values)[channel_axis],
                     tf.float32)]
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
      local = context.all_reduce(tf.distribute.ReduceOp.SUM, local)
    total, squares, count = local
    mean = total / count
    variance = tf.maximum(squares / count - tf.square(mean), 0.0)
    return mean, variance, count

  def inference():
    return (tf.identity(moving_mean), tf.identity(moving_variance),
            tf.constant(1.0))

  mean, variance, count = select(is_training, training, inference)
  outputs = tf.nn.batch_normalization(
      inputs, shaped(mean), shaped(variance), shaped(beta), shaped(gamma),
      epsilon)
  unbiased = variance * count / tf.maximum(count - 1.0, 1.0)
  return outputs, mean, tf.where(count > 1.0, unbiased, variance)


def plain(inputs, beta, gamma, moving_mean, moving_variance,
                     epsilon, is_training, channel_axis):
  """Normalizes a tensor of any rank with separate ops.

  Returns:
    (outputs, batch mean, batch variance); the statistics are the moving
    ones in inference.
  """
  axes, shaped = _channel_layout(inputs, channel_axis)

  def training():
    mean, variance = tf.nn.moments(tf.cast(inputs, tf.float32), axes)
    return mean, variance

  def inference():
    return tf.identity(moving_mean), tf.identity(moving_variance)

  mean, variance = select(is_training, training, inference)
  outputs = tf.nn.batch_normalization(
      inputs, shaped(mean), shaped(variance), shaped(beta), shaped(gamma),
      epsilon)
  return outputs, mean, variance
