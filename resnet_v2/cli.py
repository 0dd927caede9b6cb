"""The `resnet-v2` command: train, eval, predict, features and export.

Every command reads images through the one input pipeline (`inputs`) and
reaches nets by their registry name; a trained model dir (`model.json`)
tells later commands everything else, so they take `--model-dir` alone.
"""

import argparse
import dataclasses
import os
import re
import sys

from resnet_v2 import quiet
from resnet_v2.nets import registry

# distribute.COLLECTIVE_TIMEOUT, preprocessing.MAX_IMAGE_PIXELS and
# export.FORMATS (the command line is built without importing TensorFlow;
# a test keeps them equal).
COLLECTIVE_TIMEOUT = 600
MAX_IMAGE_PIXELS = 89478485
EXPORT_FORMATS = ('saved_model', 'openvino', 'onnx')
ENGINES = ('tensorflow', 'openvino')
CIFAR10_DEFAULT_DIR = os.path.join(os.path.expanduser('~'), '.keras',
                                   'datasets', 'cifar-10-batches-py')


def positive_int(text):
  try:
    value = int(text)
  except ValueError:
    value = 0
  if value < 1:
    raise argparse.ArgumentTypeError('must be an integer >= 1, got %r' % text)
  return value


def _net_name(text):
  try:
    registry.get_spec(text)
  except ValueError as error:
    raise argparse.ArgumentTypeError(str(error))
  return text


def _add_net_args(parser, default_model='resnet_v2_50'):
  parser.add_argument('--model-dir', metavar='DIR',
                      help='a model dir written by `resnet-v2 train` (its '
                      'net, classes and best checkpoint)')
  parser.add_argument('--model', default=None, type=_net_name,
                      metavar='NAME',
                      help='a net by name, without --model-dir (default: '
                      '%s); one of %s' % (default_model,
                                          ', '.join(sorted(registry.NETWORKS))))
  parser.add_argument('--checkpoint', metavar='PREFIX',
                      help='TF-Slim checkpoint (prefix, e.g. '
                      'resnet_v2_50.ckpt), without --model-dir')
  parser.add_argument('--image-size', type=positive_int, default=None,
                      help="default: the model dir's, 299 with a published "
                      "v2 checkpoint, else the net's")
  parser.add_argument('--batch-size', type=positive_int, default=16,
                      help='default: %(default)s')
  _add_max_pixels_arg(parser)


def _add_max_pixels_arg(parser):
  parser.add_argument('--max-image-pixels', type=positive_int,
                      default=MAX_IMAGE_PIXELS, metavar='N',
                      help='larger images are skipped (named) without being '
                      'decoded (default: %(default)s, as Pillow)')


def _add_overwrite_arg(parser):
  parser.add_argument('--overwrite', action='store_true',
                      help='replace an existing --output that resnet-v2 did '
                      'not write (never an input)')


def _add_engine_args(parser):
  parser.add_argument('--engine', choices=ENGINES, default=None,
                      help='tensorflow (default for float nets) or openvino '
                      "(the CPU's fastest path; int8 model dirs always; "
                      "needs 'resnet_v2[int8]')")
  parser.add_argument('--precision', choices=('fp32', 'bf16'), default=None,
                      help='fp32 (default) or bf16 (--engine openvino, on '
                      'CPUs with bf16); int8 model dirs run in int8')


def _add_image_args(parser):
  _add_net_args(parser)
  _add_engine_args(parser)
  parser.add_argument('inputs', nargs='+', metavar='IMAGE_OR_FOLDER',
                      help='image files (JPEG, PNG, GIF, BMP) and folders')


def build_parser():
  parser = argparse.ArgumentParser(
      prog='resnet-v2', description='ResNet (TF-Slim) nets on your images: '
      'train, eval, predict, features, export, quantize.')
  parser.add_argument('--verbose', action='store_true',
                      help="show TensorFlow's start-up log lines")
  commands = parser.add_subparsers(dest='command', required=True)
  extract = commands.add_parser(
      'features', help='write end_points of images to an .npz',
      description='Write the chosen end_points of every image to one .npz '
      '(one array per end point, plus file_names in the same order). Files '
      'that do not decode are skipped and listed at the end.')
  _add_image_args(extract)
  extract.add_argument('--end-point', action='append', dest='end_points',
                       metavar='NAME', help='end point to save (repeatable; '
                       'default: global_pool), e.g. resnet_v2_50/block4')
  extract.add_argument('--output', '-o', required=True, metavar='NPZ')
  _add_overwrite_arg(extract)
  predict = commands.add_parser(
      'predict', help='print the top classes of each image',
      description="Print the top classes of each image, named by the model "
      "dir's classes, or ImageNet's for 1000/1001-class checkpoints.")
  _add_image_args(predict)
  predict.add_argument('--top', type=positive_int, default=5,
                       help='default: 5')
  evaluate = commands.add_parser(
      'eval', help='top-1, top-5, per-class accuracy and a confusion matrix',
      description='Evaluate a model dir (or --model with --checkpoint) on '
      'labelled data: class folders, TF-Slim ImageNet TFRecords or CIFAR-10 '
      'batches (its test_batch). Writes metrics.json and confusion.png.')
  _add_net_args(evaluate)
  _add_engine_args(evaluate)
  evaluate.add_argument('--data', required=True, metavar='PATH')
  evaluate.add_argument('--output', metavar='DIR',
                        help='default: MODEL_DIR/eval, else ./eval')
  _add_overwrite_arg(evaluate)
  evaluate.add_argument('--labels-offset', type=int, default=None,
                        help='subtracted from TFRecord labels (default: 1 '
                        'for 1000-class nets, else 0)')
  export = commands.add_parser(
      'export', help='a SavedModel, OpenVINO or ONNX model for serving',
      description='Export a model dir. saved_model (default for float '
      "model dirs): signature 'serving_default' takes encoded images "
      "(preprocessing inside), 'serving_images' preprocessed float images; "
      'both return classes, class names, probabilities and pooled '
      'features. openvino (default for int8 model dirs; needs '
      "'resnet_v2[int8]') and onnx (float; needs 'resnet_v2[onnx]'): "
      'model.xml/.bin or model.onnx taking preprocessed images, returning '
      'logits, probabilities and features, with model.json beside it.')
  export.add_argument('--model-dir', required=True, metavar='DIR')
  export.add_argument('--output', required=True, metavar='DIR')
  _add_overwrite_arg(export)
  _add_max_pixels_arg(export)
  export.add_argument('--format', choices=EXPORT_FORMATS,
                      dest='export_format',
                      help='default: openvino for an int8 model dir, else '
                      'saved_model')
  quantize = commands.add_parser(
      'quantize', help='int8 model dir, calibrated on your images',
      description='Post-training int8 quantization (OpenVINO + NNCF, '
      "per-channel weights; pip install 'resnet_v2[int8]') of a model dir "
      'or a published checkpoint, calibrated on images read and '
      'preprocessed as the net expects. Reports top-1 of int8 against fp32 '
      'where labels exist and the cosine of the pooled features, and writes '
      'an int8 model dir that eval, predict, features and export take.')
  _add_net_args(quantize)
  quantize.set_defaults(batch_size=32)
  quantize.add_argument('--calibration-data', required=True, metavar='PATH',
                        help='class folders, TFRecords, CIFAR-10 batches or '
                        'a folder of images')
  quantize.add_argument('--calibration-images', type=positive_int,
                        default=300, metavar='N',
                        help='images to calibrate on (default: %(default)s)')
  quantize.add_argument('--val-data', metavar='PATH',
                        help='labelled data to compare int8 with fp32 on '
                        '(default: the calibration images)')
  quantize.add_argument('--output', required=True, metavar='DIR')
  _add_overwrite_arg(quantize)
  _add_train_parser(commands)
  return parser


def _add_train_parser(commands):
  train = commands.add_parser(
      'train', help='train or fine-tune any net on your images',
      description='Train a registered net (from scratch, or fine-tune from '
      'a TF-Slim checkpoint) on class folders, TF-Slim TFRecords, CIFAR-10 '
      'batches or MNIST-format IDX files, streamed through tf.data. Writes '
      'model.json, a checkpoint every epoch (and every --save-every steps), '
      'the best one by validation accuracy (best/), history.json and '
      'TensorBoard events to --model-dir; --resume continues exactly.')
  train.add_argument('--model', default='cifar_resnet_v1_20',
                     type=_net_name, metavar='NAME',
                     help='default: %(default)s; one of ' +
                     ', '.join(sorted(registry.NETWORKS)) +
                     ', or any cifar_resnet_v1_<6n+2> / v2_<9n+2>')
  train.add_argument('--data', metavar='PATH', default=CIFAR10_DEFAULT_DIR,
                     help='class folders, TFRecords (file, pattern or '
                     'folder), cifar-10-batches-py or a folder of MNIST-'
                     'format IDX files (default: %(default)s)')
  train.add_argument('--val-data', metavar='PATH',
                     help='validation data (default: CIFAR-10 test_batch, '
                     'or a held-out --val-fraction of class folders or of '
                     "IDX's train split)")
  train.add_argument('--val-fraction', type=float, default=0.1)
  train.add_argument('--model-dir', required=True)
  train.add_argument('--checkpoint', metavar='PREFIX',
                     help='TF-Slim checkpoint to start from')
  train.add_argument('--exclude', action='append', default=[],
                     metavar='SCOPES', help="variables not to restore: "
                     "TF-Slim scopes or patterns, comma-separated, e.g. "
                     "resnet_v2_50/logits or '*/logits/*' (repeatable)")
  train.add_argument('--trainable', action='append', default=[],
                     metavar='SCOPES', help="variables to train: scopes or "
                     "patterns, e.g. resnet_v2_50/block4,resnet_v2_50/logits "
                     "(repeatable; default all)")
  train.add_argument('--freeze-batch-norm', action='store_true')
  train.add_argument('--image-size', type=positive_int)
  train.add_argument('--epochs', type=positive_int, default=10)
  train.add_argument('--max-steps', type=positive_int)
  train.add_argument('--batch-size', type=positive_int, default=128,
                     help='images per replica per step (default: '
                     '%(default)s); the global batch is this x replicas')
  train.add_argument('--global-batch-size', type=positive_int,
                     help='images per step over all replicas, instead of '
                     '--batch-size (must divide by the replicas)')
  train.add_argument('--strategy', choices=('one-device', 'mirrored',
                                            'multi-worker'),
                     default='one-device',
                     help='one-device (default); mirrored: every GPU of '
                     'this host, or --cpu-devices; multi-worker: the hosts '
                     'in TF_CONFIG (run the same command on each)')
  train.add_argument('--cpu-devices', type=positive_int, metavar='N',
                     help='split the CPU into N logical devices (for '
                     '--strategy mirrored without GPUs)')
  train.add_argument('--sync-batch-norm', action='store_true',
                     help='batch statistics over the global batch')
  train.add_argument('--optimizer', choices=('momentum', 'adam'),
                     default='momentum')
  train.add_argument('--learning-rate', type=float, default=None,
                     help='base rate (default: 0.1 momentum, 1e-3 adam)')
  train.add_argument('--schedule', choices=('step', 'cosine', 'constant'),
                     default='step')
  train.add_argument('--warmup-epochs', type=float, default=0.0)
  train.add_argument('--label-smoothing', type=float, default=0.0)
  train.add_argument('--weight-decay', type=float, default=1e-4)
  train.add_argument('--plateau-patience', type=int, default=0,
                     help='epochs without a better validation accuracy '
                     'before the rate is cut (0: off)')
  train.add_argument('--plateau-factor', type=float, default=0.1)
  train.add_argument('--save-every', type=int, default=0, metavar='STEPS')
  train.add_argument('--precision', choices=('fp32', 'bf16', 'fp16'),
                     default='fp32',
                     help='bf16: CPUs with oneDNN; fp16: GPUs (loss scaling)')
  train.add_argument('--plain', action='store_true',
                     help='no shortcuts (the degradation experiment)')
  train.add_argument('--no-augment', action='store_true')
  train.add_argument('--num-classes', type=positive_int,
                     help='for TFRecords without class names')
  train.add_argument('--labels-offset', type=int, default=0,
                     help='subtracted from TFRecord labels (1 for TF-Slim '
                     'ImageNet records and a 1000-class net)')
  train.add_argument('--seed', type=int, default=0)
  train.add_argument('--resume', action='store_true')
  train.add_argument('--collective-timeout', type=positive_int,
                     default=COLLECTIVE_TIMEOUT,
                     metavar='SECONDS', help='multi-worker: a worker waiting '
                     'longer than this for the others gives up (default: '
                     '%(default)s)')
  _add_max_pixels_arg(train)


def _printable(path):
  # pylint: disable=g-import-not-at-top
  from resnet_v2.data import sources   # TensorFlow is loaded once a command runs
  return sources.display_name(path)


def _report_skipped(skipped):
  if skipped:
    print('skipped %d file(s) that are not readable images:' % len(skipped),
          file=sys.stderr)
    for path, reason in skipped:
      print('  %s: %s' % (_printable(path), reason), file=sys.stderr)


def _check_net_args(args):
  if args.model_dir and (args.model or args.checkpoint):
    raise ValueError('--model-dir names the net and its checkpoint; drop '
                     '--model and --checkpoint.')


def _load_model(args, for_predictions):
  """The net the arguments name, as a `serve.model.Model`."""
  from resnet_v2.serve import model as model_lib  # pylint: disable=g-import-not-at-top
  _check_net_args(args)
  options = dict(image_size=args.image_size, engine=args.engine,
                 precision=args.precision)
  if args.model_dir:
    return model_lib.Model.load(args.model_dir, **options)
  return model_lib.Model.load(
      model=args.model or 'resnet_v2_50', checkpoint=args.checkpoint,
      num_classes=1001 if for_predictions and not args.checkpoint else None,
      **options)


def run_features(args):
  from resnet_v2.serve import features  # pylint: disable=g-import-not-at-top
  features.check_features_output(args.output, args.overwrite, args.inputs)
  count, skipped = features.extract_features(
      args.inputs, args.output, _load_model(args, False),
      end_points=args.end_points or ['global_pool'],
      batch_size=args.batch_size, progress=sys.stderr.isatty(),
      overwrite=args.overwrite, max_pixels=args.max_image_pixels)
  print('wrote %s: %d image(s)' % (args.output, count))
  _report_skipped(skipped)


def run_predict(args):
  model = _load_model(args, True)
  if model.num_classes is None:
    raise ValueError('Checkpoint %s has no logits: use `resnet-v2 features`.'
                     % args.checkpoint)
  from resnet_v2.data import sources  # pylint: disable=g-import-not-at-top
  paths = sources.list_image_files(args.inputs)
  for kept, outputs in model.iterate(paths, ['predictions'], args.batch_size,
                                     max_pixels=args.max_image_pixels):
    for path, probabilities in zip(kept, outputs['predictions']):
      print(_printable(path))
      for index, name, probability in model.top_k(probabilities, args.top):
        print('  %6.2f%%  %4d  %s' % (100 * probability, index, name or ''))
  _report_skipped(model.skipped)


def run_eval(args):
  # pylint: disable=g-import-not-at-top
  from resnet_v2.data import inputs
  from resnet_v2 import files
  from resnet_v2.serve import evaluate as evaluation
  _check_net_args(args)
  output = args.output or os.path.join(args.model_dir or '.', 'eval')
  # MODEL_DIR/eval is the model dir's own place for reports.
  read = [args.data, args.checkpoint and args.checkpoint + '.index'] + (
      [args.model_dir] if args.output else [])
  source = inputs.open_source(args.data, split='test')
  files.check_output(output, args.overwrite, read)
  skipped = inputs.SkippedFiles()
  result = evaluation.evaluate(
      source, args.model_dir, args.model, args.checkpoint, args.batch_size,
      args.image_size, args.labels_offset, skipped, args.max_image_pixels,
      args.engine, args.precision)
  result['skipped_files'] = [list(item) for item in skipped.items()]
  written = evaluation.write_report(result, output, args.overwrite, read)
  print('%s on %s: top-1 %.4f, top-5 %.4f over %d images' % (
      result['model'], args.data, result['top1'], result['top5'],
      result['count']))
  print('wrote ' + ', '.join(written))
  _report_skipped(skipped.items())


def run_export(args):
  from resnet_v2.serve import export as export_lib  # pylint: disable=g-import-not-at-top
  written = export_lib.export(args.model_dir, args.output,
                              args.export_format, args.overwrite,
                              args.max_image_pixels)
  if written == 'saved_model':
    print('wrote SavedModel %s (signatures serving_default: image_bytes, '
          'serving_images: images)' % args.output)
  else:
    print('wrote %s model %s (input images; outputs logits, probabilities, '
          'features; model.json says how to preprocess)' % (written,
                                                            args.output))


def run_quantize(args):
  # pylint: disable=g-import-not-at-top
  from resnet_v2.data import inputs
  from resnet_v2.serve import quantize as quantization
  calibration = quantization.open_calibration_data(args.calibration_data)
  val = (inputs.open_source(args.val_data, split='test') if args.val_data
         else None)
  report = quantization.quantize(
      args.output, calibration, model_dir=args.model_dir, model=args.model,
      checkpoint=args.checkpoint, val_source=val,
      num_images=args.calibration_images, batch_size=args.batch_size,
      image_size=args.image_size, overwrite=args.overwrite)
  print(quantization.summary(report))
  print('wrote int8 model dir %s' % args.output)


# Train flags whose TrainConfig field has another name; every other flag
# that names a field sets it.
_TRAIN_FIELDS = {'save_every': 'save_every_steps',
                 'max_image_pixels': 'max_pixels'}


def train_config(args):
  """The `train.config.TrainConfig` that parsed `train` flags ask for."""
  from resnet_v2.train import config as config_lib  # pylint: disable=g-import-not-at-top
  fields = {f.name for f in dataclasses.fields(config_lib.TrainConfig)}
  values = {_TRAIN_FIELDS.get(flag, flag): value
            for flag, value in vars(args).items()}
  values = {name: value for name, value in values.items() if name in fields}
  return config_lib.TrainConfig(augment=not args.no_augment, **values)


def run_train(args):
  # pylint: disable=g-import-not-at-top
  from resnet_v2.data import inputs
  from resnet_v2.data import sources
  from resnet_v2.data import tfrecords
  from resnet_v2.train import distribute
  from resnet_v2.train import trainer as training
  # The devices and the cluster first: TensorFlow fixes them when it starts.
  if args.cpu_devices:
    distribute.configure_cpu_devices(args.cpu_devices)
  strategy = distribute.make_strategy(args.strategy, args.collective_timeout)
  # Data problems are reported before any net is built.
  train_source = inputs.open_source(args.data)
  if args.val_data:
    val_source = inputs.open_source(args.val_data, split='test')
  elif train_source.kind == 'cifar10':
    val_source = inputs.open_source(args.data, split='test')
  elif train_source.kind in ('folder', 'idx'):
    # IDX's t10k-* is the test set: held out, never chosen on.
    train_source, val_source = sources.split_source(
        train_source, args.val_fraction, args.seed)
  else:
    # TF-Slim's layout: validation-* beside train-*.
    val_source = tfrecords.validation_beside(train_source)
    print('validating on %s' % val_source.path if val_source else
          'note: no validation data (no --val-data, and no validation-* '
          'beside %s): training without it, best/ is not kept' % args.data,
          file=sys.stderr)
  config = train_config(args)
  trainer = training.Trainer(train_source, val_source, args.model_dir, config,
                             strategy=strategy)
  history = trainer.train(resume=args.resume, progress=sys.stderr.isatty())
  if history['epochs'] and 'val_accuracy' in history['epochs'][-1]:
    best = max(e['val_accuracy'] for e in history['epochs'])
    print('validation accuracy %.4f after %d epochs (best %.4f); model dir '
          '%s' % (history['epochs'][-1]['val_accuracy'],
                  history['epochs'][-1]['epoch'], best, args.model_dir))


# The library names its parameters in `backticks` (`model_dir`,
# `image_size`=299); the command line shows its flags instead.
PARAMETER_FLAGS = {
    'model_dir': '--model-dir', 'model': '--model',
    'checkpoint': '--checkpoint', 'image_size': '--image-size',
    'batch_size': '--batch-size', 'num_classes': '--num-classes',
    'resume': '--resume', 'overwrite': '--overwrite',
    'cpu_devices': '--cpu-devices', 'strategy': '--strategy',
    'export_format': '--format', 'engine': '--engine',
    'precision': '--precision',
}
_PARAMETER = re.compile(r'`(\w+)`(?:=(\S+?))?(?=[\s.,;:)]|$)')


def in_flags(message):
  """A library message with its parameters named as this command's flags."""
  def flag(match):
    name, value = match.group(1), match.group(2)
    if name not in PARAMETER_FLAGS:
      return match.group(0)
    return PARAMETER_FLAGS[name] + (' ' + value if value else '')
  return _PARAMETER.sub(flag, message)


COMMANDS = {'features': run_features, 'predict': run_predict,
            'eval': run_eval, 'export': run_export, 'train': run_train,
            'quantize': run_quantize}


def main(argv=None):
  parser = build_parser()
  args = parser.parse_args(argv)
  if not args.verbose:
    # Before TensorFlow loads (the commands import it): its start-up lines.
    quiet.filter_tensorflow_logs()
  try:
    COMMANDS[args.command](args)
  except (ValueError, ImportError) as error:
    # ImportError: an optional engine that is not installed (the message
    # says what to install).
    if isinstance(error, ImportError) and not getattr(
        error, 'optional_dependency', False):
      raise
    print('resnet-v2 %s: error: %s' % (args.command, in_flags(str(error))),
          file=sys.stderr)
    return 1
  except OSError as error:
    # A file that cannot be read or written: which one, and why.
    where = ' '.join(_printable(name) for name in (
        error.filename, error.filename2) if name is not None)
    print('resnet-v2 %s: error: %s%s' % (
        args.command, where + ': ' if where else '',
        error.strerror or error), file=sys.stderr)
    return 1
  except Exception as error:  # pylint: disable=broad-except
    # A TensorFlow op error met while running (e.g. a TFRecord label
    # outside the classes): its one meaningful line, not a traceback.
    if not hasattr(error, 'error_code'):
      raise
    from resnet_v2.data import sources  # pylint: disable=g-import-not-at-top
    print('resnet-v2 %s: error: %s' % (args.command,
                                       sources.op_error_reason(error)),
          file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
