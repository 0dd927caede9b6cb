"""Command line of the benchmarks: parse, run, report, write JSON and plots."""

import argparse
import sys

import tensorflow as tf

from benchmarks import children
from benchmarks import engines
from benchmarks import run as run_lib
from benchmarks import steps
from resnet_v2 import files
from resnet_v2 import runtime
from resnet_v2.cli.flags import positive_int
from resnet_v2.nets import resnet as nets_lib

DESCRIPTION = """\
Time resnet_v2 nets (TensorFlow graphs) per batch, the classic way: burn-in
steps untimed, every 10th step logged, then MEAN +/- SD sec / batch. Without
arguments: resnet_v2_152, batch 32, 224x224, forward, fp32, on the best
device. Also reports FLOPs per image (counted from the graph), achieved
GFLOP/s and the peak resident memory of a forward run in a fresh process.

oneDNN: TensorFlow decides when it loads whether its CPU ops use oneDNN
(TF_ENABLE_ONEDNN_OPTS=1/0; default on for CPUs with AVX-512 VNNI, BF16 or
AMX). `--onednn on|off` runs the timing in a child process with that
setting; `--onednn best` runs both and reports each implementation in its
fastest setting (so `--compare keras --onednn best` compares against
Keras's best on this machine). `--batch-sizes 1,8,32` sweeps batch sizes,
each in fresh child processes; `--sweep-plot PNG` draws latency and
images/s against batch size.

Plot mode: `python -m benchmarks --plot out.png a.json b.json ...` draws the
time per batch of earlier --json results (needs matplotlib:
pip install 'resnet_v2[plot]')."""



def parse_threads(text):
  """'INTRA' or 'INTRA:INTER' -> (intra, inter); 0 lets TensorFlow choose."""
  parts = text.split(':')
  try:
    values = [int(part) for part in parts]
  except ValueError:
    values = []
  if len(values) not in (1, 2) or min(values) < 0:
    raise argparse.ArgumentTypeError(
        'threads must be INTRA or INTRA:INTER, integers >= 0 (0 = '
        'TensorFlow chooses), e.g. 2:1; got %r' % text)
  return values[0], values[1] if len(values) == 2 else 0


def comparator_list(text):
  names = [name.strip() for name in text.split(',') if name.strip()]
  unknown = [n for n in names if n not in engines.COMPARATORS]
  if not names or unknown:
    raise argparse.ArgumentTypeError(
        'must be a comma-separated list of %s; got %r' % (
            ', '.join(engines.COMPARATORS), text))
  return names


def batch_size_list(text):
  try:
    values = [int(part) for part in text.split(',')]
  except ValueError:
    values = []
  if not values or min(values) < 1:
    raise argparse.ArgumentTypeError(
        'must be a comma-separated list of integers >= 1, e.g. 1,8,32; got '
        '%r' % text)
  return values


def build_parser():
  parser = argparse.ArgumentParser(
      prog='python -m benchmarks', description=DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--verbose', action='store_true',
                      help="show TensorFlow's start-up log lines")
  parser.add_argument('--model', default='resnet_v2_152',
                      choices=sorted(nets_lib.NETS), help='default: %(default)s')
  parser.add_argument('--batch-size', type=positive_int, default=32,
                      help='images per batch (default: %(default)s)')
  parser.add_argument('--image-size', type=positive_int, default=224,
                      help='height and width (default: %(default)s)')
  parser.add_argument('--mode', choices=steps.MODES, default='forward',
                      help='forward (inference) or forward-backward (loss, '
                      'gradients of all trainable variables and batch-norm '
                      'updates, as a training step); default: %(default)s')
  parser.add_argument('--num-batches', type=positive_int, default=100,
                      help='timed steps (default: %(default)s)')
  parser.add_argument('--burn-in', type=int, default=10,
                      help='untimed steps first (default: %(default)s)')
  parser.add_argument('--device', choices=runtime.DEVICES, default=None,
                      help='default: gpu when TensorFlow sees one, else cpu')
  parser.add_argument('--data-format', choices=nets_lib.DATA_FORMATS,
                      default='NHWC', help='default: %(default)s (fastest on '
                      'CPUs; NCHW also runs there, slower)')
  parser.add_argument('--precision', choices=runtime.PRECISIONS + ('int8',),
                      default='fp32', help='bf16: oneDNN auto mixed precision '
                      '(CPU); fp16: CUDA auto mixed precision (GPU); int8: the '
                      'net as `resnet-v2 quantize` makes it (OpenVINO + NNCF, '
                      "CPU, forward; pip install 'resnet_v2[int8]'); default: "
                      '%(default)s')
  parser.add_argument('--engine', choices=('tensorflow', 'openvino'),
                      default=None, help='what runs resnet_v2: tensorflow '
                      '(default for fp32/bf16/fp16) or openvino (the net '
                      'converted, as `resnet-v2 predict --engine openvino` '
                      'runs it; fp32, bf16 or int8; CPU, forward)')
  parser.add_argument('--threads', type=parse_threads, default=(0, 0),
                      metavar='INTRA[:INTER]', help='intra-op and inter-op '
                      'threads; 0 lets TensorFlow choose (default: 0:0)')
  parser.add_argument('--xla', action='store_true',
                      help='compile with XLA (global JIT)')
  parser.add_argument('--disable-rewrite', action='append', default=[],
                      choices=runtime.REWRITES, metavar='PASS',
                      help='switch a grappler pass off (repeatable): %s' %
                      ', '.join(runtime.REWRITES))
  parser.add_argument('--feed', action='store_true',
                      help='feed the batch from host memory each step '
                      '(default: input resident on the device)')
  parser.add_argument('--compare', type=comparator_list, default=[],
                      metavar='NAME,..',
                      help='also time, interleaved in the same process: '
                      'keras (keras.applications ResNet V2, weights=None, '
                      'fp32), openvino (that Keras net converted to OpenVINO, '
                      'at --precision; int8 by NNCF), onnxruntime (that Keras '
                      'net by tf2onnx on ONNX Runtime; fp32 or int8). Ones '
                      'not installed are skipped with a message.')
  parser.add_argument('--onednn', choices=['default', 'on', 'off', 'best'],
                      default='default', help='oneDNN setting: as TensorFlow '
                      'chooses for this CPU (default), on, off, or best of '
                      'both per implementation (child processes)')
  parser.add_argument('--batch-sizes', type=batch_size_list, metavar='B,B,..',
                      help='sweep these batch sizes (child processes); '
                      'overrides --batch-size')
  parser.add_argument('--sweep-plot', metavar='PNG',
                      help='with --batch-sizes: plot latency and images/s')
  parser.add_argument('--no-memory', action='store_true',
                      help='skip the peak-memory runs (fresh processes)')
  parser.add_argument('--json', metavar='PATH',
                      help='write the results as one JSON object')
  parser.add_argument('--plot', metavar='PNG',
                      help='plot the JSON result files given as arguments')
  parser.add_argument('results', nargs='*', metavar='RESULT.json',
                      help='with --plot: JSON files written by --json')
  parser.add_argument('--peak-rss-of', choices=['project', 'keras'],
                      help=argparse.SUPPRESS)
  return parser


def check_args(parser, args):
  if args.results and not args.plot:
    parser.error('result files are only read with --plot PNG')
  if args.sweep_plot and not args.batch_sizes:
    parser.error('--sweep-plot needs --batch-sizes')
  if args.burn_in < 0:
    parser.error('--burn-in must be >= 0')
  if args.image_size < 32:
    parser.error('--image-size must be at least 32 (the nets\' output stride)')
  args.device = args.device or runtime.available_device()
  if args.device == 'gpu' and not tf.config.list_physical_devices('GPU'):
    parser.error('--device gpu: TensorFlow sees no GPU here; use --device cpu')
  args.intra_threads, args.inter_threads = args.threads
  try:
    steps.session_config(args)
  except ValueError as error:
    parser.error(str(error))
  if args.compare and args.model not in steps.KERAS_NAMES:
    parser.error('Keras has no %s; --compare works with %s' %
                 (args.model, ', '.join(sorted(steps.KERAS_NAMES))))
  if args.engine is None:
    args.engine = 'openvino' if args.precision == 'int8' else 'tensorflow'
  if args.engine == 'openvino' and (args.mode != 'forward' or args.device !=
                                    'cpu' or args.data_format != 'NHWC'):
    parser.error('--precision int8 and --engine openvino time the forward '
                 'pass on the CPU in NHWC (OpenVINO); drop --mode, --device '
                 'and --data-format.')
  if args.engine == 'tensorflow' and args.precision == 'int8':
    parser.error('int8 runs on OpenVINO: drop --engine tensorflow')
  if args.engine == 'openvino' and args.precision == 'fp16':
    parser.error('--engine openvino runs fp32, bf16 or int8 on the CPU')


def main(argv=None):
  parser = build_parser()
  argv = sys.argv[1:] if argv is None else list(argv)
  args = parser.parse_args(argv)
  args.argv = argv
  if args.plot:
    from benchmarks import plot  # pylint: disable=g-import-not-at-top
    if not args.results:
      parser.error('--plot needs JSON result files written by --json')
    plot.plot_results(args.results, args.plot)
    print('wrote %s' % args.plot)
    return 0
  check_args(parser, args)
  if args.intra_threads or args.inter_threads:
    # For Keras's eager runtime; graph sessions take it from their config.
    try:
      tf.config.threading.set_intra_op_parallelism_threads(args.intra_threads)
      tf.config.threading.set_inter_op_parallelism_threads(args.inter_threads)
    except RuntimeError:
      print('note: TensorFlow\'s eager runtime was already started in this '
            'process, so --threads applies to resnet_v2\'s session only, not '
            'to Keras.', file=sys.stderr)
  if args.peak_rss_of:
    run_lib.peak_rss_child(args)
    return 0
  if args.batch_sizes:
    result = children.run_sweep(args)
    if args.sweep_plot:
      from benchmarks import plot  # pylint: disable=g-import-not-at-top
      plot.plot_sweep(result, args.sweep_plot)
      print('wrote %s' % args.sweep_plot)
  elif args.onednn != 'default':
    result = children.run_settings(args)
  else:
    result = run_lib.run(args)
  if args.json:
    files.write_json(args.json, result, indent=1)
    print('wrote %s' % args.json)
  return 0
