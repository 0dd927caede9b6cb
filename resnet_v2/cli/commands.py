"""What each `resnet-v2` command does, once `cli` has parsed its flags.

Each `run_<command>(args)` imports the library (and TensorFlow) only when
it runs; `COMMANDS` maps command names to them.
"""

import dataclasses
import os
import sys

from resnet_v2.cli import flags
from resnet_v2.cli import progress
from resnet_v2.cli import search_commands


def printable(path):
  # pylint: disable=g-import-not-at-top
  from resnet_v2.data import sources   # TensorFlow is loaded once a command runs
  return sources.display_name(path)


def _report_skipped(skipped):
  if skipped:
    print('skipped %d unreadable image(s) or record(s) (listed below, and '
          'in the output where it keeps a list):' % len(skipped),
          file=sys.stderr)
    for path, reason in skipped:
      print('  %s: %s' % (printable(path), reason), file=sys.stderr)


def _net_args(args):
  """(model_dir, model, checkpoint) the flags name; with --weights, the
  published weights are fetched into the cache first and named."""
  if not args.weights:
    return args.model_dir, args.model, args.checkpoint
  from resnet_v2.serve import weights  # pylint: disable=g-import-not-at-top
  record = weights.record_for(args.model or 'resnet_v2_50', args.weights,
                              args.model_dir, args.checkpoint,
                              progress.Progress)
  if record.model_dir:
    return record.model_dir, None, None
  return None, record.model, record.weights


def _load_model(args, for_predictions):
  """The net the arguments name, as a `serve.model.Model`."""
  from resnet_v2.serve import model as model_lib  # pylint: disable=g-import-not-at-top
  model_dir, model, checkpoint = _net_args(args)
  return model_lib.Model.load(
      model_dir, model or (None if model_dir else 'resnet_v2_50'),
      checkpoint, args.image_size,
      num_classes=1001 if for_predictions and not checkpoint else None,
      engine=args.engine, precision=args.precision)


def run_features(args):
  from resnet_v2.serve import features  # pylint: disable=g-import-not-at-top
  end_points = args.end_points or ['global_pool']
  if args.output.endswith('.npz'):
    if (args.ray or args.shard_size or args.dtype != 'float32' or
        args.split != 'train'):
      raise ValueError('--ray, --shard-size, --dtype and --split write a '
                       'features folder: give --output a folder, not an '
                       '.npz.')
    count, skipped = features.extract_features(
        args.inputs, args.output, lambda: _load_model(args, False),
        end_points=end_points, batch_size=args.batch_size,
        progress=progress.Progress, overwrite=args.overwrite,
        max_pixels=args.max_image_pixels)
    print('wrote %s: %d image(s)' % (args.output, count))
    _report_skipped(skipped)
    return
  manifest = features.extract_to_folder(
      args.inputs, args.output, _load_model(args, False), end_points,
      shard_size=args.shard_size, batch_size=args.batch_size,
      dtype=args.dtype, progress=progress.Progress,
      max_pixels=args.max_image_pixels, weights=args.weights,
      ray_address=args.ray, split=args.split, log=sys.stderr)
  print('wrote %s: %d image(s) in %d shard(s)' % (
      args.output, manifest['images'], len(manifest['complete_shards'])))
  _report_skipped(manifest['skipped_files'])


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
  model_dir, model, checkpoint = _net_args(args)
  output = args.output or os.path.join(args.model_dir or '.', 'eval')
  # MODEL_DIR/eval is the model dir's own place for reports.
  read = [args.data, checkpoint and checkpoint + '.index'] + (
      [model_dir] if args.output or not args.model_dir else [])
  source = inputs.open_source(args.data, split='test')
  files.check_output(output, args.overwrite, read)
  skipped = inputs.SkippedFiles()
  result = evaluation.evaluate(
      source, model_dir, model, checkpoint, args.batch_size,
      args.image_size, args.labels_offset, skipped, args.max_image_pixels,
      args.engine, args.precision, args.tta)
  result['skipped_files'] = [list(item) for item in skipped.items()]
  written = evaluation.write_report(result, output, args.overwrite, read)
  print('%s on %s: top-1 %.4f, top-5 %.4f over %d images%s' % (
      result['model'], args.data, result['top1'], result['top5'],
      result['count'], ' (flip test-time augmentation)'
      if args.tta == 'flip' else ''))
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
  model_dir, model, checkpoint = _net_args(args)
  report = quantization.quantize(
      args.output, calibration, model_dir=model_dir, model=model,
      checkpoint=checkpoint, val_source=val,
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
  from resnet_v2.data import splits
  from resnet_v2.train import distribute
  from resnet_v2.train import trainer as training
  # The devices and the cluster first: TensorFlow fixes them when it starts.
  if args.cpu_devices:
    distribute.configure_cpu_devices(args.cpu_devices)
  strategy = distribute.make_strategy(args.strategy, args.collective_timeout)
  # Data problems are reported before any net is built.
  train_source, val_source, note = splits.training_sources(
      args.data, args.val_data, args.val_fraction, args.seed)
  if note:
    print(flags.in_flags(note), file=sys.stderr)
  if args.weights:
    if args.checkpoint:
      raise ValueError('--weights names the checkpoint to start from; drop '
                       '--checkpoint.')
    from resnet_v2.serve import weights  # pylint: disable=g-import-not-at-top
    args.checkpoint = weights.record(args.model, args.weights,
                                     progress.Progress).checkpoint()
  config = train_config(args)
  trainer = training.Trainer(train_source, val_source, args.model_dir, config,
                             strategy=strategy)
  history = trainer.train(resume=args.resume, progress=progress.Progress)
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
            'quantize': run_quantize, 'convert': run_convert,
            **search_commands.COMMANDS}
