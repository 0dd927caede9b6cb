"""Post-training int8 quantization, calibrated on the user's images.

`quantize` takes a trained model dir (or a registered net with a TF-Slim
checkpoint), reads calibration images through the one input pipeline with
the net's own preprocessing, quantizes the net with the int8 engine
(`openvino_engine`: OpenVINO + NNCF, per-channel int8 weights), compares
int8 with fp32 on validation images (top-1 where there are labels, cosine
of the pooled features) and writes an int8 model dir: `model.json`
(engine 'openvino', precision 'int8'), `openvino/model.xml|bin` and
`quantization.json` (the comparison). `eval`, `predict`, `features` and
`export --format openvino` take it like any other model dir. The folder is
built beside the output and renamed into place: a failed run writes nothing.
"""

import datetime
import os
import sys

import numpy as np

from resnet_v2 import files
from resnet_v2 import metrics
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import record as record_lib
from resnet_v2 import runtime
from resnet_v2.data import idx
from resnet_v2.data import inputs
from resnet_v2.data import sources
from resnet_v2.serve import model as model_lib
from resnet_v2.serve import openvino as openvino_engine

DEFAULT_CALIBRATION_IMAGES = 300
# Sources whose images all have one native size.
_NATIVE_SIZE = {'cifar10': 32}


def open_calibration_data(path):
  """Calibration images: whatever `inputs.open_source` reads (class
  folders, TFRecords, CIFAR-10 batches, IDX files), or a folder of loose
  images.

  Raises:
    ValueError: if path holds nothing readable, saying what was expected.
  """
  try:
    return inputs.open_source(path, split='train')
  except ValueError as error:
    if not os.path.isdir(path):
      raise
    try:
      return sources.files_source([path])
    except ValueError:
      raise ValueError('%s: no calibration images: %s' % (path, error)
                       ) from None


def check_image_size(source, image_size, what):
  """Raises ValueError if source's images have another fixed size."""
  native = _NATIVE_SIZE.get(source.kind)
  if sources.kind_of(source).items_array:
    shape = (source.items.shape[1:3] if source.kind == 'arrays'
             else idx.image_size(source))
    native = shape[0] if shape[0] == shape[1] else -1
  if native is not None and native != image_size:
    raise ValueError(
        '%s %s holds %s images, but the net takes %dx%d: calibrate on images '
        'like the ones it will see (statistics of resized images do not '
        'hold), e.g. a sample of its training data.' % (
            what, source.path, '%dx%d' % (native, native) if native > 0
            else 'non-square', image_size, image_size))


def _load_net(model_dir, model, checkpoint, image_size):
  """The float `model.Model` to quantize."""
  if model_dir is None and checkpoint is None:
    raise ValueError('Give `model_dir`, or `model` and `checkpoint`.')
  # A model dir keeps its own size (checked below); a checkpoint takes it.
  record = record_lib.Record.open(model_dir, model, checkpoint,
                                  None if model_dir else image_size)
  if record.holds_openvino_model:
    raise ValueError('%s is already an int8 model dir; quantize the float '
                     'model dir it came from.' % model_dir)
  if model_dir and image_size not in (None, record.image_size):
    raise ValueError('%s was trained at %dx%d; drop `image_size`=%d (int8 '
                     'statistics are for one input size).' % (
                         model_dir, record.image_size, record.image_size,
                         image_size))
  if not record.num_classes:
    raise ValueError('Checkpoint %s has no %s/logits: it cannot classify; '
                     'use `resnet-v2 features`.' % (checkpoint, model))
  if not model_dir:
    # As `evaluate`: 1000-class nets on TF-Slim's 1-based ImageNet labels.
    record = record.replace(labels_offset=int(record.num_classes == 1000))
  return model_lib.Model(record)


class _Batches:
  """Re-iterable preprocessed image batches (numpy) of a source, through
  the input pipeline; at most `limit` images (with shuffle: a seeded
  random sample, the same on every pass)."""

  def __init__(self, source, record, batch_size, limit, skipped,
               shuffle=False):
    self._source, self._record = source, record
    self._batch_size, self._limit, self._skipped = batch_size, limit, skipped
    self._shuffle = shuffle

  def __iter__(self):
    return self.batches()

  def batches(self, with_labels=False):
    record, left = self._record, self._limit
    data = inputs.make_dataset(
        self._source, record.preprocessing, record.image_size,
        self._batch_size, skipped=self._skipped,
        pixel_mean=record.pixel_mean, labels_offset=record.labels_offset or 0,
        shuffle=self._shuffle)
    for images, labels, _ in data.as_numpy_iterator():
      if left is not None:
        images, labels = images[:left], labels[:left]
        left -= len(images)
      if len(images):
        yield (images, labels) if with_labels else images
      if left is not None and left <= 0:
        return


def compare(net, int8_net, batches):
  """fp32 against int8 (two `model.Model`s) on batches.

  Returns:
    dict: images, top-1 and top-5 of each where labels exist (labels >= 0;
    `metrics.Tally`), agreement of their top-1 classes, cosine of the
    pooled features (mean and min over images) and the largest probability
    difference.
  """
  cosines, agree, largest = [], 0, 0.0
  tallies = {name: metrics.Tally(net.num_classes) for name in ('fp32', 'int8')}
  for images, labels in batches.batches(with_labels=True):
    fp32 = net.run(images, ('logits', 'predictions', 'global_pool'))
    int8 = int8_net.run(images, ('logits', 'predictions', 'global_pool'))
    a, b = (out['global_pool'].reshape(len(images), -1)
            for out in (fp32, int8))
    cosines.append((a * b).sum(1) / np.maximum(
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12))
    agree += int((fp32['logits'].argmax(1) == int8['logits'].argmax(1)).sum())
    largest = max(largest, float(np.abs(
        fp32['predictions'].reshape(len(images), -1) -
        int8['predictions'].reshape(len(images), -1)).max()))
    known = labels >= 0
    if known.any():
      for name, out in (('fp32', fp32), ('int8', int8)):
        tallies[name].add_batch(out['logits'][known], labels[known])
  cosines = np.concatenate(cosines) if cosines else np.zeros([0])
  count, labelled = len(cosines), tallies['fp32'].count
  result = {'images': count, 'top1_agreement': agree / max(count, 1),
            'feature_cosine_mean': float(cosines.mean()) if count else None,
            'feature_cosine_min': float(cosines.min()) if count else None,
            'max_probability_difference': largest,
            'labelled_images': labelled}
  if labelled:
    scores = {name: tally.result() for name, tally in tallies.items()}
    for name in ('fp32', 'int8'):
      result['top1_' + name] = scores[name]['top1']
      result['top5_' + name] = scores[name]['top5']
    result['top1_drop_points'] = 100 * (result['top1_fp32'] -
                                        result['top1_int8'])
  return result


def quantize(output, calibration_source, model_dir=None, model=None,
             checkpoint=None, val_source=None,
             num_images=DEFAULT_CALIBRATION_IMAGES, batch_size=32,
             image_size=None, compare_images=None, log=sys.stderr,
             overwrite=False):
  """Writes an int8 model dir of a trained net, calibrated on images.

  Args:
    output: The int8 model dir to write: new, empty, or one this project
      wrote (replaced whole); anything else only with overwrite; never an
      input.
    calibration_source: A `sources.Source` of images like the ones the net
      will see (labels not needed).
    model_dir: A trained model dir; or model and checkpoint: a registry
      name and a TF-Slim checkpoint with logits.
    val_source: Optional labelled `sources.Source` to compare int8 with
      fp32 on; default the calibration images.
    num_images: Calibration images used (at most what the source has).
    batch_size: Images per pipeline batch.
    image_size: Input size, for --model/--checkpoint (a model dir has its).
    compare_images: At most this many validation images (default all).
    log: Where progress lines go.
    overwrite: Replace whatever is at output.

  Returns:
    The report written to quantization.json.

  Raises:
    ValueError: on a bad net, checkpoint, output folder or calibration
      data (empty, unreadable, another image size), before anything is
      written.
    errors.MissingDependencyError: without openvino and nncf.
  """
  openvino_engine.require_openvino(with_nncf=True)
  if num_images < 1 or batch_size < 1:
    raise ValueError('num_images and batch_size must be >= 1, got %r and %r.'
                     % (num_images, batch_size))
  inputs_used = [model_dir, checkpoint and checkpoint + '.index',
                 calibration_source.path,
                 val_source is not None and val_source.path]
  files.check_output(output, overwrite, [
      i for i in inputs_used if i and isinstance(i, str)])
  net = _load_net(model_dir, model, checkpoint, image_size)
  record, checkpoint = net.record, net.checkpoint
  check_image_size(calibration_source, record.image_size, 'Calibration data')
  if val_source is not None:
    check_image_size(val_source, record.image_size, 'Validation data')
  skipped = inputs.SkippedFiles()
  calibration, count = _calibration_batches(calibration_source, record,
                                            batch_size, num_images, skipped)
  note = openvino_engine.int8_note()
  if note:
    print('note: %s.' % note, file=log)
  print('quantizing %s on %d calibration image(s) from %s' % (
      record.model, count, calibration_source.path), file=log)
  # Every end point an output, so the int8 model gives any of them
  # (`Model` compiles only those asked for).
  quantized = openvino_engine.quantize(
      openvino_engine.convert(net.module, record.image_size,
                              net.module.end_point_names), calibration,
      count)
  int8_record = record.replace(engine='openvino', precision='int8',
                               weights=None, model_dir=None)
  int8_net = model_lib.Model(int8_record, openvino_model=quantized)
  compared = _Batches(val_source or calibration_source, record, batch_size,
                      compare_images if val_source else num_images,
                      inputs.SkippedFiles())
  report = _report(record, checkpoint, model_dir, calibration_source, count,
                   skipped, val_source, int8_net.runner)
  report['int8_vs_fp32'] = compare(net, int8_net, compared)
  if not report['int8_vs_fp32']['images']:
    raise ValueError('Validation data %s has no readable image; nothing '
                     'written.' % report['compared_on'])
  if report['effective_precision'] != 'int8':
    print('WARNING: the quantized convolutions run in %s, not int8, on this '
          'machine (%s).' % (report['effective_precision'],
                             report['convolution_precisions']), file=log)
  _write(output, int8_record,
         quantized, report, overwrite, [
             i for i in inputs_used if i and isinstance(i, str)])
  return report


def _calibration_batches(source, record, batch_size, num_images, skipped):
  """(calibration batches, image count); raises ValueError if none reads."""
  calibration = _Batches(source, record, batch_size, num_images, skipped,
                         shuffle=True)
  count = sum(len(images) for images in calibration)
  if not count:
    reasons = skipped.items()
    raise ValueError('Calibration data %s has no readable image%s; nothing '
                     'written.' % (source.path, (
                         ' (%d file(s) failed, first: %s: %s)' % (
                             len(reasons), reasons[0][0], reasons[0][1]))
                                   if reasons else ''))
  return calibration, count


def _report(record, checkpoint, model_dir, calibration_source, count,
            skipped, val_source, runner):
  """quantization.json, but for the int8-vs-fp32 comparison."""
  return {
      'model': record.model, 'source_checkpoint': checkpoint,
      'source_model_dir': model_dir,
      'calibration_data': str(calibration_source.path),
      'calibration_images': count,
      'calibration_skipped_files': [list(i) for i in skipped.items()],
      'compared_on': str((val_source or calibration_source).path),
      'engine': 'openvino %s + nncf %s' % _versions(),
      'weights': 'int8, per-channel symmetric scales',
      'effective_precision': runner.effective_precision(),
      'convolution_precisions': dict(runner.convolution_precisions()),
      'convolution_kernels': dict(runner.convolution_kernels()),
      'cpu_int8': runtime.int8_support()[1],
      'written': datetime.datetime.now().isoformat(timespec='seconds'),
  }


def _versions():
  ov, nncf = openvino_engine.require_openvino(with_nncf=True)
  return ov.get_version().split('-')[0], nncf.__version__


def _write(output, record, model, report, overwrite, inputs_used):
  """Builds the model dir beside output, then swaps it in whole."""
  def write(folder):
    record.write(folder)
    openvino_engine.save(model, model_dir_lib.openvino_dir(folder))
    files.write_json(os.path.join(folder, model_dir_lib.QUANTIZATION_REPORT),
                     report, indent=1)
  files.write_folder(output, write, prefix='.int8_', overwrite=overwrite,
                     inputs=inputs_used)


def summary(report):
  """One line on how int8 compares with fp32."""
  compared = report['int8_vs_fp32']
  line = ('%s int8 (%s, convolutions in %s) vs fp32 on %d image(s) of %s: '
          'pooled-feature cosine mean %.4f (min %.4f), top-1 agreement %.4f'
          % (report['model'], report['engine'],
             report['effective_precision'], compared['images'],
             report['compared_on'], compared['feature_cosine_mean'],
             compared['feature_cosine_min'], compared['top1_agreement']))
  if 'top1_int8' in compared:
    line += ', top-1 %.4f int8 vs %.4f fp32' % (compared['top1_int8'],
                                                compared['top1_fp32'])
  return line
