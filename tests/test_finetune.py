"""Choosing variables to train."""

import pytest
import tensorflow as tf

import resnet_v2
from resnet_v2.train import finetune

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def test_patterns_pick_head_and_last_block(graph):
  resnet_v2.resnet_v2_50(tf.zeros([1, 64, 64, 3]), num_classes=10)
  head = finetune.select_variables(finetune.head_patterns('resnet_v2_50'))
  assert [v.op.name for v in head] == ['resnet_v2_50/logits/weights',
                                       'resnet_v2_50/logits/biases']
  tail = finetune.select_variables(
      finetune.last_block_patterns('resnet_v2_50'))
  names = [v.op.name for v in tail]
  assert all(n.startswith(('resnet_v2_50/block4/', 'resnet_v2_50/postnorm/',
                           'resnet_v2_50/logits/')) for n in names)
  # 3 units x (preact + 2 BN) x 2 + 3 x 4 conv tensors + shortcut 2 + ...
  block4 = [n for n in names if '/block4/' in n]
  assert len(block4) == 3 * (2 + 2 * 2) + 3 * 4 + 2
  assert not any('moving_' in n for n in names)  # trainable ones only


def test_a_pattern_that_matches_nothing_is_an_error(graph):
  resnet_v2.resnet_v2_50(tf.zeros([1, 64, 64, 3]), num_classes=10)
  with pytest.raises(ValueError, match='No variable matches'):
    finetune.select_variables(['resnet_v2_101/logits/*'])
