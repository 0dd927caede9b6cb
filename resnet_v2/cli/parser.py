"""The `resnet-v2` argument parser: one function per command's flags.

No TensorFlow here: `--help` answers at once.
"""

import argparse

from resnet_v2.cli import flags
from resnet_v2.cli import search_flags
from resnet_v2.cli import train_flags


def build_parser():
  parser = argparse.ArgumentParser(
      prog='resnet-v2', description='ResNet (TF-Slim) nets on your images: '
      'train, eval, predict, features, export, quantize, convert; index, '
      'search, dedup and probe a features folder.')
  parser.add_argument('--verbose', action='store_true',
                      help="show TensorFlow's start-up log lines")
  commands = parser.add_subparsers(dest='command', required=True)
  _add_features_parser(commands)
  _add_predict_parser(commands)
  _add_eval_parser(commands)
  _add_export_parser(commands)
  _add_quantize_parser(commands)
  train_flags.add_train_parser(commands)
  _add_convert_parser(commands)
  search_flags.add_search_parsers(commands)
  search_flags.add_serve_parser(commands)
  return parser


def _add_features_parser(commands):
  extract = commands.add_parser(
      'features', help='write end_points of a collection of images',
      description='Write the chosen end_points of every image. --output '
      'DIR writes shards of any size (per end point .npy files beside '
      'Parquet metadata, and manifest.json), resumable: the same command '
      'after a kill continues after the last complete shard; --ray runs '
      'the shards on a Ray cluster. --output F.npz writes one .npz (one '
      'array per end point, plus file_names), for small runs. Inputs: '
      'image files and folders, a .txt of paths, a TFRecord/CIFAR-10/IDX '
      'dataset, or webdataset .tar shards. Files that do not decode are '
      'skipped and listed.')
  flags.add_image_args(extract)
  extract.add_argument('--end-point', action='append', dest='end_points',
                       metavar='NAME', help='end point to save (repeatable; '
                       'default: global_pool), e.g. resnet_v2_50/block4')
  extract.add_argument('--output', '-o', required=True, metavar='DIR|NPZ')
  extract.add_argument('--shard-size', type=flags.positive_int,
                       metavar='IMAGES', help='images per shard of a list '
                       'of files (default: about 32 MiB of arrays, at most '
                       '10000 images); TFRecord, CIFAR and tar inputs shard '
                       'by file')
  extract.add_argument('--dtype', choices=('float32', 'float16'),
                       default='float32', help='of the arrays written '
                       '(default: %(default)s)')
  extract.add_argument('--split', choices=('train', 'test'),
                       default='train', help='of a CIFAR-10, IDX or TF-Slim '
                       'TFRecord dataset (default: %(default)s)')
  extract.add_argument('--ray', nargs='?', const='auto', metavar='ADDRESS',
                       help="run the shards on a Ray cluster ('auto': the "
                       'one this machine is part of; or its address); '
                       "needs 'resnet_v2[ray]'")
  flags.add_overwrite_arg(extract)


def _add_predict_parser(commands):
  predict = commands.add_parser(
      'predict', help='print the top classes of each image',
      description="Print the top classes of each image, named by the model "
      "dir's classes, or ImageNet's for 1000/1001-class checkpoints.")
  flags.add_image_args(predict)
  predict.add_argument('--top', type=flags.positive_int, default=5,
                       help='default: 5')


def _add_eval_parser(commands):
  evaluate = commands.add_parser(
      'eval', help='top-1, top-5, per-class accuracy and a confusion matrix',
      description='Evaluate a model dir (or --model with --checkpoint) on '
      'labelled data: class folders, TF-Slim ImageNet TFRecords or CIFAR-10 '
      'batches (its test_batch). Writes metrics.json and confusion.png.')
  flags.add_net_args(evaluate)
  flags.add_engine_args(evaluate)
  evaluate.add_argument('--tta', choices=('none', 'flip'), default='none',
                        help='flip: average each prediction with the mirror '
                        "image's (default: %(default)s)")
  evaluate.add_argument('--data', required=True, metavar='PATH')
  evaluate.add_argument('--output', metavar='DIR',
                        help='default: MODEL_DIR/eval, else ./eval')
  flags.add_overwrite_arg(evaluate)
  evaluate.add_argument('--labels-offset', type=int, default=None,
                        help='subtracted from TFRecord labels (default: 1 '
                        'for 1000-class nets, else 0)')


def _add_export_parser(commands):
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
  flags.add_overwrite_arg(export)
  flags.add_max_pixels_arg(export)
  export.add_argument('--format', choices=flags.EXPORT_FORMATS,
                      dest='export_format',
                      help='default: openvino for an int8 model dir, else '
                      'saved_model')


def _add_quantize_parser(commands):
  quantize = commands.add_parser(
      'quantize', help='int8 model dir, calibrated on your images',
      description='Post-training int8 quantization (OpenVINO + NNCF, '
      "per-channel weights; pip install 'resnet_v2[int8]') of a model dir "
      'or a published checkpoint, calibrated on images read and '
      'preprocessed as the net expects. Reports top-1 of int8 against fp32 '
      'where labels exist and the cosine of the pooled features, and writes '
      'an int8 model dir that eval, predict, features and export take.')
  flags.add_net_args(quantize)
  quantize.set_defaults(batch_size=32)
  quantize.add_argument('--calibration-data', required=True, metavar='PATH',
                        help='class folders, TFRecords, CIFAR-10 batches or '
                        'a folder of images')
  quantize.add_argument('--calibration-images', type=flags.positive_int,
                        default=300, metavar='N',
                        help='images to calibrate on (default: %(default)s)')
  quantize.add_argument('--val-data', metavar='PATH',
                        help='labelled data to compare int8 with fp32 on '
                        '(default: the calibration images)')
  quantize.add_argument('--output', required=True, metavar='DIR')
  flags.add_overwrite_arg(quantize)


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
  convert.add_argument('--model', type=flags.net_name, metavar='NAME',
                       help='with --checkpoint, instead of --model-dir')
  convert.add_argument('--checkpoint', metavar='PREFIX',
                       help='a TF-Slim checkpoint, e.g. resnet_v2_50.ckpt')
  convert.add_argument('--output', required=True, metavar='PATH',
                       help='a model dir (from --keras), else a .keras or '
                       '.weights.h5 file')
  flags.add_overwrite_arg(convert)
