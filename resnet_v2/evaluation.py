"""Accuracy of a net on labelled data: top-1, top-5, per class, confusion.

`Evaluator` runs a net in inference mode over batches of the input pipeline
and accumulates a confusion matrix; `evaluate` answers for a model dir or a
published checkpoint, and `write_report` leaves a JSON and a PNG.
"""

import os

import numpy as np
import tensorflow as tf

from resnet_v2 import checkpoints
from resnet_v2 import files
from resnet_v2 import inputs
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import openvino_engine
from resnet_v2 import preprocessing
from resnet_v2 import registry


def summarize(confusion, top5_correct, loss_sum, class_names=None):
  """Metrics from a confusion matrix [true, predicted] and counts.

  Returns:
    dict: count, top1, top5, loss, per_class [{class, name, count,
    accuracy}] (classes with examples only).
  """
  count = int(confusion.sum())
  per_class = []
  for index in np.flatnonzero(confusion.sum(1)):
    total = int(confusion[index].sum())
    per_class.append({
        'class': int(index),
        'name': class_names[index] if class_names else None,
        'count': total,
        'accuracy': float(confusion[index, index] / total)})
  return {'count': count,
          'top1': float(np.trace(confusion) / max(count, 1)),
          'top5': float(top5_correct / max(count, 1)),
          'loss': float(loss_sum / max(count, 1)),
          'per_class': per_class}


class Evaluator:
  """Batches in, confusion matrix out, for logits built in `graph`.

  Args:
    graph: The graph of `logits`.
    iterator: A `tf.compat.v1.data.Iterator` whose next element is
      (images, labels, names) and feeds `logits`.
    labels: The labels tensor of that element.
    logits: [batch, num_classes] logits.
  """

  def __init__(self, graph, iterator, labels, logits):
    self.graph, self.iterator = graph, iterator
    self.num_classes = int(logits.shape[-1])
    with graph.as_default():
      k = min(5, self.num_classes)
      self._fetches = {
          'labels': labels,
          'predicted': tf.argmax(logits, -1),
          'top5': tf.reduce_sum(tf.cast(tf.nn.in_top_k(
              targets=labels, predictions=tf.cast(logits, tf.float32), k=k),
              tf.int64)),
          'loss': tf.reduce_sum(
              tf.nn.sparse_softmax_cross_entropy_with_logits(
                  labels=labels, logits=tf.cast(logits, tf.float32)))}

  def run(self, session, dataset, class_names=None):
    """Evaluates every batch of dataset; returns `summarize`'s dict."""
    with self.graph.as_default():
      initializer = self.iterator.make_initializer(dataset)
    session.run(initializer)
    confusion = np.zeros([self.num_classes] * 2, np.int64)
    top5, loss = 0, 0.0
    while True:
      try:
        out = session.run(self._fetches)
      except tf.errors.OutOfRangeError:
        break
      np.add.at(confusion, (out['labels'], out['predicted']), 1)
      top5 += int(out['top5'])
      loss += float(out['loss'])
    result = summarize(confusion, top5, loss, class_names)
    result['confusion'] = confusion
    return result


def make_iterator(image_size):
  """An iterator of the pipeline's (images, labels, names) structure."""
  return tf.compat.v1.data.Iterator.from_structure(
      (tf.float32, tf.int64, tf.string),
      (tf.TensorShape([None, image_size, image_size, 3]),
       tf.TensorShape([None]), tf.TensorShape([None])))


def evaluate(source, model_dir=None, model=None, checkpoint=None,
             batch_size=32, image_size=None, labels_offset=None,
             skipped=None, max_pixels=preprocessing.MAX_IMAGE_PIXELS):
  """Evaluates a trained model dir, or a registered net with a checkpoint.

  Args:
    source: An `inputs.Source` with labels (folder, TFRecord, CIFAR).
    model_dir: A model dir written by `resnet-v2 train`.
    model, checkpoint: Instead of model_dir: a registry name and a
      checkpoint (e.g. a published TF-Slim one).
    batch_size: Images per batch.
    image_size: Override of the input size.
    labels_offset: Subtracted from TFRecord labels; default 0 for nets with
      a background class (1001), 1 for 1000-class nets on TF-Slim's
      1-based ImageNet records.
    skipped: Optional `inputs.SkippedFiles`.
    max_pixels: Larger images are skipped (see `inputs.make_dataset`).

  Returns:
    The metrics dict with 'confusion' (numpy), 'class_names', 'model',
    'checkpoint' (an int8 model dir's: its OpenVINO folder) and
    'precision'.

  Raises:
    ValueError: on a bad model dir, checkpoint or source, or data with
      classes the model does not know (a subset is scored under the
      model's labels).
  """
  if model_dir:
    record = model_dir_lib.read_record(model_dir)
    if record.engine == 'openvino':
      model_dir_lib.check_int8_image_size(record, image_size, model_dir)
      checkpoint = model_dir_lib.openvino_dir(model_dir)
    else:
      checkpoint = checkpoint or model_dir_lib.checkpoint_for_inference(
          model_dir)
  else:
    if not (model and checkpoint):
      raise ValueError('Give --model-dir, or --model and --checkpoint.')
    record = model_dir_lib.checkpoint_record(model, checkpoint, None)
  if labels_offset is None:
    labels_offset = (record.labels_offset if record.labels_offset is not None
                     else int(record.num_classes == 1000))
  source = inputs.offset_class_names(source, labels_offset)
  if not model_dir and source.class_names and len(
      source.class_names) == record.num_classes:
    record = record._replace(class_names=source.class_names)
  source = inputs.relabel(source, record.class_names,
                          model_dir or checkpoint)
  size = image_size or record.image_size
  graph = tf.Graph()
  with graph.as_default():
    iterator = make_iterator(size)
    images, labels, _ = iterator.get_next()
    if record.engine == 'openvino':
      logits = openvino_engine.graph_end_points(checkpoint, images)[0][
          'logits']
    else:
      logits, _ = registry.get_network_fn(record.model, record.num_classes,
                                          plain=record.plain)(images)
    evaluator = Evaluator(graph, iterator, labels, logits)
    dataset = inputs.make_dataset(
        source, record.preprocessing, size, batch_size, skipped=skipped,
        num_classes=record.num_classes, labels_offset=labels_offset,
        pixel_mean=record.pixel_mean, max_pixels=max_pixels)
    with tf.compat.v1.Session(graph=graph) as session:
      if record.engine != 'openvino':
        checkpoints.restore(session, checkpoint)
      result = evaluator.run(session, dataset,
                             record.class_names or source.class_names)
  result.update(model=record.model, checkpoint=checkpoint,
                precision=record.precision,
                class_names=record.class_names or source.class_names)
  return result


def write_report(result, output_dir, overwrite=False, inputs=()):
  """Writes the folder output_dir whole: metrics.json and, with
  matplotlib, confusion.png.

  Args:
    result: `evaluate`'s dict.
    output_dir: The folder (see `files.write_folder` for what it may
      replace).
    overwrite, inputs: See `files.check_output`.

  Returns:
    The paths written.
  """
  written = []
  files.write_folder(output_dir, lambda folder: written.extend(
      _write_report(result, folder)), prefix='.eval_', overwrite=overwrite,
                     inputs=inputs)
  return [os.path.join(output_dir, os.path.basename(p)) for p in written]


def _write_report(result, output_dir):
  report = {k: v for k, v in result.items() if k != 'confusion'}
  report['confusion'] = result['confusion'].tolist()
  written = [os.path.join(output_dir, 'metrics.json')]
  files.write_json(written[0], report, indent=1)
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use('Agg')
    from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  except ImportError:
    return written
  confusion = result['confusion']
  names = result.get('class_names')
  figure, axes = pyplot.subplots(figsize=(6, 5.5))
  shown = axes.imshow(confusion, cmap='Blues')
  figure.colorbar(shown)
  if names and len(names) <= 30:
    axes.set_xticks(range(len(names)))
    axes.set_yticks(range(len(names)))
    axes.set_xticklabels(names, rotation=90, fontsize=7)
    axes.set_yticklabels(names, fontsize=7)
  axes.set_xlabel('predicted')
  axes.set_ylabel('true')
  axes.set_title('%s: top-1 %.3f, top-5 %.3f, %d images' % (
      result.get('model', ''), result['top1'], result['top5'],
      result['count']), fontsize=9)
  figure.tight_layout()
  written.append(os.path.join(output_dir, 'confusion.png'))
  try:
    with files.atomic_write(written[-1]) as out:
      figure.savefig(out, format='png', dpi=100)
  finally:
    pyplot.close(figure)
  return written
