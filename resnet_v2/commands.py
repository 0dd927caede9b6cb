"""What each `resnet-v2` command does, once `cli` has parsed its flags.

Each `run_<command>(args)` imports the library (and TensorFlow) only when
it runs; `COMMANDS` maps command names to them.
"""

import dataclasses
import os
import sys


def printable(path):
  # pylint: disable=g-import-not-at-top
  from resnet_v2.data import sources   # TensorFlow is loaded once a command runs
  return sources.display_name(path)


def _report_skipped(skipped):
  if skipped:
    print('skipped %d file(s) that are not readable images:' % len(skipped),
          file=sys.stderr)
    for path, reason in skipped:
      print('  %s: %s' % (printable(path), reason), file=sys.stderr)


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
      print(printable(path))
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



def run_convert(args):
  from resnet_v2.serve import convert  # pylint: disable=g-import-not-at-top
  if args.keras:
    if args.model_dir or args.model or args.checkpoint:
      raise ValueError('--keras converts a Keras file into a model dir; drop '
                       '--model-dir, --model and --checkpoint.')
    record = convert.from_keras(args.keras, args.output, args.background,
                                args.overwrite)
    print('wrote model dir %s: %s, %s classes, Keras conventions (batch-norm '
          'epsilon 1.001e-5, zero-padded pool1)' % (
              args.output, record.model, record.num_classes or 'no'))
    return
  if args.background:
    raise ValueError('--background applies to --keras only.')
  _check_net_args(args)
  info = convert.to_keras(args.output, args.model_dir, args.model,
                          args.checkpoint, args.overwrite)
  print('wrote %s: keras.applications.%s, %s classes' % (
      args.output, info['keras'], info['classes'] or 'no'))
  if info['conventions'] != 'keras':
    print("note: these weights were trained with TF-Slim's batch-norm "
          "epsilon and root pooling; Keras computes with its own, so its "
          'outputs differ slightly from this net\'s (EXPERIMENTS.md, '
          '"Weights to and from Keras").', file=sys.stderr)


COMMANDS = {'features': run_features, 'predict': run_predict,
            'eval': run_eval, 'export': run_export, 'train': run_train,
            'quantize': run_quantize, 'convert': run_convert}
