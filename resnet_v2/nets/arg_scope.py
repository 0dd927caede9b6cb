"""The one place the ResNet defaults live: `resnet_arg_scope`.

The published TF-Slim checkpoints were trained with these settings: every
convolution carries L2 weight decay and He initialization and, unless it says
otherwise, is followed by batch norm and ReLU; max pooling pads 'SAME'.
"""

import tensorflow as tf
from tf_slim.layers import initializers
from tf_slim.layers import regularizers
from tf_slim.ops import arg_scope as slim_arg_scope

from resnet_v2.nets import layers

arg_scope = slim_arg_scope.arg_scope


def resnet_arg_scope(weight_decay=0.0001,
                     batch_norm_decay=0.997,
                     batch_norm_epsilon=1e-5,
                     batch_norm_scale=True,
                     activation_fn=tf.nn.relu,
                     use_batch_norm=True,
                     batch_norm_updates_collections=(
                         tf.compat.v1.GraphKeys.UPDATE_OPS)):
  """Returns the arg scope the ResNet v2 nets are defined with.

  Args:
    weight_decay: L2 regularization scale of the convolution weights.
    batch_norm_decay: Decay of the batch-norm moving averages.
    batch_norm_epsilon: Epsilon added to the batch-norm variance.
    batch_norm_scale: If True, batch norm has a `gamma` multiplier.
    activation_fn: Activation of the convolutions (not of the pre-activation
      batch norms, which are always ReLU, as published).
    use_batch_norm: If False, convolutions get no batch norm.
    batch_norm_updates_collections: Collection of the moving-average update
      ops; None updates them in place.

  Returns:
    An arg scope dict to enter with `arg_scope(resnet_arg_scope())`.
  """
  batch_norm_params = {
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      'scale': batch_norm_scale,
      'updates_collections': batch_norm_updates_collections,
  }
  with arg_scope(
      [layers.conv2d],
      weights_regularizer=regularizers.l2_regularizer(weight_decay),
      weights_initializer=initializers.variance_scaling_initializer(),
      activation_fn=activation_fn,
      normalizer_fn=layers.batch_norm if use_batch_norm else None,
      normalizer_params=batch_norm_params):
    with arg_scope([layers.batch_norm], **batch_norm_params):
      # 'SAME' pooling keeps feature maps aligned with the image corners, as
      # fb.resnet.torch does.
      with arg_scope([layers.max_pool2d], padding='SAME') as scope:
        return scope


def with_resnet_defaults():
  """Enters `resnet_arg_scope()` under whatever arg scope is active now.

  The caller's settings win; the published defaults fill in what the caller
  left unset, so a net built without any arg scope is the published net.

  Returns:
    A context manager.
  """
  current = slim_arg_scope.current_arg_scope()
  merged = dict(resnet_arg_scope())
  for key, kwargs in current.items():
    merged[key] = dict(merged.get(key, {}), **kwargs)
  return arg_scope(merged)
