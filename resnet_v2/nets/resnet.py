"""ResNet v2 networks (He et al., "Identity Mappings in Deep Residual
Networks", 2016) with TF-Slim's interface and variable names.

Each net is `conv1` (7x7/2, no BN or ReLU: the first unit pre-activates it)
-> `pool1` (3x3/2 max) -> four blocks of bottleneck units -> `postnorm`
(BN + ReLU, since pre-activation units leave their sum unnormalized) ->
global average pool -> 1x1 `logits` conv. Built under the published defaults
of `resnet_arg_scope()`; an arg scope the caller sets overrides them.
"""

import collections
import inspect
import numbers

import tensorflow as tf
from tf_slim.layers import utils as slim_utils
from tf_slim.ops.arg_scope import arg_scope
from tf_slim.ops.arg_scope import has_arg_scope

from resnet_v2.nets import blocks as blocks_lib
from resnet_v2.nets import layers
from resnet_v2.nets import platform
from resnet_v2.nets import units
from resnet_v2.nets.arg_scope import with_resnet_defaults

default_image_size = 224

Root = collections.namedtuple('Root', ['fn', 'stride'])
Root.__doc__ = """The layers before the first block: `fn(net) -> net`, built in
the net's scope, and the stride it applies."""


def _imagenet_root_v2(net):
  # No BN or ReLU on conv1: the first unit's 'preact' applies them.
  with arg_scope([layers.conv2d], activation_fn=None, normalizer_fn=None):
    net = blocks_lib.conv2d_same(net, 64, 7, stride=2, scope='conv1')
  return layers.max_pool2d(net, [3, 3], stride=2, scope='pool1')


def _imagenet_root_v2_zero_pad(net, data_format='NHWC'):
  """Keras's root: pool1 pads one zero on every side, then pools VALID."""
  with arg_scope([layers.conv2d], activation_fn=None, normalizer_fn=None):
    net = blocks_lib.conv2d_same(net, 64, 7, stride=2, scope='conv1')
  pad = ([[0, 0], [1, 1], [1, 1], [0, 0]] if data_format == 'NHWC' else
         [[0, 0], [0, 0], [1, 1], [1, 1]])
  net = tf.pad(net, pad, name='pool1_pad')
  return layers.max_pool2d(net, [3, 3], stride=2, padding='VALID',
                           scope='pool1')


def _imagenet_root_v1(net):
  net = blocks_lib.conv2d_same(net, 64, 7, stride=2, scope='conv1')
  return layers.max_pool2d(net, [3, 3], stride=2, scope='pool1')


# conv1 (7x7/2) and pool1 (3x3/2): without BN/ReLU for pre-activation
# nets, with them for post-activation (v1) nets.
IMAGENET_ROOT_V2 = Root(_imagenet_root_v2, 4)
IMAGENET_ROOT_V1 = Root(_imagenet_root_v1, 4)
# By `root_pooling` (registry.Conventions).
IMAGENET_ROOTS_V2 = {'same': IMAGENET_ROOT_V2,
                     'zero_pad': Root(_imagenet_root_v2_zero_pad, 4)}

NetFacts = collections.namedtuple(
    'NetFacts', ['units_per_block', 'variables', 'parameters', 'gflops'])
NetFacts.__doc__ = """Facts about a published ResNet v2 depth.

units_per_block: bottleneck units in block1..block4.
variables, parameters: of the net with num_classes=1001, as in the published
  TF-Slim checkpoints; variables counts the moving statistics, parameters
  does not.
gflops: per 224x224 image with 1000 classes, as TensorFlow's profiler counts
  tf-slim's graph (a multiply-add is 2 FLOPs).
"""

NETS = {
    'resnet_v2_50': NetFacts((3, 4, 6, 3), 272, 25570409, 7.11),
    'resnet_v2_101': NetFacts((3, 4, 23, 3), 544, 44579945, 14.63),
    'resnet_v2_152': NetFacts((3, 8, 36, 3), 816, 60238953, 22.14),
    'resnet_v2_200': NetFacts((3, 24, 36, 3), 1072, 64728169, 29.17),
}


def _is_int(value):
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


DATA_FORMATS = ('NHWC', 'NCHW')
_LAYOUTS = {'NHWC': '[batch, height, width, channels]',
            'NCHW': '[batch, channels, height, width]'}
_PLACEHOLDER_SHAPES = {'NHWC': '[None, None, None, 3]',
                       'NCHW': '[None, 3, None, None]'}


def check_images(inputs, min_size, name='inputs', data_format='NHWC'):
  """Converts `inputs` to a tensor and checks it can feed a ResNet.

  Args:
    inputs: Images, [batch, height, width, channels] (NHWC) or [batch,
      channels, height, width] (NCHW); batch, height and width may be unknown.
    min_size: Smallest height and width the net accepts.
    name: Name of the argument, for messages.
    data_format: 'NHWC' or 'NCHW'.

  Returns:
    `inputs` as a tensor.

  Raises:
    ValueError: on a rank other than 4, unknown channels, or a known height
      or width below `min_size`.
    TypeError: if `inputs` is not floating point.
  """
  inputs = tf.convert_to_tensor(inputs)
  if inputs.shape.rank != 4:
    raise ValueError('%s must be a rank-4 %s tensor, got shape %s; add a '
                     'batch dimension with tf.expand_dims(image, 0) for one '
                     'image.' % (name, _LAYOUTS[data_format], inputs.shape))
  if not inputs.dtype.is_floating:
    raise TypeError('%s must be floating point, got %s; convert images with '
                    'tf.image.convert_image_dtype or the preprocessing '
                    'functions.' % (name, inputs.dtype.name))
  if data_format == 'NHWC':
    _, height, width, channels = inputs.shape.as_list()
  else:
    _, channels, height, width = inputs.shape.as_list()
  if channels is None:
    raise ValueError('%s must have a known channel dimension, got shape %s '
                     '(%s); give the placeholder a shape like %s.' %
                     (name, inputs.shape, data_format,
                      _PLACEHOLDER_SHAPES[data_format]))
  for size, axis in ((height, 'height'), (width, 'width')):
    if size is not None and size < min_size:
      raise ValueError('%s %s is %d, below the minimum of %d for this '
                       'network (its output stride); resize or pad the '
                       'images to at least %dx%d.' %
                       (name, axis, size, min_size, min_size, min_size))
  return inputs


def _unit_fns_accepting(blocks, argument):
  """The blocks' arg-scoped unit functions that take `argument`.

  (tf-slim's arg_scoped_arguments lists local variables too, hence
  inspect.)
  """
  unit_fns = {block.unit_fn for block in blocks}
  return [fn for fn in unit_fns if has_arg_scope(fn) and
          argument in inspect.signature(fn).parameters]


def _check_output_stride(output_stride, blocks, root_stride):
  """Returns output_stride in units of the blocks, or raises ValueError."""
  if output_stride is None:
    return None
  valid = [root_stride * stride for stride in
           blocks_lib.reachable_output_strides(blocks)]
  if _is_int(output_stride) and output_stride % root_stride:
    raise ValueError('The output_stride needs to be a multiple of %d (the '
                     'stride of the root, conv1 and pool1), got %d; use one '
                     'of %s.' % (root_stride, output_stride, valid))
  if not _is_int(output_stride) or output_stride not in valid:
    raise ValueError('output_stride=%r cannot be reached by this network; '
                     'use one of %s or None.' % (output_stride, valid))
  return output_stride // root_stride


def _to_nchw(tensor):
  if tensor.shape.rank != 4:
    return tensor
  return tf.transpose(tensor, [0, 3, 1, 2],
                      name=tensor.op.name.split('/')[-1] + '_nchw')


def resnet(inputs,
           blocks,
           num_classes=None,
           is_training=True,
           global_pool=True,
           output_stride=None,
           root=IMAGENET_ROOT_V2,
           postnorm=True,
           reuse=None,
           scope=None,
           default_scope='resnet',
           spatial_squeeze=False,
           data_format='NHWC',
           store_non_strided_activations=False):
  """Builds a ResNet: root, blocks, [postnorm], [global pool], [logits].

  The one builder behind every net here (`resnet_v2`, the published depths,
  ResNet v1 and the CIFAR nets): what differs is data, the `Block`s and the
  `Root`, plus `postnorm` for pre-activation nets.

  Args:
    inputs: Float images [batch, height, width, channels] (NHWC) or
      [batch, channels, height, width] (NCHW); batch, height and width may
      be None.
    blocks: A list of `Block`s.
    num_classes: Number of logits, or None to return features.
    is_training: Python bool or bool tensor: batch statistics and
      moving-average updates (True) or moving statistics (False); None
      leaves batch norm's is_training to the caller's arg scope.
    global_pool: If True, average the final feature map to 1x1.
    output_stride: None, or the ratio of input to output resolution, e.g. 16
      for dense prediction (atrous convolution keeps that resolution).
    root: A `Root`, or None to feed `inputs` to the first block directly.
    postnorm: If True, BN + ReLU after the last block (pre-activation nets
      leave their last sum unnormalized).
    reuse: Whether to reuse the variables of `scope`.
    scope: Variable scope; default `default_scope`.
    default_scope: Scope name used when `scope` is None.
    spatial_squeeze: If True, squeeze the [batch, 1, 1, channels] output to
      [batch, channels]; needs global_pool.
    data_format: 'NHWC', or 'NCHW' (inputs, outputs and end_points are then
      [batch, channels, height, width]; variables are the same). Where
      NCHW convolutions cannot run (a CPU with oneDNN off), the net is
      built NHWC between transposes of its inputs and outputs.
    store_non_strided_activations: See `stack_blocks_dense`.

  Returns:
    net: Logits if num_classes is set, else features; [batch, 1, 1, C] with
      global_pool, else [batch, height_out, width_out, C].
    end_points: Dict of every conv, unit and block output, 'postnorm',
      'global_pool' (with global_pool), 'logits' and 'predictions' (with
      num_classes), keyed by op scope name as in tf-slim.

  Raises:
    ValueError: on malformed inputs, blocks, num_classes or output_stride.
    TypeError: on non-floating inputs.
  """
  blocks_lib.validate_blocks(blocks)
  if data_format not in DATA_FORMATS:
    raise ValueError('data_format must be one of %s, got %r.' %
                     (DATA_FORMATS, data_format))
  if num_classes is not None and (not _is_int(num_classes) or
                                  num_classes <= 0):
    raise ValueError('num_classes must be a positive integer or None (for '
                     'features), got %r.' % (num_classes,))
  if spatial_squeeze and not global_pool:
    raise ValueError('spatial_squeeze=True needs global_pool=True: without '
                     'pooling the output is not 1x1.')
  root_stride = root.stride if root else 1
  block_stride = _check_output_stride(output_stride, blocks, root_stride)
  nominal_stride = root_stride * blocks_lib.reachable_output_strides(
      blocks)[-1]
  inputs = check_images(inputs, nominal_stride, data_format=data_format)
  if data_format == 'NCHW' and not platform.facts().nchw_native:
    # Same variables and results, built NHWC between two transposes.
    net, end_points = resnet(
        tf.transpose(inputs, [0, 2, 3, 1]), blocks, num_classes,
        is_training, global_pool, output_stride, root, postnorm, reuse,
        scope, default_scope, spatial_squeeze, data_format='NHWC',
        store_non_strided_activations=store_non_strided_activations)
    return _to_nchw(net), {name: _to_nchw(point)
                           for name, point in end_points.items()}
  spatial_axes = [1, 2] if data_format == 'NHWC' else [2, 3]

  with tf.compat.v1.variable_scope(
      scope, default_scope, [inputs], reuse=reuse) as sc, \
      with_resnet_defaults():
    end_points_collection = sc.original_name_scope + '_end_points'
    with arg_scope([layers.conv2d, blocks_lib.stack_blocks_dense] +
                   _unit_fns_accepting(blocks, 'outputs_collections'),
                   outputs_collections=end_points_collection), \
        arg_scope([layers.batch_norm], **(
            {} if is_training is None else {'is_training': is_training})), \
        arg_scope([layers.conv2d, layers.batch_norm, layers.max_pool2d,
                   blocks_lib.conv2d_same, blocks_lib.stack_blocks_dense] +
                  _unit_fns_accepting(blocks, 'data_format'),
                  data_format=data_format):
      net = inputs
      if root:
        takes_format = 'data_format' in inspect.signature(root.fn).parameters
        net = root.fn(inputs, **({'data_format': data_format}
                                 if takes_format else {}))
      net = blocks_lib.stack_blocks_dense(
          net, blocks, block_stride,
          store_non_strided_activations=store_non_strided_activations)
      if postnorm:
        net = layers.batch_norm(net, activation_fn=tf.nn.relu,
                                scope='postnorm',
                                outputs_collections=end_points_collection)
      end_points = slim_utils.convert_collection_to_dict(
          end_points_collection)
      if global_pool:
        net = tf.reduce_mean(net, spatial_axes, name='pool5', keepdims=True)
        end_points['global_pool'] = net
      if num_classes is not None:
        net = layers.conv2d(net, num_classes, [1, 1], activation_fn=None,
                            normalizer_fn=None, scope='logits')
        end_points[sc.name + '/logits'] = net
      if spatial_squeeze:
        net = tf.squeeze(net, spatial_axes, name='SpatialSqueeze')
        end_points[sc.name + '/spatial_squeeze'] = net
      if num_classes is not None and (data_format == 'NHWC' or
                                      spatial_squeeze):
        # tf-slim's op, so its output name is the one slim graphs export.
        end_points['predictions'] = layers.softmax(net, scope='predictions')
      elif num_classes is not None:
        end_points['predictions'] = tf.nn.softmax(net, axis=1,
                                                  name='predictions')
      return net, end_points


resnet.default_image_size = default_image_size


def resnet_v2(inputs,
              blocks,
              num_classes=None,
              is_training=True,
              global_pool=True,
              output_stride=None,
              include_root_block=True,
              reuse=None,
              scope=None,
              *,
              spatial_squeeze=False,
              data_format='NHWC',
              root_pooling='same'):
  """Builds a ResNet v2 (pre-activation) net from a list of blocks.

  tf-slim's function: the positional order is tf-slim's, so its callers work
  unchanged; `spatial_squeeze`, `data_format` and `root_pooling` are
  keyword-only. See `resnet` for the arguments; `include_root_block`
  chooses between the ImageNet root (conv1 7x7/2 + pool1) and none, in
  which case `inputs` should be the output of an activation-less
  convolution. `root_pooling`: 'same' (TF-Slim's pool1) or 'zero_pad'
  (Keras's: one zero on every side, then VALID; for weights from Keras's
  ResNet V2, see `registry.CONVENTIONS`).
  """
  if root_pooling not in IMAGENET_ROOTS_V2:
    raise ValueError('root_pooling must be one of %s, got %r.' % (
        sorted(IMAGENET_ROOTS_V2), root_pooling))
  return resnet(inputs, blocks, num_classes, is_training, global_pool,
                output_stride,
                root=IMAGENET_ROOTS_V2[root_pooling] if include_root_block
                else None,
                postnorm=True, reuse=reuse, scope=scope,
                default_scope='resnet_v2', spatial_squeeze=spatial_squeeze,
                data_format=data_format)


resnet_v2.default_image_size = default_image_size


def resnet_v2_block(scope, base_depth, num_units, stride):
  """Returns a block of bottleneck units that subsamples in its last unit.

  Args:
    scope: Name of the block, e.g. 'block1'.
    base_depth: Bottleneck depth; units output 4 * base_depth channels.
    num_units: Number of units.
    stride: Stride of the last unit; the others have stride 1.

  Returns:
    A `Block`.
  """
  unit = {'depth': base_depth * 4, 'depth_bottleneck': base_depth}
  return blocks_lib.Block(
      scope, units.bottleneck,
      [dict(unit, stride=1)] * (num_units - 1) + [dict(unit, stride=stride)])


def resnet_v2_blocks(units_per_block):
  """Returns the four blocks of an ImageNet ResNet v2.

  Args:
    units_per_block: Units in block1..block4, e.g. (3, 4, 6, 3) for 50.

  Returns:
    A list of four `Block`s of base depths 64, 128, 256, 512 and strides
    2, 2, 2, 1.
  """
  return [
      resnet_v2_block('block%d' % (index + 1), 64 * 2**index, units, stride)
      for index, (units, stride) in enumerate(
          zip(units_per_block, (2, 2, 2, 1)))
  ]


def _published_net(name, inputs, num_classes, is_training, global_pool,
                   output_stride, reuse, scope, **options):
  return resnet_v2(inputs, resnet_v2_blocks(NETS[name].units_per_block),
                   num_classes, is_training, global_pool, output_stride,
                   include_root_block=True, reuse=reuse, scope=scope,
                   **options)


def resnet_v2_50(inputs, num_classes=None, is_training=True, global_pool=True,
                 output_stride=None, reuse=None, scope='resnet_v2_50', *,
                 spatial_squeeze=False, data_format='NHWC',
                 root_pooling='same'):
  """ResNet-50 v2, blocks of (3, 4, 6, 3) units. See `resnet_v2`."""
  return _published_net('resnet_v2_50', inputs, num_classes, is_training,
                        global_pool, output_stride, reuse, scope,
                        spatial_squeeze=spatial_squeeze,
                        data_format=data_format, root_pooling=root_pooling)


def resnet_v2_101(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None, reuse=None,
                  scope='resnet_v2_101', *, spatial_squeeze=False,
                  data_format='NHWC', root_pooling='same'):
  """ResNet-101 v2, blocks of (3, 4, 23, 3) units. See `resnet_v2`."""
  return _published_net('resnet_v2_101', inputs, num_classes, is_training,
                        global_pool, output_stride, reuse, scope,
                        spatial_squeeze=spatial_squeeze,
                        data_format=data_format, root_pooling=root_pooling)


def resnet_v2_152(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None, reuse=None,
                  scope='resnet_v2_152', *, spatial_squeeze=False,
                  data_format='NHWC', root_pooling='same'):
  """ResNet-152 v2, blocks of (3, 8, 36, 3) units. See `resnet_v2`."""
  return _published_net('resnet_v2_152', inputs, num_classes, is_training,
                        global_pool, output_stride, reuse, scope,
                        spatial_squeeze=spatial_squeeze,
                        data_format=data_format, root_pooling=root_pooling)


def resnet_v2_200(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None, reuse=None,
                  scope='resnet_v2_200', *, spatial_squeeze=False,
                  data_format='NHWC', root_pooling='same'):
  """ResNet-200 v2, blocks of (3, 24, 36, 3) units. See `resnet_v2`."""
  return _published_net('resnet_v2_200', inputs, num_classes, is_training,
                        global_pool, output_stride, reuse, scope,
                        spatial_squeeze=spatial_squeeze,
                        data_format=data_format, root_pooling=root_pooling)


for _net in (resnet_v2_50, resnet_v2_101, resnet_v2_152, resnet_v2_200):
  _net.default_image_size = default_image_size
del _net


def resnet_v1_block(scope, base_depth, num_units, stride):
  """A block of ResNet v1 bottleneck units that subsamples in its last unit.

  Args: as `resnet_v2_block`.

  Returns:
    A `Block` of `bottleneck_v1` units.
  """
  unit = {'depth': base_depth * 4, 'depth_bottleneck': base_depth}
  return blocks_lib.Block(
      scope, units.bottleneck_v1,
      [dict(unit, stride=1)] * (num_units - 1) + [dict(unit, stride=stride)])


def resnet_v1(inputs,
              blocks,
              num_classes=None,
              is_training=True,
              global_pool=True,
              output_stride=None,
              include_root_block=True,
              reuse=None,
              scope=None,
              *,
              spatial_squeeze=False,
              store_non_strided_activations=False,
              data_format='NHWC'):
  """Builds a ResNet v1 (post-activation) net from a list of blocks.

  tf-slim's function and positional order; `resnet` with the v1 root (conv1
  7x7/2 with BN and ReLU, pool1) or none, and no postnorm (v1 units end in
  a ReLU). See `resnet` for the arguments.
  """
  return resnet(inputs, blocks, num_classes, is_training, global_pool,
                output_stride,
                root=IMAGENET_ROOT_V1 if include_root_block else None,
                postnorm=False, reuse=reuse, scope=scope,
                default_scope='resnet_v1', spatial_squeeze=spatial_squeeze,
                data_format=data_format,
                store_non_strided_activations=store_non_strided_activations)


resnet_v1.default_image_size = default_image_size

# Facts of the ResNet v1 depths, as `NETS` (1000 classes, as the published
# v1 checkpoints; FLOPs not counted).
V1_NETS = {
    'resnet_v1_50': NetFacts((3, 4, 6, 3), 267, 25557032, None),
    'resnet_v1_101': NetFacts((3, 4, 23, 3), 522, 44549160, None),
    'resnet_v1_152': NetFacts((3, 8, 36, 3), 777, 60192808, None),
    'resnet_v1_200': NetFacts((3, 24, 36, 3), 1017, 64673832, None),
}


def resnet_v1_blocks(units_per_block, min_base_depth=8, depth_multiplier=1):
  """The four ResNet v1 blocks; depths scaled by `depth_multiplier` (at
  least `min_base_depth`), as tensorflow/models' option."""
  def base_depth(depth):
    return max(int(depth * depth_multiplier), min_base_depth)
  return [resnet_v1_block('block%d' % (index + 1), base_depth(64 * 2**index),
                          units, 2 if index < 3 else 1)
          for index, units in enumerate(units_per_block)]


def _published_v1(name, inputs, num_classes, is_training, global_pool,
                  output_stride, reuse, scope, options):
  """ResNet v1 (He et al. 2016a) with tf-slim's variable names: conv1 with
  BN and ReLU, post-activation bottleneck units, no postnorm. Positional
  arguments as tf-slim's; options (keyword-only in the nets): those of
  `resnet` and `resnet_v1`, `plain=True` (no shortcuts) and
  tensorflow/models' `store_non_strided_activations`, `min_base_depth`,
  `depth_multiplier` and `use_bounded_activations`."""
  blocks = resnet_v1_blocks(V1_NETS[name].units_per_block,
                            options.pop('min_base_depth'),
                            options.pop('depth_multiplier'))
  unit_options = {'plain': options.pop('plain'),
                  'use_bounded_activations': options.pop(
                      'use_bounded_activations')}
  with arg_scope([units.bottleneck_v1], **unit_options):
    return resnet_v1(inputs, blocks, num_classes, is_training, global_pool,
                     output_stride, True, reuse, scope, **options)


def resnet_v1_50(inputs, num_classes=None, is_training=True,
                 global_pool=True, output_stride=None, reuse=None,
                 scope='resnet_v1_50', *, spatial_squeeze=False,
                 data_format='NHWC', plain=False,
                 store_non_strided_activations=False, min_base_depth=8,
                 depth_multiplier=1, use_bounded_activations=False):
  """ResNet-50 v1, blocks of (3, 4, 6, 3) units. See `_published_v1`."""
  return _published_v1('resnet_v1_50', inputs, num_classes, is_training,
                       global_pool, output_stride, reuse, scope, dict(
                           spatial_squeeze=spatial_squeeze,
                           data_format=data_format, plain=plain,
                           store_non_strided_activations=(
                               store_non_strided_activations),
                           min_base_depth=min_base_depth,
                           depth_multiplier=depth_multiplier,
                           use_bounded_activations=use_bounded_activations))


def resnet_v1_101(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None, reuse=None,
                  scope='resnet_v1_101', *, spatial_squeeze=False,
                  data_format='NHWC', plain=False,
                  store_non_strided_activations=False, min_base_depth=8,
                  depth_multiplier=1, use_bounded_activations=False):
  """ResNet-101 v1, blocks of (3, 4, 23, 3) units. See `_published_v1`."""
  return _published_v1('resnet_v1_101', inputs, num_classes, is_training,
                       global_pool, output_stride, reuse, scope, dict(
                           spatial_squeeze=spatial_squeeze,
                           data_format=data_format, plain=plain,
                           store_non_strided_activations=(
                               store_non_strided_activations),
                           min_base_depth=min_base_depth,
                           depth_multiplier=depth_multiplier,
                           use_bounded_activations=use_bounded_activations))


def resnet_v1_152(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None, reuse=None,
                  scope='resnet_v1_152', *, spatial_squeeze=False,
                  data_format='NHWC', plain=False,
                  store_non_strided_activations=False, min_base_depth=8,
                  depth_multiplier=1, use_bounded_activations=False):
  """ResNet-152 v1, blocks of (3, 8, 36, 3) units. See `_published_v1`."""
  return _published_v1('resnet_v1_152', inputs, num_classes, is_training,
                       global_pool, output_stride, reuse, scope, dict(
                           spatial_squeeze=spatial_squeeze,
                           data_format=data_format, plain=plain,
                           store_non_strided_activations=(
                               store_non_strided_activations),
                           min_base_depth=min_base_depth,
                           depth_multiplier=depth_multiplier,
                           use_bounded_activations=use_bounded_activations))


def resnet_v1_200(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None, reuse=None,
                  scope='resnet_v1_200', *, spatial_squeeze=False,
                  data_format='NHWC', plain=False,
                  store_non_strided_activations=False, min_base_depth=8,
                  depth_multiplier=1, use_bounded_activations=False):
  """ResNet-200 v1, blocks of (3, 24, 36, 3) units. See `_published_v1`."""
  return _published_v1('resnet_v1_200', inputs, num_classes, is_training,
                       global_pool, output_stride, reuse, scope, dict(
                           spatial_squeeze=spatial_squeeze,
                           data_format=data_format, plain=plain,
                           store_non_strided_activations=(
                               store_non_strided_activations),
                           min_base_depth=min_base_depth,
                           depth_multiplier=depth_multiplier,
                           use_bounded_activations=use_bounded_activations))


for _net in (resnet_v1_50, resnet_v1_101, resnet_v1_152, resnet_v1_200):
  _net.default_image_size = default_image_size
del _net
