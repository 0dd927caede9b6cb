"""The CIFAR-10 ResNets of He et al., built from the same blocks.

v1 ("Deep Residual Learning", 2016a, section 4.2): a 3x3 conv of 16 with BN
and ReLU, then three stages of n basic units (two 3x3 convs) of 16, 32 and
64 channels at 32x32, 16x16 and 8x8: depth 6n + 2 (20, 32, 44, 56, 110).
v2 ("Identity Mappings", 2016b): pre-activation bottleneck units of 64, 128
and 256 output channels (bottlenecks of 16, 32, 64), depth 9n + 2 (56, 110,
164), with postnorm. Both subsample in the first unit of stages 2 and 3, use
projection shortcuts where the depth changes, and end in global average
pooling and a 10-way classifier.
"""

import collections

from tf_slim.ops.arg_scope import arg_scope

from resnet_v2.nets import blocks as blocks_lib
from resnet_v2.nets import layers
from resnet_v2.nets import registry
from resnet_v2.nets import resnet as nets
from resnet_v2.nets import units

STAGE_DEPTHS = (16, 32, 64)
STAGE_STRIDES = (1, 2, 2)


def _root_v1(net):
  return blocks_lib.conv2d_same(net, 16, 3, 1, scope='conv1')


def _root_v2(net):
  # No BN or ReLU: the first unit's 'preact' applies them.
  with arg_scope([layers.conv2d], activation_fn=None, normalizer_fn=None):
    return blocks_lib.conv2d_same(net, 16, 3, 1, scope='conv1')


Version = collections.namedtuple('Version', ['unit_fn', 'root', 'postnorm'])
VERSIONS = {
    1: Version(units.basic_v1, nets.Root(_root_v1, 1), False),
    2: Version(units.bottleneck, nets.Root(_root_v2, 1), True),
}


def cifar_blocks(depth, version=1):
  """The three stages of a CIFAR ResNet as `Block`s."""
  n = registry.cifar_units_per_stage(depth, version)
  unit_fn = VERSIONS[version].unit_fn
  blocks = []
  for index, (width, stride) in enumerate(zip(STAGE_DEPTHS, STAGE_STRIDES)):
    if version == 1:
      unit = {'depth': width}
    else:
      unit = {'depth': 4 * width, 'depth_bottleneck': width}
    blocks.append(blocks_lib.Block(
        'block%d' % (index + 1), unit_fn,
        [dict(unit, stride=stride)] + [dict(unit, stride=1)] * (n - 1)))
  return blocks


def cifar_resnet(inputs, depth=20, version=1, num_classes=10,
                 is_training=True, plain=False, reuse=None, scope=None):
  """A CIFAR-10 ResNet (or, with plain=True, the same net without shortcuts).

  Args:
    inputs: Float images [batch, 32, 32, 3] (other sizes work too).
    depth: 6n + 2 for version 1, 9n + 2 for version 2.
    version: 1 (basic post-activation units) or 2 (pre-activation
      bottlenecks).
    num_classes: Number of logits.
    is_training: Batch statistics and updates (True) or moving ones.
    plain: If True, no unit has a shortcut ("plain" net of the papers).
    reuse: Whether to reuse the variables of `scope`.
    scope: Variable scope; default like 'resnet20_v1' or 'plain20_v1'.

  Returns:
    (logits [batch, num_classes], end_points).

  Raises:
    ValueError: on a bad depth or version, and as `nets.resnet` raises.
  """
  blocks = cifar_blocks(depth, version)
  spec = VERSIONS[version]
  default = '%s%d_v%d' % ('plain' if plain else 'resnet', depth, version)
  with arg_scope([spec.unit_fn], plain=plain):
    return nets.resnet(inputs, blocks, num_classes, is_training,
                       root=spec.root, postnorm=spec.postnorm, reuse=reuse,
                       scope=scope, default_scope=default,
                       spatial_squeeze=True)
