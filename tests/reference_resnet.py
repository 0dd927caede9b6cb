"""An independent ResNet v2 forward pass in plain tf.nn ops, for differential
tests: it reads weights from a dict of arrays keyed by slim variable name and
shares no code with the package."""

import numpy as np
import tensorflow as tf


def _conv(x, weights, stride=1, rate=1):
  """Corner-aligned convolution: explicit padding when strided."""
  if stride == 1:
    return tf.nn.conv2d(x, weights, 1, 'SAME', dilations=rate)
  k = weights.shape[0] + (weights.shape[0] - 1) * (rate - 1)
  before = (k - 1) // 2
  x = tf.pad(x, [[0, 0], [before, k - 1 - before], [before, k - 1 - before],
                 [0, 0]])
  return tf.nn.conv2d(x, weights, stride, 'VALID', dilations=rate)


def _bn(x, w, prefix, training, epsilon=1e-5):
  if training:
    mean, variance = tf.nn.moments(x, [0, 1, 2])
  else:
    mean, variance = w[prefix + '/moving_mean'], w[prefix + '/moving_variance']
  return ((x - mean) * tf.math.rsqrt(variance + epsilon) * w[prefix + '/gamma']
          + w[prefix + '/beta'])


def _unit(x, w, prefix, depth, stride, training):
  preact = tf.nn.relu(_bn(x, w, prefix + '/preact', training))
  if x.shape[-1] == depth:
    shortcut = x[:, ::stride, ::stride, :]
  else:
    shortcut = _conv(preact, w[prefix + '/shortcut/weights'], stride) + (
        w[prefix + '/shortcut/biases'])
  r = tf.nn.relu(_bn(_conv(preact, w[prefix + '/conv1/weights']), w,
                     prefix + '/conv1/BatchNorm', training))
  r = tf.nn.relu(_bn(_conv(r, w[prefix + '/conv2/weights'], stride), w,
                     prefix + '/conv2/BatchNorm', training))
  r = _conv(r, w[prefix + '/conv3/weights']) + w[prefix + '/conv3/biases']
  return shortcut + r


def resnet_v2_forward(images, w, scope, block_units, training):
  """Returns (logits [N, classes], {block name: output}).

  Args:
    images: float32 array [N, H, W, C].
    w: dict of slim variable name (no ':0') -> array.
    scope: the net's scope name.
    block_units: list of (block name, [(depth, stride), ...]).
    training: use batch statistics instead of the moving ones.
  """
  x = tf.constant(images)
  x = _conv(x, w[scope + '/conv1/weights'], 2) + w[scope + '/conv1/biases']
  x = tf.nn.max_pool2d(x, 3, 2, 'SAME')
  blocks = {}
  for block, units in block_units:
    for index, (depth, stride) in enumerate(units):
      x = _unit(x, w, '%s/%s/unit_%d/bottleneck_v2' % (scope, block, index + 1),
                depth, stride, training)
    blocks[block] = x
  x = tf.nn.relu(_bn(x, w, scope + '/postnorm', training))
  x = tf.reduce_mean(x, [1, 2])
  logits = tf.matmul(x, np.squeeze(w[scope + '/logits/weights'], (0, 1))) + (
      w[scope + '/logits/biases'])
  return logits, blocks
