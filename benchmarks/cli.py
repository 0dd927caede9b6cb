"""Command line of the benchmarks: parse, run, report, write JSON and plots."""

import argparse
import json
import os
import resource
import subprocess
import sys

import tensorflow as tf

import resnet_v2
from resnet_v2 import files
from resnet_v2 import runtime
from resnet_v2 import timing
from benchmarks import steps

DESCRIPTION = """\
Time resnet_v2 nets (TensorFlow graphs) per batch, the classic way: burn-in
steps untimed, every 10th step logged, then MEAN +/- SD sec / batch. Without
arguments: resnet_v2_152, batch 32, 224x224, forward, fp32, on the best
device. Also reports FLOPs per image (counted from the graph), achieved
GFLOP/s and the peak resident memory of a forward run in a fresh process.

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


def positive_int(text):
  try:
    value = int(text)
  except ValueError:
    value = 0
  if value < 1:
    raise argparse.ArgumentTypeError('must be an integer >= 1, got %r' % text)
  return value


def build_parser():
  parser = argparse.ArgumentParser(
      prog='python -m benchmarks', description=DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--model', default='resnet_v2_152',
                      choices=sorted(resnet_v2.NETS), help='default: %(default)s')
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
  parser.add_argument('--data-format', choices=resnet_v2.nets.DATA_FORMATS,
                      default='NHWC', help='default: %(default)s (fastest on '
                      'CPUs; NCHW also runs there, slower)')
  parser.add_argument('--precision', choices=runtime.PRECISIONS,
                      default='fp32', help='bf16: oneDNN auto mixed precision '
                      '(CPU); fp16: CUDA auto mixed precision (GPU); default: '
                      '%(default)s')
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
  parser.add_argument('--compare', choices=['keras'],
                      help='also time keras.applications ResNet V2 '
                      '(weights=None, fp32) interleaved, in the same process')
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
  if args.compare == 'keras' and args.model not in steps.KERAS_NAMES:
    parser.error('Keras has no %s; --compare keras works with %s' %
                 (args.model, ', '.join(sorted(steps.KERAS_NAMES))))


def make_project_step(args):
  return steps.ProjectStep(
      args.model, args.batch_size, args.image_size, args.mode,
      args.precision, args.device, args.data_format, args.feed,
      steps.session_config(args))


def make_keras_step(args):
  return steps.KerasStep(args.model, args.batch_size, args.image_size,
                         args.mode, args.device)


def peak_rss_child(args):
  """Runs a few steps of one implementation; prints its peak RSS as JSON."""
  step = (make_project_step if args.peak_rss_of == 'project'
          else make_keras_step)(args)
  timing.time_steps({'step': step}, num_batches=2, num_steps_burn_in=1,
                    stream=open(os.devnull, 'w'))
  print(json.dumps({'peak_rss_bytes':
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def measure_peak_rss(which, argv):
  """Peak resident memory of a short forward run in a fresh process.

  Args:
    which: 'project' or 'keras'.
    argv: The command line of this run; the child builds the same step.
  """
  command = [sys.executable, '-m', 'benchmarks', '--peak-rss-of', which
            ] + list(argv)
  done = subprocess.run(command, capture_output=True, text=True, check=False)
  if done.returncode:
    raise RuntimeError('peak-memory run of %s failed:\n%s' %
                       (which, done.stderr[-2000:]))
  return json.loads(done.stdout.strip().splitlines()[-1])['peak_rss_bytes']


def stats(durations):
  mean, sd = timing.summarize(durations)
  return {'step_times_s': durations, 'mean_s': mean, 'std_s': sd}


def describe(args):
  return '%s %s %s batch %d %dx%d %s on %s' % (
      args.model, args.mode, args.precision, args.batch_size, args.image_size,
      args.image_size, args.data_format, args.device)


def run(args):
  """Times the project (and Keras, with --compare); returns the result dict."""
  memory = {}
  if not args.no_memory and args.mode == 'forward':
    memory['project'] = measure_peak_rss('project', args.argv)
    if args.compare:
      memory['keras'] = measure_peak_rss('keras', args.argv)
  project = make_project_step(args)
  runners = {'resnet_v2': project}
  if args.compare:
    keras_step = make_keras_step(args)
    runners['keras ' + keras_step.name] = keras_step
  info = describe(args)
  durations = timing.time_steps(runners, args.num_batches, args.burn_in,
                                progress_label=info)
  for name, times in durations.items():
    timing.report('%s: %s' % (name, info), times)
  ours = stats(durations['resnet_v2'])
  result = {
      'command': ' '.join(['python -m benchmarks'] + args.argv),
      'model': args.model, 'batch_size': args.batch_size,
      'image_size': args.image_size, 'mode': args.mode,
      'precision': args.precision, 'device': args.device,
      'device_name': steps.device_name(args.device),
      'data_format': args.data_format, 'tensorflow': tf.__version__,
      'threads': list(args.threads), 'xla': args.xla,
      'disabled_rewrites': args.disable_rewrite, 'feed': args.feed,
      'num_batches': args.num_batches, 'burn_in': args.burn_in,
      **ours,
      'images_per_s': args.batch_size / ours['mean_s'],
      'flops_per_image': project.flops_per_image,
      'achieved_gflops': (project.flops_per_image * args.batch_size /
                          ours['mean_s'] / 1e9),
      'peak_rss_bytes': memory.get('project'),
  }
  print('%s: %.3f +/- %.3f s/batch, %.1f images/s, %.2f GFLOP/image, %.1f '
        'GFLOP/s achieved%s' % (
            info, ours['mean_s'], ours['std_s'], result['images_per_s'],
            result['flops_per_image'] / 1e9, result['achieved_gflops'],
            ', peak RSS %.2f GiB' % (memory['project'] / 2**30)
            if 'project' in memory else ''))
  if args.compare:
    name = 'keras ' + keras_step.name
    theirs = stats(durations[name])
    result['keras'] = dict(theirs, model=keras_step.name,
                           peak_rss_bytes=memory.get('keras'))
    result['ratio_to_keras'] = ours['mean_s'] / theirs['mean_s']
    print('%s (fp32): %.3f +/- %.3f s/batch%s; resnet_v2 / keras = %.3f' % (
        name, theirs['mean_s'], theirs['std_s'],
        ', peak RSS %.2f GiB' % (memory['keras'] / 2**30)
        if 'keras' in memory else '', result['ratio_to_keras']))
  print('device: %s; TensorFlow %s' % (result['device_name'], tf.__version__))
  return result


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
    peak_rss_child(args)
    return 0
  result = run(args)
  if args.json:
    files.write_json(args.json, result, indent=1)
    print('wrote %s' % args.json)
  return 0
