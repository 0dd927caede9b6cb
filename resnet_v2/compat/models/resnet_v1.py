"""tensorflow/models' `nets.resnet_v1`: `spatial_squeeze=True` by default,
`store_non_strided_activations`, `is_training=None` (batch norm's own
setting from the caller's arg scope), its positional orders (which differ
between depths: 152 and 200 take store_non_strided_activations before
spatial_squeeze) and exactly its end points. `bottleneck` takes
`use_bounded_activations` (set it with an arg scope)."""

# pylint: disable=unused-import
from resnet_v2.nets import resnet as _nets
from resnet_v2.nets.arg_scope import resnet_arg_scope
from resnet_v2.nets.units import bottleneck_v1 as bottleneck
from resnet_v2.nets.resnet import resnet_v1_block


def resnet_v1(inputs, blocks, num_classes=None, is_training=True,
              global_pool=True, output_stride=None, include_root_block=True,
              spatial_squeeze=True, store_non_strided_activations=False,
              reuse=None, scope=None):
  """tensorflow/models' signature over `nets.resnet_v1`."""
  return _nets.resnet_v1(
      inputs, blocks, num_classes or None, is_training, global_pool,
      output_stride, include_root_block, reuse, scope,
      spatial_squeeze=bool(spatial_squeeze and num_classes),
      store_non_strided_activations=store_non_strided_activations)


resnet_v1.default_image_size = _nets.default_image_size


def _published(name, squeeze_first):
  """resnet_v1_<depth>; upstream's later min_base_depth and
  depth_multiplier are keyword-only here (this copy's order has none)."""

  def build(inputs, num_classes, is_training, global_pool, output_stride,
            spatial_squeeze, store_non_strided_activations, reuse, scope,
            min_base_depth, depth_multiplier):
    blocks = _nets.resnet_v1_blocks(_nets.V1_NETS[name].units_per_block,
                                    min_base_depth, depth_multiplier)
    return resnet_v1(inputs, blocks, num_classes, is_training, global_pool,
                     output_stride, True, spatial_squeeze,
                     store_non_strided_activations, reuse, scope)

  if squeeze_first:
    def net(inputs, num_classes=None, is_training=True, global_pool=True,
            output_stride=None, spatial_squeeze=True,
            store_non_strided_activations=False, reuse=None, scope=name, *,
            min_base_depth=8, depth_multiplier=1):
      return build(inputs, num_classes, is_training, global_pool,
                   output_stride, spatial_squeeze,
                   store_non_strided_activations, reuse, scope,
                   min_base_depth, depth_multiplier)
  else:
    def net(inputs, num_classes=None, is_training=True, global_pool=True,
            output_stride=None, store_non_strided_activations=False,
            spatial_squeeze=True, reuse=None, scope=name, *,
            min_base_depth=8, depth_multiplier=1):
      return build(inputs, num_classes, is_training, global_pool,
                   output_stride, spatial_squeeze,
                   store_non_strided_activations, reuse, scope,
                   min_base_depth, depth_multiplier)

  net.__name__ = net.__qualname__ = name
  net.__doc__ = '%s in tensorflow/models\' signature.' % name
  net.default_image_size = _nets.default_image_size
  return net


resnet_v1_50 = _published('resnet_v1_50', squeeze_first=True)
resnet_v1_101 = _published('resnet_v1_101', squeeze_first=True)
resnet_v1_152 = _published('resnet_v1_152', squeeze_first=False)
resnet_v1_200 = _published('resnet_v1_200', squeeze_first=False)
