"""One timed run in this process: the project's step against the comparators
(Keras, OpenVINO, ONNX Runtime) for one setting, with peak memory."""

import json
import os
import resource

import tensorflow as tf

from benchmarks import children
from benchmarks import engines
from benchmarks import steps
from benchmarks import timing
from resnet_v2 import runtime


def make_project_step(args):
  if args.engine == 'openvino':
    return engines.project_openvino_step(args.model, args.batch_size,
                                         args.image_size, args.precision)
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
    memory['project'] = children.measure_peak_rss('project', args.argv)
    if 'keras' in args.compare:
      memory['keras'] = children.measure_peak_rss('keras', args.argv)
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
      'engine': args.engine,
      'onednn': runtime.onednn_enabled(),
      'onednn_max_cpu_isa': os.environ.get('ONEDNN_MAX_CPU_ISA'),
      'cpu_flags': steps.cpu_isa_flags(),
      'data_format': args.data_format, 'tensorflow': tf.__version__,
      'versions': {name: engines.versions(name) for name in
                   set(args.compare) | ({'openvino'} if args.engine ==
                                        'openvino' else set())},
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
