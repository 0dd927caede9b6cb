"""Residual blocks: the `Block` description of a net and the ops that stack it.

A network body is data: a list of `Block`s, each naming a variable scope, the
unit function to apply and one argument set per unit. `stack_blocks_dense`
applies them in order and, for dense prediction, keeps the feature map at a
chosen output stride by switching to atrous (dilated) convolution once that
stride is reached.

As in TF-Slim, a block subsamples in its last unit rather than its first,
which gives the same result as He et al.'s layout with less memory.
"""

import collections
import numbers

import tensorflow as tf
from tf_slim.layers import utils as slim_utils
from tf_slim.ops.arg_scope import add_arg_scope

from resnet_v2.nets import layers

UNIT_ARG_NAMES = ('depth', 'depth_bottleneck', 'stride')


class Block(collections.namedtuple('Block', ['scope', 'unit_fn', 'args'])):
  """One ResNet block: a scope name, a unit function and its per-unit args.

  Fields:
    scope: Name of the block's variable scope, e.g. 'block1'.
    unit_fn: Function `unit_fn(net, rate=..., **unit_args)` returning a tensor.
    args: A list with one entry per unit: a dict of keyword arguments for
      `unit_fn`, or a `(depth, depth_bottleneck, stride)` tuple.
  """


def _positive_int(value):
  return (isinstance(value, numbers.Integral) and not isinstance(value, bool)
          and value > 0)


def unit_kwargs(block, index):
  """Returns the keyword arguments of unit `index` of `block`, checked.

  Args:
    block: A `Block`.
    index: Index of the unit in `block.args`.

  Returns:
    A new dict of keyword arguments for `block.unit_fn`.

  Raises:
    ValueError: if the unit's args are malformed.
  """
  unit = block.args[index]
  where = 'Block %r, unit %d' % (block.scope, index + 1)
  if isinstance(unit, (tuple, list)):
    if len(unit) != len(UNIT_ARG_NAMES):
      raise ValueError('%s: a tuple of args must be (depth, depth_bottleneck, '
                       'stride), got %r.' % (where, unit))
    unit = dict(zip(UNIT_ARG_NAMES, unit))
  elif isinstance(unit, collections.abc.Mapping):
    unit = dict(unit)
  else:
    raise ValueError('%s: args must be a dict or a (depth, depth_bottleneck, '
                     'stride) tuple, got %r.' % (where, unit))
  for name in UNIT_ARG_NAMES:
    if name in unit and not _positive_int(unit[name]):
      raise ValueError('%s: %s must be a positive integer, got %r.' %
                       (where, name, unit[name]))
  return unit


def validate_blocks(blocks):
  """Checks a list of `Block`s before any op is built.

  Args:
    blocks: The list to check.

  Raises:
    ValueError: if `blocks` or any of its blocks or units is malformed.
  """
  if isinstance(blocks, Block) or not isinstance(blocks, (list, tuple)):
    raise ValueError('blocks must be a list of Block, got %r.' % (blocks,))
  if not blocks:
    raise ValueError('blocks must hold at least one Block, got an empty list.')
  for position, block in enumerate(blocks):
    if not isinstance(block, Block):
      raise ValueError('blocks[%d] must be a Block(scope, unit_fn, args), got '
                       '%r.' % (position, block))
    if not isinstance(block.scope, str) or not block.scope:
      raise ValueError('blocks[%d]: scope must be a non-empty string, got %r.'
                       % (position, block.scope))
    if not callable(block.unit_fn):
      raise ValueError('Block %r: unit_fn must be callable, got %r.' %
                       (block.scope, block.unit_fn))
    if not isinstance(block.args, (list, tuple)) or not block.args:
      raise ValueError('Block %r: args must be a non-empty list with one '
                       'entry per unit, got %r.' % (block.scope, block.args))
    for index in range(len(block.args)):
      unit_kwargs(block, index)


def reachable_output_strides(blocks):
  """Lists the output strides `stack_blocks_dense` can produce for `blocks`.

  Args:
    blocks: A list of `Block`s.

  Returns:
    The sorted distinct products of unit strides from the first unit to each
    unit, starting with 1; the last one is the nominal stride.
  """
  strides, current = [1], 1
  for block in blocks:
    for index in range(len(block.args)):
      current *= unit_kwargs(block, index).get('stride', 1)
      strides.append(current)
  return sorted(set(strides))


def subsample(inputs, factor, scope=None, data_format='NHWC'):
  """Subsamples a feature map by taking every `factor`-th row and column.

  Args:
    inputs: A tensor of shape [batch, height, width, channels] (NHWC) or
      [batch, channels, height, width] (NCHW).
    factor: The subsampling factor.
    scope: Optional scope for the pooling op.
    data_format: 'NHWC' or 'NCHW'.

  Returns:
    `inputs` itself when factor is 1, else `inputs` with height and width
    ceil(size / factor).
  """
  if factor == 1:
    return inputs
  return layers.max_pool2d(inputs, [1, 1], stride=factor, scope=scope,
                           data_format=data_format)


@add_arg_scope
def conv2d_same(inputs, num_outputs, kernel_size, stride, rate=1, scope=None,
                data_format='NHWC'):
  """2-D convolution whose output is aligned with the input's corners.

  With stride 1 this is a 'SAME' convolution. With a larger stride the input
  is zero-padded explicitly and convolved 'VALID', which equals a stride-1
  'SAME' convolution followed by `subsample`, for odd and even sizes alike
  (a strided 'SAME' convolution does not, on even sizes).

  Args:
    inputs: A tensor of shape [batch, height, width, channels].
    num_outputs: Number of output channels.
    kernel_size: Size of the square kernel, an int.
    stride: Output stride, an int.
    rate: Atrous (dilation) rate, an int.
    scope: Optional variable scope.
    data_format: 'NHWC' or 'NCHW'.

  Returns:
    A tensor of height ceil(height / stride), width ceil(width / stride) and
    num_outputs channels.
  """
  if stride == 1:
    return layers.conv2d(inputs, num_outputs, kernel_size, stride=1, rate=rate,
                         padding='SAME', scope=scope, data_format=data_format)
  effective_kernel = kernel_size + (kernel_size - 1) * (rate - 1)
  pad_before = (effective_kernel - 1) // 2
  spatial = [pad_before, effective_kernel - 1 - pad_before]
  paddings = ([[0, 0], spatial, spatial, [0, 0]] if data_format == 'NHWC'
              else [[0, 0], [0, 0], spatial, spatial])
  return layers.conv2d(tf.pad(inputs, paddings), num_outputs, kernel_size,
                       stride=stride, rate=rate, padding='VALID', scope=scope,
                       data_format=data_format)


def _unreachable(output_stride, blocks):
  return ValueError(
      'output_stride=%s cannot be reached by these blocks: it must be one of '
      '%s (the products of the unit strides) or None.' %
      (output_stride, reachable_output_strides(blocks)))


@add_arg_scope
def stack_blocks_dense(net, blocks, output_stride=None,
                       outputs_collections=None, *,
                       store_non_strided_activations=False,
                       data_format='NHWC'):
  """Applies `blocks` in order, optionally keeping a dense output.

  Scopes are 'block_scope/unit_1', 'block_scope/unit_2', ... Once the
  product of the strides applied so far equals `output_stride`, later units
  run with stride 1 and an atrous rate multiplied by the strides they skip,
  so the features keep that resolution.

  Args:
    net: A tensor of shape [batch, height, width, channels].
    blocks: A list of `Block`s.
    output_stride: None for the nominal stride, or the wanted ratio of input
      to output resolution; one of `reachable_output_strides(blocks)`.
    outputs_collections: Collections to add each block's output to.
    store_non_strided_activations: If True, each block's last unit runs
      with stride 1 and the block's output is collected before it is
      subsampled by that stride (the tensorflow/models option: denser
      end points for dense prediction, 4x the cost of those units).
    data_format: 'NHWC' or 'NCHW' (for that subsampling).

  Returns:
    The output of the last block.

  Raises:
    ValueError: if `blocks` is malformed or `output_stride` unreachable.
  """
  validate_blocks(blocks)
  if output_stride is not None:
    if output_stride != int(output_stride) or output_stride not in (
        reachable_output_strides(blocks)):
      raise _unreachable(output_stride, blocks)
    output_stride = int(output_stride)
  current_stride, rate = 1, 1
  for block in blocks:
    with tf.compat.v1.variable_scope(block.scope, 'block', [net]) as sc:
      block_stride = 1
      for index in range(len(block.args)):
        unit = unit_kwargs(block, index)
        if store_non_strided_activations and index == len(block.args) - 1:
          # The last unit's stride moves to the end of the block.
          block_stride = unit.get('stride', 1)
          unit = dict(unit, stride=1)
        stride = unit.get('stride', 1)
        with tf.compat.v1.variable_scope('unit_%d' % (index + 1),
                                         values=[net]):
          if output_stride is not None and current_stride == output_stride:
            net = block.unit_fn(net, rate=rate, **dict(unit, stride=1))
            rate *= stride
          else:
            net = block.unit_fn(net, rate=1, **unit)
            current_stride *= stride
      net = slim_utils.collect_named_outputs(outputs_collections, sc.name, net)
      if output_stride is not None and current_stride == output_stride:
        rate *= block_stride
      else:
        net = subsample(net, block_stride, data_format=data_format)
        current_stride *= block_stride
  return net
