"""Classification metrics: the one kernel for the trainer's validation,
`eval` and quantize's int8-against-fp32 comparison.

`batch_counts` is what one batch adds (TensorFlow ops: it runs eagerly, in a
`tf.function` or on each replica of a `tf.distribute` strategy, whose sums
add up); `Tally` adds batches up on the host and `result` turns the sums
into top-1, top-5, mean loss, per-class accuracy and the confusion matrix.
"""

import numpy as np
import tensorflow as tf

COUNTS = ('confusion', 'top5', 'loss')


def flip_average(logits, mirrored_logits):
  """Test-time augmentation by flips: the log of the mean of the softmax
  of an image's logits and its mirror image's (logits in effect: softmax
  gives back the averaged probabilities).

  Args:
    logits, mirrored_logits: float [batch, num_classes] (tensors or numpy).

  Returns:
    float32 [batch, num_classes].
  """
  probabilities = (tf.nn.softmax(tf.cast(logits, tf.float32)) +
                   tf.nn.softmax(tf.cast(mirrored_logits, tf.float32))) / 2
  return tf.math.log(tf.maximum(probabilities, 1e-30))


def batch_counts(logits, labels, num_classes):
  """The sums one batch adds.

  Args:
    logits: float [batch, num_classes].
    labels: int [batch], in [0, num_classes).
    num_classes: The logits' classes.

  Returns:
    {'confusion': int32 [num_classes (true), num_classes (predicted)],
     'top5': examples whose label is among the top five (all, with fewer
     than five classes), 'loss': summed softmax cross-entropy}.
  """
  logits = tf.cast(logits, tf.float32)
  labels = tf.cast(labels, tf.int64)
  return {
      'confusion': tf.math.confusion_matrix(
          labels, tf.argmax(logits, -1), num_classes, dtype=tf.int32),
      'top5': tf.reduce_sum(tf.cast(tf.math.in_top_k(
          labels, logits, min(5, num_classes)), tf.float32)),
      'loss': tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels=labels, logits=logits)),
  }


class Tally:
  """Running sums of `batch_counts` over batches.

  Args:
    num_classes: The net's classes.
    class_names: Optional names, for `result`'s per-class list.
  """

  def __init__(self, num_classes, class_names=None):
    self.num_classes, self.class_names = num_classes, class_names
    self.confusion = np.zeros([num_classes] * 2, np.int64)
    self.top5, self.loss = 0.0, 0.0

  def add(self, counts):
    """Adds one batch's (or one reduction's) `batch_counts`."""
    self.confusion += np.asarray(counts['confusion'], np.int64)
    self.top5 += float(counts['top5'])
    self.loss += float(counts['loss'])

  def add_batch(self, logits, labels):
    """Adds a batch of logits [batch, classes] and labels [batch]."""
    self.add(batch_counts(logits, labels, self.num_classes))

  @property
  def count(self):
    return int(self.confusion.sum())

  def result(self):
    """{'count', 'top1', 'top5', 'loss' (mean), 'per_class': [{'class',
    'name', 'count', 'accuracy'}] (classes with examples), 'confusion'
    (numpy [true, predicted])}."""
    confusion, count = self.confusion, self.count
    per_class = []
    for index in np.flatnonzero(confusion.sum(1)):
      total = int(confusion[index].sum())
      per_class.append({
          'class': int(index),
          'name': self.class_names[index] if self.class_names else None,
          'count': total,
          'accuracy': float(confusion[index, index] / total)})
    return {'count': count,
            'top1': float(np.trace(confusion) / max(count, 1)),
            'top5': float(self.top5 / max(count, 1)),
            'loss': float(self.loss / max(count, 1)),
            'per_class': per_class, 'confusion': confusion}
