"""`tf_slim.nets.resnet_utils`: Block, subsample, conv2d_same,
stack_blocks_dense, resnet_arg_scope."""

# pylint: disable=unused-import
from resnet_v2.nets.arg_scope import resnet_arg_scope
from resnet_v2.nets.blocks import Block
from resnet_v2.nets.blocks import conv2d_same
from resnet_v2.nets.blocks import stack_blocks_dense
from resnet_v2.nets.blocks import subsample
