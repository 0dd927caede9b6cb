"""tensorflow/models' `nets.resnet_utils`."""

from tf_slim.ops.arg_scope import add_arg_scope

# pylint: disable=unused-import
from resnet_v2.nets import blocks as _blocks
from resnet_v2.nets.arg_scope import resnet_arg_scope
from resnet_v2.nets.blocks import Block
from resnet_v2.nets.blocks import conv2d_same
from resnet_v2.nets.blocks import subsample


@add_arg_scope
def stack_blocks_dense(net, blocks, output_stride=None,
                       store_non_strided_activations=False,
                       outputs_collections=None):
  """`blocks.stack_blocks_dense` in tensorflow/models' positional order."""
  return _blocks.stack_blocks_dense(
      net, blocks, output_stride, outputs_collections,
      store_non_strided_activations=store_non_strided_activations)
