"""Command line of the benchmarks: parse, run, report, write JSON and plots."""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

import tensorflow as tf

import resnet_v2
from benchmarks import engines
from benchmarks import steps
from benchmarks import timing
from resnet_v2 import files
from resnet_v2 import runtime
from resnet_v2.cli import positive_int

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

ONEDNN_SETTINGS = {'on': ['1'], 'off': ['0'], 'best': ['1', '0']}


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
  parser.add_argument('--data-format', choices=resnet_v2.nets.resnet.DATA_FORMATS,
                      default='NHWC', help='default: %(default)s (fastest on '
                      'CPUs; NCHW also runs there, slower)')
  parser.add_argument('--precision', choices=runtime.PRECISIONS + ('int8',),
                      default='fp32', help='bf16: oneDNN auto mixed precision '
                      '(CPU); fp16: CUDA auto mixed precision (GPU); int8: the '
                      'net as `resnet-v2 quantize` makes it (OpenVINO + NNCF, '
                      "CPU, forward; pip install 'resnet_v2[int8]'); default: "
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
  if args.precision == 'int8' and (args.mode != 'forward' or args.device !=
                                   'cpu' or args.data_format != 'NHWC'):
    parser.error('--precision int8 times the forward pass on the CPU in NHWC '
                 '(OpenVINO); drop --mode, --device and --data-format.')


def make_project_step(args):
  if args.precision == 'int8':
    return engines.project_int8_step(args.model, args.batch_size,
                                     args.image_size)
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


def make_comparators(args):
  """{name: step} of the --compare engines that are installed; says which
  are skipped (and why) and returns them as {name: reason} too."""
  runners, skipped = {}, {}
  for name in args.compare:
    if name == 'keras':
      step = make_keras_step(args)
      runners['keras ' + step.name] = step
      continue
    if engines.versions(name) is None:
      skipped[name] = ("not installed: pip install 'resnet_v2[%s]'" %
                       ('int8' if name == 'openvino' else 'onnx'))
    elif name == 'onnxruntime' and args.precision not in ('fp32', 'int8'):
      skipped[name] = 'ONNX Runtime has no %s CPU path' % args.precision
    elif name == 'openvino' and args.precision == 'fp16':
      skipped[name] = 'fp16 is a GPU precision'
    if name in skipped:
      print('skipped %s: %s' % (name, skipped[name]), flush=True)
      continue
    if name == 'openvino':
      step = engines.keras_openvino_step(args.model, args.batch_size,
                                         args.image_size, args.precision)
    else:
      step = engines.OnnxRuntimeStep(args.model, args.batch_size,
                                     args.image_size, args.precision)
    runners[step.name] = step
  return runners, skipped


def run(args):
  """Times the project (and the --compare engines); returns the result
  dict."""
  memory = {}
  if not args.no_memory and args.mode == 'forward':
    memory['project'] = measure_peak_rss('project', args.argv)
    if 'keras' in args.compare:
      memory['keras'] = measure_peak_rss('keras', args.argv)
  project = make_project_step(args)
  effective = project.effective_precision()
  if effective != args.precision:
    raise RuntimeError('asked for %s, but the convolutions ran in %s; '
                       'nothing timed.' % (args.precision, effective))
  others, skipped = make_comparators(args)
  runners = dict({'resnet_v2': project}, **others)
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
      'effective_precision': effective,
      'engine': ('openvino' if args.precision == 'int8' else 'tensorflow'),
      'onednn': runtime.onednn_enabled(),
      'onednn_max_cpu_isa': os.environ.get('ONEDNN_MAX_CPU_ISA'),
      'cpu_flags': steps.cpu_isa_flags(),
      'data_format': args.data_format, 'tensorflow': tf.__version__,
      'versions': {name: engines.versions(name) for name in
                   set(args.compare) | ({'openvino'} if args.precision ==
                                        'int8' else set())},
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
  if hasattr(project, 'kernels'):
    result['convolution_kernels'] = project.kernels()
  print('%s: %.3f +/- %.3f s/batch, %.1f images/s, %.2f GFLOP/image, %.1f '
        'GFLOP/s achieved%s' % (
            info, ours['mean_s'], ours['std_s'], result['images_per_s'],
            result['flops_per_image'] / 1e9, result['achieved_gflops'],
            ', peak RSS %.2f GiB' % (memory['project'] / 2**30)
            if 'project' in memory else ''))
  comparators = {}
  for name, step in others.items():
    theirs = stats(durations[name])
    kind = name.split()[0]
    precision = 'fp32' if kind == 'keras' else step.precision
    row = dict(theirs, model=steps.KERAS_NAMES[args.model],
               precision=precision,
               effective_precision=(precision if kind == 'keras'
                                    else step.effective_precision()),
               ratio=ours['mean_s'] / theirs['mean_s'])
    if kind == 'keras':
      row['peak_rss_bytes'] = memory.get('keras')
      result['keras'] = row
      result['ratio_to_keras'] = row['ratio']
    else:
      if hasattr(step, 'kernels'):
        row['convolution_kernels'] = step.kernels()
      comparators[kind] = row
    print('%s (%s, ran %s): %.3f +/- %.3f s/batch%s; resnet_v2 / %s = %.3f'
          % (name, precision, row['effective_precision'], theirs['mean_s'],
             theirs['std_s'], ', peak RSS %.2f GiB' % (
                 memory['keras'] / 2**30) if kind == 'keras' and 'keras' in
             memory else '', kind, row['ratio']))
  if comparators or skipped:
    result['comparators'] = comparators
    result['skipped_comparators'] = skipped
  print('device: %s; TensorFlow %s; oneDNN %s' % (
      result['device_name'], tf.__version__,
      'on' if result['onednn'] else 'off'))
  return result


def strip_options(argv, names):
  """argv without the options in `names` and their values."""
  kept, skip = [], False
  for item in argv:
    if skip:
      skip = False
    elif item in names:
      skip = True
    elif not any(item.startswith(name + '=') for name in names):
      kept.append(item)
  return kept


def run_child(argv, setting):
  """Runs one timing in a child process with TF_ENABLE_ONEDNN_OPTS=setting.

  Returns:
    Its result dict, or None when the child refused the setting (e.g. bf16
    with oneDNN off), after saying so.
  """
  with tempfile.TemporaryDirectory() as temp:
    path = os.path.join(temp, 'result.json')
    command = [sys.executable, '-m', 'benchmarks'] + argv + [
        '--onednn', 'default', '--json', path]
    print('running (TF_ENABLE_ONEDNN_OPTS=%s): %s' % (
        setting, ' '.join(command[1:])), flush=True)
    done = subprocess.run(command, capture_output=True, text=True,
                          check=False, env=dict(
                              os.environ, TF_ENABLE_ONEDNN_OPTS=setting))
    summary = [line for line in done.stdout.splitlines()
               if 's/batch' in line]
    print('\n'.join(summary), flush=True)
    if done.returncode:
      reason = done.stderr.strip().splitlines()[-1:] or ['no output']
      if 'cannot run here' in reason[0]:
        print('skipped oneDNN=%s: %s' % (setting, reason[0]))
        return None
      raise RuntimeError('child run failed:\n%s' % done.stderr[-3000:])
    with open(path) as handle:
      return json.load(handle)


def best_of(results):
  """One result from runs in several oneDNN settings: each implementation's
  fastest, with every run kept under 'runs'."""
  results = [r for r in results if r]
  if not results:
    raise RuntimeError('no oneDNN setting could run this configuration.')
  best = dict(min(results, key=lambda r: r['mean_s']))
  best['runs'] = [{'onednn': r['onednn'], 'mean_s': r['mean_s'],
                   'keras_mean_s': r.get('keras', {}).get('mean_s')}
                  for r in results]
  with_keras = [r for r in results if 'keras' in r]
  if with_keras:
    keras_best = min(with_keras, key=lambda r: r['keras']['mean_s'])
    best['keras'] = dict(keras_best['keras'], onednn=keras_best['onednn'])
    best['ratio_to_keras'] = best['mean_s'] / best['keras']['mean_s']
  return best


def run_settings(args, batch_size=None):
  """Times args in child processes per oneDNN setting; returns best_of."""
  argv = strip_options(args.argv, ('--onednn', '--batch-sizes', '--json',
                                   '--sweep-plot'))
  if batch_size is not None:
    argv = strip_options(argv, ('--batch-size',)) + [
        '--batch-size', str(batch_size)]
  settings = ONEDNN_SETTINGS.get(args.onednn) or [
      '1' if runtime.onednn_enabled() else '0']
  best = best_of([run_child(argv, setting) for setting in settings])
  best['command'] = ' '.join(['python -m benchmarks'] + args.argv)
  line = '%s batch %d: resnet_v2 %.3f s (oneDNN %s)' % (
      best['model'], best['batch_size'], best['mean_s'],
      'on' if best['onednn'] else 'off')
  if 'keras' in best:
    line += ', keras %.3f s (oneDNN %s), ratio %.3f' % (
        best['keras']['mean_s'], 'on' if best['keras']['onednn'] else 'off',
        best['ratio_to_keras'])
  print('best: ' + line, flush=True)
  return best


def run_sweep(args):
  """Runs every batch size of --batch-sizes; returns the sweep dict."""
  rows = [run_settings(args, batch_size) for batch_size in args.batch_sizes]
  return {'command': ' '.join(['python -m benchmarks'] + args.argv),
          'model': args.model, 'sweep': rows}


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
  if args.batch_sizes:
    result = run_sweep(args)
    if args.sweep_plot:
      from benchmarks import plot  # pylint: disable=g-import-not-at-top
      plot.plot_sweep(result, args.sweep_plot)
      print('wrote %s' % args.sweep_plot)
  elif args.onednn != 'default':
    result = run_settings(args)
  else:
    result = run(args)
  if args.json:
    files.write_json(args.json, result, indent=1)
    print('wrote %s' % args.json)
  return 0
