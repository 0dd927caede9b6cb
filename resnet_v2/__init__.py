"""resnet_v2: TF-Slim's ResNet v2 nets, working on current TensorFlow.

A drop-in for `tf_slim.nets.resnet_v2` and `tf_slim.nets.resnet_utils`:
change the import and the same code builds the same graph, with the same
variable names, so the published TF-Slim checkpoints restore.
"""

from resnet_v2 import quiet as _quiet

# The `resnet-v2` command shows TensorFlow's start-up log lines only with
# --verbose; they come when TensorFlow loads (just below), before the
# command's own module runs.
if _quiet.is_command_line():
  _quiet.filter_tensorflow_logs()

from resnet_v2.arg_scope import arg_scope  # pylint: disable=g-import-not-at-top,wrong-import-position
from resnet_v2.arg_scope import resnet_arg_scope
from resnet_v2.blocks import Block
from resnet_v2.blocks import basic_v1
from resnet_v2.blocks import bottleneck
from resnet_v2.blocks import bottleneck_v1
from resnet_v2.blocks import conv2d_same
from resnet_v2.blocks import stack_blocks_dense
from resnet_v2.blocks import subsample
from resnet_v2.layers import batch_norm
from resnet_v2.layers import conv2d
from resnet_v2.layers import max_pool2d
from resnet_v2.layers import softmax
from resnet_v2.cifar import cifar_resnet
from resnet_v2.nets import NETS
from resnet_v2.nets import Root
from resnet_v2.nets import default_image_size
from resnet_v2.nets import resnet
from resnet_v2.nets import V1_NETS
from resnet_v2.nets import resnet_v1
from resnet_v2.nets import resnet_v1_101
from resnet_v2.nets import resnet_v1_152
from resnet_v2.nets import resnet_v1_200
from resnet_v2.nets import resnet_v1_50
from resnet_v2.nets import resnet_v1_block
from resnet_v2.nets import resnet_v1_blocks
from resnet_v2.nets import resnet_v2
from resnet_v2.nets import resnet_v2_101
from resnet_v2.nets import resnet_v2_152
from resnet_v2.nets import resnet_v2_200
from resnet_v2.nets import resnet_v2_50
from resnet_v2.nets import resnet_v2_block
from resnet_v2.nets import resnet_v2_blocks

__all__ = [
    'Block',
    'NETS',
    'Root',
    'arg_scope',
    'basic_v1',
    'batch_norm',
    'bottleneck',
    'bottleneck_v1',
    'cifar_resnet',
    'conv2d',
    'conv2d_same',
    'default_image_size',
    'max_pool2d',
    'resnet',
    'resnet_arg_scope',
    'V1_NETS',
    'resnet_v1',
    'resnet_v1_101',
    'resnet_v1_152',
    'resnet_v1_200',
    'resnet_v1_50',
    'resnet_v1_block',
    'resnet_v1_blocks',
    'resnet_v2',
    'resnet_v2_101',
    'resnet_v2_152',
    'resnet_v2_200',
    'resnet_v2_50',
    'resnet_v2_block',
    'resnet_v2_blocks',
    'softmax',
    'stack_blocks_dense',
    'subsample',
]

__version__ = '0.1.0'
