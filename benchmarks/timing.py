"""Timing of TensorFlow steps: the classic `time_tensorflow_run` harness,
interleaved timing of several step functions, and graph FLOP counts."""

import datetime
import math
import sys
import time

import tensorflow as tf
from tensorflow.python.util import deprecation  # pylint: disable=g-direct-tensorflow-import

from resnet_v2.cli.progress import Progress


def summarize(durations):
  """Returns (mean, standard deviation) of durations, as the classic harness.

  The deviation is the population one (divide by N), as in TensorFlow's
  original benchmark scripts.

  Raises:
    ValueError: if durations is empty.
  """
  if not durations:
    raise ValueError('No durations to summarize: time at least one step.')
  mean = sum(durations) / len(durations)
  variance = max(sum(d * d for d in durations) / len(durations) - mean**2, 0.0)
  return mean, math.sqrt(variance)


def _log(message, stream):
  print('%s: %s' % (datetime.datetime.now(), message), file=stream)


def time_steps(steps, num_batches=100, num_steps_burn_in=10, stream=None,
               progress_label=None):
  """Times several step functions, interleaved step by step.

  Each round calls every function once, in order, so that all of them see
  the same machine conditions. The first `num_steps_burn_in` rounds are run
  but not timed. Every 10th timed step is logged with its duration.

  Args:
    steps: dict of name -> function of no arguments that runs one step.
    num_batches: Number of timed rounds.
    num_steps_burn_in: Number of untimed rounds first.
    stream: Where to log; default stdout.
    progress_label: If set, show a progress line on a terminal (stderr).

  Returns:
    dict of name -> list of `num_batches` durations in seconds.

  Raises:
    ValueError: if steps is empty or the counts are negative / zero.
  """
  if not steps:
    raise ValueError('steps is empty: give at least one name -> function.')
  if num_batches < 1 or num_steps_burn_in < 0:
    raise ValueError('num_batches must be >= 1 and num_steps_burn_in >= 0, '
                     'got %r and %r.' % (num_batches, num_steps_burn_in))
  stream = stream or sys.stdout
  durations = {name: [] for name in steps}
  progress = Progress(num_batches, progress_label) if progress_label else None
  for i in range(num_steps_burn_in + num_batches):
    for name, step in steps.items():
      start = time.perf_counter()
      step()
      duration = time.perf_counter() - start
      if i >= num_steps_burn_in:
        durations[name].append(duration)
        timed = i - num_steps_burn_in
        if not timed % 10:
          prefix = '' if len(steps) == 1 else name + ' '
          _log('%sstep %d, duration = %.3f' % (prefix, timed, duration),
               stream)
    if progress and i >= num_steps_burn_in:
      first = next(iter(steps))
      progress.update(i - num_steps_burn_in + 1, durations[first])
  return durations


def report(info_string, durations, stream=None):
  """Logs '<info> across N steps, MEAN +/- SD sec / batch'."""
  mean, sd = summarize(durations)
  _log('%s across %d steps, %.3f +/- %.3f sec / batch' %
       (info_string, len(durations), mean, sd), stream or sys.stdout)


def time_tensorflow_run(session, target, info_string, num_batches=100,
                        num_steps_burn_in=10, feed_dict=None):
  """Runs `target` repeatedly and reports its time per step.

  The classic harness of TensorFlow's AlexNet/ResNet benchmarks: burn-in
  steps run untimed, every 10th timed step is printed with its duration,
  then '<time>: <info> across N steps, MEAN +/- SD sec / batch'.

  Args:
    session: A `tf.compat.v1.Session`.
    target: What to run: an op, a tensor or a list of them.
    info_string: Description for the summary line.
    num_batches: Number of timed steps.
    num_steps_burn_in: Number of untimed steps before them.
    feed_dict: Optional feed for each step.

  Returns:
    The list of per-step durations in seconds.
  """
  durations = time_steps(
      {info_string: lambda: session.run(target, feed_dict=feed_dict)},
      num_batches, num_steps_burn_in)[info_string]
  report(info_string, durations)
  return durations


def _ops_needed_by(fetches):
  """Names of the ops that running `fetches` runs (inputs and control deps)."""
  pending = [f.op if isinstance(f, tf.Tensor) else f
             for f in tf.nest.flatten(fetches)]
  needed = set()
  while pending:
    op = pending.pop()
    if op.name not in needed:
      needed.add(op.name)
      pending.extend(t.op for t in op.inputs)
      pending.extend(op.control_inputs)
  return needed


def graph_flops(graph, fetches=None):
  """Counts floating-point operations with TensorFlow's profiler.

  A multiply-add counts 2; ops without a registered count (batch norm,
  ReLU, pooling) count 0, as in the profiler's published figures.

  Args:
    graph: A `tf.Graph` whose counted ops have fully known shapes.
    fetches: Optional tensors/ops: count only the ops that running them
      runs (not initializers or unused losses). None counts every op.

  Returns:
    The FLOPs as an int.
  """
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options['output'] = 'none'
  with deprecation.silence():  # the profiler uses deprecated TF1 helpers
    profile = tf.compat.v1.profiler.profile(graph, options=options)
  if fetches is None:
    return int(profile.total_float_ops)
  needed = _ops_needed_by(fetches)
  total, pending = 0, list(profile.children)
  while pending:
    node = pending.pop()
    pending.extend(node.children)
    if node.name in needed:
      total += node.float_ops
  return int(total)
