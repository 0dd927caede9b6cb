"""The metrics kernel: one batch's counts, their sums, the result."""

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import metrics

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def test_a_tally_counts_top1_top5_loss_per_class_and_confusion():
  logits = np.array([[5., 1, 0, 0, 0, 0], [0, 5, 1, 0, 0, 0],
                     [0, 1, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]], np.float32)
  labels = np.array([0, 2, 2, 0])
  tally = metrics.Tally(6, ['a', 'b', 'c', 'd', 'e', 'f'])
  tally.add_batch(logits[:2], labels[:2])
  tally.add_batch(logits[2:], labels[2:])
  result = tally.result()
  assert result['count'] == 4
  assert result['top1'] == pytest.approx(2 / 4)
  # Label 0 of the last row ranks 6th of 6: outside the top five.
  assert result['top5'] == pytest.approx(3 / 4)
  expected_loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=labels, logits=logits)).numpy()
  assert result['loss'] == pytest.approx(expected_loss, rel=1e-6)
  assert result['per_class'] == [
      {'class': 0, 'name': 'a', 'count': 2, 'accuracy': 0.5},
      {'class': 2, 'name': 'c', 'count': 2, 'accuracy': 0.5}]
  confusion = np.zeros([6, 6], np.int64)
  for true, predicted in [(0, 0), (2, 1), (2, 2), (0, 5)]:
    confusion[true, predicted] += 1
  np.testing.assert_array_equal(result['confusion'], confusion)


def test_counts_of_parts_add_up_to_the_counts_of_the_whole():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(10, 3)).astype(np.float32)
  labels = rng.integers(0, 3, 10)
  whole = metrics.batch_counts(logits, labels, 3)
  parts = [metrics.batch_counts(logits[i:i + 4], labels[i:i + 4], 3)
           for i in (0, 4, 8)]
  for name in metrics.COUNTS:
    assert np.allclose(sum(np.asarray(p[name]) for p in parts),
                       np.asarray(whole[name]), rtol=1e-5)
  # Fewer than five classes: every label is in the top "five".
  assert float(whole['top5']) == 10


def test_an_empty_tally_reports_zero_images():
  result = metrics.Tally(3).result()
  assert result['count'] == 0 and result['per_class'] == []
