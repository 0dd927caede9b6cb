"""tensorflow/models' `nets.resnet_v2`: `spatial_squeeze=True` by default,
placed before `reuse`; `num_classes` 0 or None gives features; the end
points are exactly its own (no 'postnorm')."""

# pylint: disable=unused-import
from resnet_v2.nets import resnet as _nets
from resnet_v2.nets.arg_scope import resnet_arg_scope
from resnet_v2.nets.units import bottleneck
from resnet_v2.nets.resnet import resnet_v2_block


def resnet_v2(inputs, blocks, num_classes=None, is_training=True,
              global_pool=True, output_stride=None, include_root_block=True,
              spatial_squeeze=True, reuse=None, scope=None):
  """tensorflow/models' signature over `nets.resnet_v2`; the logits are
  squeezed to [batch, classes] when there are logits and spatial_squeeze."""
  net, end_points = _nets.resnet_v2(
      inputs, blocks, num_classes or None, is_training, global_pool,
      output_stride, include_root_block, reuse, scope,
      spatial_squeeze=bool(spatial_squeeze and num_classes))
  # tensorflow/models' postnorm is not an end point.
  return net, {name: point for name, point in end_points.items()
               if not name.endswith('/postnorm') or name.count('/') != 1}


resnet_v2.default_image_size = _nets.default_image_size


def _published(name):

  def net(inputs, num_classes=None, is_training=True, global_pool=True,
          output_stride=None, spatial_squeeze=True, reuse=None, scope=name):
    return resnet_v2(inputs, _nets.resnet_v2_blocks(
        _nets.NETS[name].units_per_block), num_classes, is_training,
                     global_pool, output_stride, True, spatial_squeeze, reuse,
                     scope)

  net.__name__ = net.__qualname__ = name
  net.__doc__ = '%s in tensorflow/models\' signature.' % name
  net.default_image_size = _nets.default_image_size
  return net


resnet_v2_50 = _published('resnet_v2_50')
resnet_v2_101 = _published('resnet_v2_101')
resnet_v2_152 = _published('resnet_v2_152')
resnet_v2_200 = _published('resnet_v2_200')
