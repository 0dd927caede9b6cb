"""Where a forward step's time goes, by op type (TensorFlow's step stats).

  python -m benchmarks.op_profile --precision bf16

Builds the benchmark's graph step (`steps.ProjectStep`), runs it twice
untimed, then twice with a full trace, and prints the summed kernel time
per op type (as TensorFlow's partition graphs name the kernels, so a
fusion that grappler made or missed shows up) and how many ran.
"""

import argparse
import collections
import sys

import tensorflow as tf

from benchmarks import steps
from resnet_v2 import runtime


def profile(model, batch_size, image_size, precision, traced_steps=2):
  """{op type: (seconds per step, ops per step)}, slowest first."""
  step = steps.ProjectStep(model, batch_size, image_size,
                           precision=precision,
                           config=runtime.session_config(precision))
  step()
  step()
  seconds, counts = collections.Counter(), collections.Counter()
  for _ in range(traced_steps):
    metadata = tf.compat.v1.RunMetadata()
    step.session.run(step.target, options=tf.compat.v1.RunOptions(
        trace_level=tf.compat.v1.RunOptions.FULL_TRACE),
                     run_metadata=metadata)
    for device in metadata.step_stats.dev_stats:
      for node in device.node_stats:
        label = node.timeline_label
        kind = label.split(' = ')[1].split('(')[0] if ' = ' in label else (
            node.node_name)
        seconds[kind] += node.all_end_rel_micros / 1e6 / traced_steps
        counts[kind] += 1
  return {kind: (value, counts[kind] // traced_steps)
          for kind, value in seconds.most_common()}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--model', default='resnet_v2_152')
  parser.add_argument('--batch-size', type=int, default=32)
  parser.add_argument('--image-size', type=int, default=224)
  parser.add_argument('--precision', choices=('fp32', 'bf16'),
                      default='fp32')
  parser.add_argument('--top', type=int, default=8)
  args = parser.parse_args(argv)
  result = profile(args.model, args.batch_size, args.image_size,
                   args.precision)
  print('%s forward %s batch %d %dx%d: %.3f s of kernel time per step' % (
      args.model, args.precision, args.batch_size, args.image_size,
      args.image_size, sum(v for v, _ in result.values())))
  for kind, (value, count) in list(result.items())[:args.top]:
    print('  %-32s %7.3f s  %4d ops' % (kind, value, count))
  return 0


if __name__ == '__main__':
  sys.exit(main())
