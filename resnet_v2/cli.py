"""The `resnet-v2` command line: its flags, and errors in their terms.

Parsing needs no TensorFlow (`--help` answers at once); `commands` runs
what the flags ask for. Every command reads images through the one input
pipeline (`inputs`) and reaches nets by their registry name; a trained
model dir (`model.json`) tells later commands everything else, so they
take `--model-dir` alone.
"""

import argparse
import os
import re
import sys

from resnet_v2 import commands
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
      'train, eval, predict, features, export, quantize, convert.')
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
  _add_convert_parser(commands)
  return parser


def _add_convert_parser(commands):
  convert = commands.add_parser(
      'convert', help="weights to and from Keras's ResNet50V2/101V2/152V2",
      description="From Keras: a .keras, .h5 or .weights.h5 file of "
      "keras.applications' ResNet50V2, ResNet101V2 or ResNet152V2 becomes a "
      'model dir with TF-Slim variable names (every command then builds the '
      "net with Keras's batch-norm epsilon and root pooling, as model.json "
      'records). To Keras: a resnet_v2_50/101/152 model dir, or a net and a '
      'TF-Slim checkpoint, becomes a .keras or .weights.h5 file that '
      'keras.saving.load_model or keras.applications.ResNet50V2(weights='
      'PATH, classes=N) loads.')
  convert.add_argument('--keras', metavar='FILE',
                       help='the Keras file to convert into --output (a '
                       'model dir)')
  convert.add_argument('--background', action='store_true',
                       help="with --keras: add TF-Slim's background logit "
                       '(1000 -> 1001 classes, as its published checkpoints)')
  convert.add_argument('--model-dir', metavar='DIR',
                       help='the model dir to convert into --output (a Keras '
                       'file)')
  convert.add_argument('--model', type=_net_name, metavar='NAME',
                       help='with --checkpoint, instead of --model-dir')
  convert.add_argument('--checkpoint', metavar='PREFIX',
                       help='a TF-Slim checkpoint, e.g. resnet_v2_50.ckpt')
  convert.add_argument('--output', required=True, metavar='PATH',
                       help='a model dir (from --keras), else a .keras or '
                       '.weights.h5 file')
  _add_overwrite_arg(convert)


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


# The library names its parameters in `backticks` (`model_dir`,
# `image_size`=299); the command line shows its flags instead.
PARAMETER_FLAGS = {
    'model_dir': '--model-dir', 'model': '--model',
    'checkpoint': '--checkpoint', 'image_size': '--image-size',
    'batch_size': '--batch-size', 'num_classes': '--num-classes',
    'resume': '--resume', 'overwrite': '--overwrite',
    'cpu_devices': '--cpu-devices', 'strategy': '--strategy',
    'export_format': '--format', 'engine': '--engine',
    'precision': '--precision', 'keras_path': '--keras',
    'background': '--background', 'output': '--output',
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


def main(argv=None):
  parser = build_parser()
  args = parser.parse_args(argv)
  if not args.verbose:
    # Before TensorFlow loads (the commands import it): its start-up lines.
    quiet.filter_tensorflow_logs()
  try:
    commands.COMMANDS[args.command](args)
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
    where = ' '.join(commands.printable(name) for name in (
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
