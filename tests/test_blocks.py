"""Blocks: validation, output strides, stacking."""

import pytest
import tensorflow as tf

import resnet_v2
from resnet_v2.nets import blocks
from resnet_v2.nets import units

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def tiny_block(scope='block1', args=None):
  return blocks.Block(scope, units.bottleneck,
                      args if args is not None else [(8, 2, 1), (8, 2, 2)])


@pytest.mark.parametrize('bad, message', [
    (tiny_block(), 'must be a list of Block'),
    ([], 'at least one Block'),
    ([('block1', units.bottleneck, [(8, 2, 1)])], r'blocks\[0\] must be a Block'),
    ([tiny_block(scope='')], 'scope must be a non-empty string'),
    ([blocks.Block('b', 'bottleneck', [(8, 2, 1)])], 'unit_fn must be callable'),
    ([tiny_block(args=[])], 'non-empty list'),
    ([tiny_block(args=[(8, 2)])], r'\(depth, depth_bottleneck, stride\)'),
    ([tiny_block(args=[8])], 'must be a dict or a'),
    ([tiny_block(args=[(8, 2, 0)])], 'stride must be a positive integer'),
    ([tiny_block(args=[{'depth': 8.0, 'depth_bottleneck': 2, 'stride': 1}])],
     'depth must be a positive integer'),
    ([tiny_block(args=[(8, True, 1)])], 'depth_bottleneck must be a positive'),
])
def test_malformed_blocks_are_refused(bad, message):
  with pytest.raises(ValueError, match=message):
    blocks.validate_blocks(bad)


def test_malformed_blocks_are_refused_before_building(graph):
  with pytest.raises(ValueError, match='unit 2: stride'):
    blocks.stack_blocks_dense(tf.zeros([1, 8, 8, 8]),
                              [tiny_block(args=[(8, 2, 1), (8, 2, -2)])])
  assert not graph.get_operations() or all(
      op.type == 'Const' for op in graph.get_operations())


def test_reachable_output_strides():
  strided = [tiny_block('a', [(8, 2, 1), (8, 2, 2)]),
             tiny_block('b', [(8, 2, 3), (8, 2, 1), (8, 2, 4)])]
  assert blocks.reachable_output_strides(strided) == [1, 2, 6, 24]


def test_unreachable_output_stride_names_the_valid_ones(graph):
  with pytest.raises(ValueError, match=r'one of \[1, 2\]'):
    blocks.stack_blocks_dense(tf.zeros([1, 8, 8, 8]), [tiny_block()],
                              output_stride=4)


def test_tuple_args_build_what_dict_args_build(graph):
  x = tf.zeros([1, 8, 8, 4])
  with resnet_v2.arg_scope(resnet_v2.resnet_arg_scope()):
    as_tuples = blocks.stack_blocks_dense(x, [tiny_block('t')])
    as_dicts = blocks.stack_blocks_dense(x, [tiny_block('d', [
        {'depth': 8, 'depth_bottleneck': 2, 'stride': 1},
        {'depth': 8, 'depth_bottleneck': 2, 'stride': 2}])])
  shapes = lambda prefix: sorted(
      (v.op.name[len(prefix):], v.shape.as_list())
      for v in tf.compat.v1.global_variables() if v.op.name.startswith(prefix))
  assert shapes('t/') == shapes('d/') and shapes('t/')
  assert as_tuples.shape.as_list() == as_dicts.shape.as_list() == [1, 4, 4, 8]
