"""The `resnet-v2` command: features and predict."""

import argparse
import sys

import resnet_v2
from resnet_v2 import features


def _add_model_args(parser):
  parser.add_argument('inputs', nargs='+', metavar='IMAGE_OR_FOLDER',
                      help='image files (JPEG, PNG, GIF, BMP) and folders')
  parser.add_argument('--model', default='resnet_v2_50',
                      choices=sorted(resnet_v2.NETS),
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
  return parser


def _report_skipped(skipped):
  if skipped:
    print('skipped %d file(s) that are not readable images:' % len(skipped),
          file=sys.stderr)
    for _, reason in skipped:
      print('  ' + reason, file=sys.stderr)


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


def main(argv=None):
  parser = build_parser()
  args = parser.parse_args(argv)
  if args.batch_size < 1:
    parser.error('--batch-size must be >= 1')
  try:
    {'features': run_features, 'predict': run_predict}[args.command](args)
  except ValueError as error:
    print('resnet-v2 %s: error: %s' % (args.command, error), file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
