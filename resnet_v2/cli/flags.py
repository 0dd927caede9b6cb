"""Flags several `resnet-v2` commands share, and the values they check.

No TensorFlow here: `--help` answers at once.
"""

import argparse
import os
import re

from resnet_v2.nets import registry

# distribute.COLLECTIVE_TIMEOUT, preprocessing.MAX_IMAGE_PIXELS,
# export.FORMATS, model.ENGINES and weights.NAMES (the command line is built without importing TensorFlow;
# a test keeps them equal).
COLLECTIVE_TIMEOUT = 600
MAX_IMAGE_PIXELS = 89478485
EXPORT_FORMATS = ('saved_model', 'openvino', 'onnx')
ENGINES = ('tensorflow', 'openvino')
WEIGHTS = ('tf-slim', 'keras')
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


def net_name(text):
  try:
    registry.get_spec(text)
  except ValueError as error:
    raise argparse.ArgumentTypeError(str(error))
  return text


def add_net_args(parser, default_model='resnet_v2_50'):
  parser.add_argument('--model-dir', metavar='DIR',
                      help='a model dir written by `resnet-v2 train` (its '
                      'net, classes and best checkpoint)')
  parser.add_argument('--model', default=None, type=net_name,
                      metavar='NAME',
                      help='a net by name, without --model-dir (default: '
                      '%s); one of %s' % (default_model,
                                          ', '.join(sorted(registry.NETWORKS))))
  parser.add_argument('--checkpoint', metavar='PREFIX',
                      help='TF-Slim checkpoint (prefix, e.g. '
                      'resnet_v2_50.ckpt), without --model-dir')
  add_weights_arg(parser)
  parser.add_argument('--image-size', type=positive_int, default=None,
                      help="default: the model dir's, 299 with a published "
                      "v2 checkpoint, else the net's")
  parser.add_argument('--batch-size', type=positive_int, default=16,
                      help='default: %(default)s')
  add_max_pixels_arg(parser)


def add_weights_arg(parser):
  parser.add_argument('--weights', choices=WEIGHTS, default=None,
                      help="published ImageNet weights of --model: TF-Slim's "
                      "checkpoints (resnet_v1/v2 50/101/152) or Keras's "
                      '(resnet_v2 50/101/152), fetched once into '
                      '$RESNET_V2_HOME (default ~/.cache/resnet_v2)')


def add_max_pixels_arg(parser):
  parser.add_argument('--max-image-pixels', type=positive_int,
                      default=MAX_IMAGE_PIXELS, metavar='N',
                      help='larger images are skipped (named) without being '
                      'decoded (default: %(default)s, as Pillow)')


def add_overwrite_arg(parser):
  parser.add_argument('--overwrite', action='store_true',
                      help='replace an existing --output that resnet-v2 did '
                      'not write (never an input)')


def add_engine_args(parser):
  parser.add_argument('--engine', choices=ENGINES, default=None,
                      help='tensorflow (default for float nets) or openvino '
                      "(the CPU's fastest path; int8 model dirs always; "
                      "needs 'resnet_v2[int8]')")
  parser.add_argument('--precision', choices=('fp32', 'bf16'), default=None,
                      help='fp32 (default) or bf16 (--engine openvino, on '
                      'CPUs with bf16); int8 model dirs run in int8')


def add_image_args(parser):
  add_net_args(parser)
  add_engine_args(parser)
  parser.add_argument('inputs', nargs='+', metavar='IMAGE_OR_FOLDER',
                      help='image files (JPEG, PNG, GIF, BMP) and folders')


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
    'max_unreadable': '--max-unreadable', 'weights': '--weights',
    'end_point': '--end-point', 'metric': '--metric',
    'max_memory': '--max-index-memory', 'threshold': '--threshold',
    'val_data': '--val-data', 'val_fraction': '--val-fraction',
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
