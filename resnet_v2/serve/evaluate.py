"""Accuracy of a net on labelled data: top-1, top-5, per class, confusion.

`evaluate` runs a `model.Model` (a model dir, or a net with a published
checkpoint, on either engine) over the input pipeline's batches and
accumulates a confusion matrix; `write_report` leaves a JSON and a PNG.
"""

import os

import numpy as np

from resnet_v2 import files
from resnet_v2 import metrics
from resnet_v2.data import preprocessing
from resnet_v2.data import sources
from resnet_v2.serve import model as model_lib


def evaluate(source, model_dir=None, model=None, checkpoint=None,
             batch_size=32, image_size=None, labels_offset=None,
             skipped=None, max_pixels=preprocessing.MAX_IMAGE_PIXELS,
             engine=None, precision=None, tta='none'):
  """Evaluates a trained model dir, or a registered net with a checkpoint.

  Args:
    source: A `sources.Source` with labels (folder, TFRecord, CIFAR).
    model_dir: A model dir written by `resnet-v2 train` (or quantize).
    model, checkpoint: Instead of model_dir: a registry name and a
      checkpoint (e.g. a published TF-Slim one).
    batch_size: Images per batch.
    image_size: Override of the input size.
    labels_offset: Subtracted from TFRecord labels; default 0 for nets with
      a background class (1001), 1 for 1000-class nets on TF-Slim's
      1-based ImageNet records.
    skipped: Optional `inputs.SkippedFiles`.
    max_pixels: Larger images are skipped (see `inputs.make_dataset`).
    engine, precision: See `model.Model`.
    tta: 'flip': each image's prediction is averaged with its mirror
      image's (`metrics.flip_average`); 'none'.

  Returns:
    The metrics dict with 'confusion' (numpy), 'class_names', 'model',
    'checkpoint' (an int8 model dir's: its OpenVINO folder), 'engine' and
    'precision'.

  Raises:
    ValueError: on a bad model dir, checkpoint or source, or data with
      classes the model does not know (a subset is scored under the
      model's labels).
  """
  if not (model_dir or (model and checkpoint)):
    raise ValueError('Give `model_dir`, or `model` and `checkpoint`.')
  if tta not in ('none', 'flip'):
    raise ValueError("tta must be 'none' or 'flip', got %r." % (tta,))
  net = model_lib.Model.load(model_dir, model, checkpoint, image_size,
                             engine=engine, precision=precision)
  record = net.record
  if not record.num_classes:
    raise ValueError('Checkpoint %s has no %s/logits: it cannot classify; '
                     'use `resnet-v2 features`.' % (checkpoint, record.model))
  if labels_offset is None:
    labels_offset = (record.labels_offset if record.labels_offset is not None
                     else int(record.num_classes == 1000))
  source = sources.offset_class_names(source, labels_offset)
  if not model_dir and source.class_names and len(
      source.class_names) == record.num_classes:
    record = net.record = record.replace(class_names=source.class_names)
  source = sources.relabel(source, record.class_names,
                          model_dir or checkpoint)
  tally = metrics.Tally(record.num_classes, record.class_names)
  for images, labels, _ in net.dataset(source, batch_size, skipped,
                                       labelled=True,
                                       labels_offset=labels_offset,
                                       max_pixels=max_pixels):
    logits = net.run(images, ['logits'])['logits']
    if tta == 'flip':
      mirrored = net.run(np.asarray(images)[:, :, ::-1], ['logits'])['logits']
      logits = metrics.flip_average(logits, mirrored)
    tally.add_batch(logits, labels)
  result = tally.result()
  result.update(tta=tta, model=record.model,
                checkpoint=net.checkpoint, engine=net.engine,
                precision=net.precision, class_names=record.class_names)
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
