"""`tf_slim.nets.resnet_v1`: post-activation nets, tf-slim's signatures."""

# pylint: disable=unused-import
from resnet_v2.nets.arg_scope import resnet_arg_scope
from resnet_v2.nets.units import bottleneck_v1 as bottleneck
from resnet_v2.nets.resnet import resnet_v1
from resnet_v2.nets.resnet import resnet_v1_101
from resnet_v2.nets.resnet import resnet_v1_152
from resnet_v2.nets.resnet import resnet_v1_200
from resnet_v2.nets.resnet import resnet_v1_50
from resnet_v2.nets.resnet import resnet_v1_block
