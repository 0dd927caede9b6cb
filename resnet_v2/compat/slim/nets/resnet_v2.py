"""`tf_slim.nets.resnet_v2`: pre-activation nets, tf-slim's signatures."""

# pylint: disable=unused-import
from resnet_v2.nets.arg_scope import resnet_arg_scope
from resnet_v2.nets.units import bottleneck
from resnet_v2.nets.resnet import resnet_v2
from resnet_v2.nets.resnet import resnet_v2_101
from resnet_v2.nets.resnet import resnet_v2_152
from resnet_v2.nets.resnet import resnet_v2_200
from resnet_v2.nets.resnet import resnet_v2_50
from resnet_v2.nets.resnet import resnet_v2_block
