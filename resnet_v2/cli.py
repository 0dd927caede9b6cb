"""The `resnet-v2` command: features, predict and train."""

import argparse
import sys

from resnet_v2 import features
from resnet_v2 import registry


def _add_model_args(parser):
  parser.add_argument('inputs', nargs='+', metavar='IMAGE_OR_FOLDER',
                      help='image files (JPEG, PNG, GIF, BMP) and folders')
  parser.add_argument('--model', default='resnet_v2_50',
                      choices=sorted(registry.NETWORKS),
                      help='default: %(default)s')
  parser.add_argument('--checkpoint', metavar='PREFIX',
                      help='TF-Slim checkpoint (prefix, e.g. '
                      'resnet_v2_50.ckpt); without one the weights are '
                      'random')
  parser.add_argument('--image-size', type=int, default=None,
                      help='default: 299 with a checkpoint, else 224')
  parser.add_argument('--batch-size', type=int, default=16,
                      help='default: %(default)s')


def build_parser():
  parser = argparse.ArgumentParser(
      prog='resnet-v2', description='ResNet v2 (TF-Slim) on image files.')
  commands = parser.add_subparsers(dest='command', required=True)
  extract = commands.add_parser(
      'features', help='write end_points of images to an .npz',
      description='Write the chosen end_points of every image to one .npz '
      '(one array per end point, plus file_names in the same order). Files '
      'that do not decode are skipped and listed at the end.')
  _add_model_args(extract)
  extract.add_argument('--end-point', action='append', dest='end_points',
                       metavar='NAME', help='end point to save (repeatable; '
                       'default: global_pool), e.g. resnet_v2_50/block4')
  extract.add_argument('--output', '-o', required=True, metavar='NPZ')
  predict = commands.add_parser(
      'predict', help='print the top-5 classes of each image',
      description='Print the top-5 classes of each image, with ImageNet '
      'names when the checkpoint has 1000 or 1001 classes.')
  _add_model_args(predict)
  predict.add_argument('--top', type=int, default=5, help='default: 5')
  _add_train_parser(commands)
  return parser


def _add_train_parser(commands):
  from resnet_v2 import datasets  # pylint: disable=g-import-not-at-top
  from resnet_v2 import training  # pylint: disable=g-import-not-at-top
  defaults = training.TrainConfig()
  train = commands.add_parser(
      'train', help='train a CIFAR-style ResNet from scratch',
      description='Train a CIFAR-style ResNet (v1 basic units, depth 6n+2, '
      'or v2 pre-activation bottlenecks, depth 9n+2; --plain removes every '
      'shortcut) with per-pixel mean subtraction, pad-4 random crops and '
      'flips, weight decay and a step learning-rate schedule. Writes a '
      'checkpoint each epoch, history.json and TensorBoard events to '
      '--model-dir; --resume continues from the last checkpoint.')
  source = train.add_mutually_exclusive_group()
  source.add_argument('--cifar10', metavar='DIR',
                      default=datasets.CIFAR10_DEFAULT_DIR,
                      help='cifar-10-batches-py folder (default: %(default)s)')
  source.add_argument('--image-folder', metavar='DIR',
                      help='a folder with one subfolder of images per class')
  train.add_argument('--image-size', type=int, default=32,
                     help='with --image-folder (default: %(default)s)')
  train.add_argument('--model-dir', required=True)
  train.add_argument('--depth', type=int, default=defaults.depth)
  train.add_argument('--version', type=int, choices=[1, 2],
                     default=defaults.version)
  train.add_argument('--plain', action='store_true',
                     help='no shortcuts (the degradation experiment)')
  train.add_argument('--epochs', type=int, default=defaults.epochs)
  train.add_argument('--batch-size', type=int, default=defaults.batch_size)
  train.add_argument('--optimizer', choices=training.OPTIMIZERS,
                     default=defaults.optimizer)
  train.add_argument('--learning-rate', type=float, default=None,
                     help='starting rate (default: 0.1 momentum, 1e-3 adam)')
  train.add_argument('--weight-decay', type=float,
                     default=defaults.weight_decay)
  train.add_argument('--no-augment', action='store_true')
  train.add_argument('--seed', type=int, default=defaults.seed)
  train.add_argument('--resume', action='store_true')


def _report_skipped(skipped):
  if skipped:
    print('skipped %d file(s) that are not readable images:' % len(skipped),
          file=sys.stderr)
    for path, reason in skipped:
      print('  %s: %s' % (path, reason), file=sys.stderr)


def run_features(args):
  count, skipped = features.extract_features(
      args.inputs, args.output, args.model, args.end_points or ['global_pool'],
      args.checkpoint, args.batch_size, args.image_size,
      progress=sys.stderr.isatty())
  print('wrote %s: %d image(s)' % (args.output, count))
  _report_skipped(skipped)


def run_predict(args):
  model = features.ImageModel(args.model, args.checkpoint, args.image_size,
                              num_classes=None if args.checkpoint else 1001)
  if model.num_classes is None:
    raise ValueError('Checkpoint %s has no logits: use `resnet-v2 features`.'
                     % args.checkpoint)
  paths = features.list_image_files(args.inputs)
  for kept, outputs in model.iterate(paths, ['predictions'], args.batch_size):
    for path, probabilities in zip(kept, outputs['predictions']):
      print(path)
      for index, name, probability in features.top_k(probabilities, args.top):
        print('  %6.2f%%  %4d  %s' % (100 * probability, index, name or ''))
  _report_skipped(model.skipped)


def run_train(args):
  from resnet_v2 import datasets  # pylint: disable=g-import-not-at-top
  from resnet_v2 import training  # pylint: disable=g-import-not-at-top
  # Data problems are reported before any graph is built.
  if args.image_folder:
    data = datasets.load_image_folder(args.image_folder, args.image_size,
                                      seed=args.seed)
  else:
    data = datasets.load_cifar10(args.cifar10)
  config = training.TrainConfig(
      depth=args.depth, version=args.version, plain=args.plain,
      epochs=args.epochs, batch_size=args.batch_size,
      optimizer=args.optimizer, learning_rate=args.learning_rate,
      weight_decay=args.weight_decay, augment=not args.no_augment,
      seed=args.seed)
  trainer = training.Trainer(data, args.model_dir, config)
  history = trainer.train(resume=args.resume, progress=sys.stderr.isatty())
  if history['epochs']:
    print('test accuracy %.4f after %d epochs; checkpoints in %s' % (
        history['epochs'][-1]['test_accuracy'], history['epochs'][-1]['epoch'],
        args.model_dir))


def main(argv=None):
  parser = build_parser()
  args = parser.parse_args(argv)
  if args.batch_size < 1:
    parser.error('--batch-size must be >= 1')
  try:
    {'features': run_features, 'predict': run_predict,
     'train': run_train}[args.command](args)
  except ValueError as error:
    print('resnet-v2 %s: error: %s' % (args.command, error), file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
