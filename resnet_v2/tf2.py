"""The nets from TF2 eager code and tf.function, with slim variable names.

`ResNetV2Module` builds a net once, in graph mode, inside
`tf.compat.v1.wrap_function`; its variables keep the TF-Slim names
(`resnet_v2_50/conv1/weights`, ...), so slim checkpoints restore into them,
and calling the module returns `(net, end_points)` as the graph function
does. The net runs in inference mode (moving batch-norm statistics): for
fine-tuning, gradients flow to every weight while batch norm stays frozen,
the usual choice for small fine-tuning batches.
"""

import tensorflow as tf

import resnet_v2
from resnet_v2 import checkpoints
from resnet_v2 import registry


class ResNetV2Module(tf.Module):
  """A resnet_v2 net as a `tf.Module`.

  Args:
    model: A registry name (`registry.NETWORKS`), e.g. 'resnet_v2_50'.
    num_classes: Logits to build, or None for features.
    scope: Variable scope; default the model's (as in the checkpoints).
      Another scope or NCHW: the published resnet_v2 depths only.
    data_format: 'NHWC' or 'NCHW'.
    plain: No shortcuts (nets that have the option).

  Raises:
    ValueError: on an unknown model (and as the net raises).
  """

  def __init__(self, model='resnet_v2_50', num_classes=None, scope=None,
               data_format='NHWC', name=None, plain=False):
    super().__init__(name=name or model)
    registry.get_spec(model)
    custom = scope is not None or data_format != 'NHWC'
    if custom and model not in resnet_v2.NETS:
      raise ValueError('scope and data_format can be changed for %s only, '
                       'not %r.' % (sorted(resnet_v2.NETS), model))
    self.model, self.num_classes = model, num_classes
    channels_last = data_format == 'NHWC'
    spec = tf.TensorSpec([None, None, None, 3] if channels_last
                         else [None, 3, None, None], tf.float32)

    def build(images):
      if not custom:
        return registry.get_network_fn(model, num_classes, plain=plain)(
            images)
      return getattr(resnet_v2, model)(
          images, num_classes=num_classes, is_training=False,
          scope=scope, spatial_squeeze=num_classes is not None,
          data_format=data_format)

    self._graph_function = tf.compat.v1.wrap_function(build, [spec])
    # Tracked, so tf.train.Checkpoint and SavedModel see them.
    self.net_variables = list(self._graph_function.variables)
    self.end_point_names = sorted(self._graph_function.structured_outputs[1])

  def __call__(self, images):
    """Runs the net: returns (net, {end point name: tensor})."""
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape.rank != 4:
      raise ValueError('images must be rank 4 [batch, height, width, 3], got '
                       'shape %s.' % images.shape)
    return self._graph_function(images)

  def restore(self, checkpoint_path, scope_map=None, exclude=()):
    """Restores a TF-Slim checkpoint; see `checkpoints.restore_eager`."""
    return checkpoints.restore_eager(self.net_variables, checkpoint_path,
                                     scope_map, exclude)
