"""Where a training step's time goes, and how close it runs to the machine.

  python -m benchmarks.train_profile --image-size 28 [--precision bf16]

Trains a CIFAR ResNet (default cifar_resnet_v1_20, batch 128) with the
Trainer on an IDX folder (Fashion-MNIST where installed, else generated
images) and reports:
  - images/s of the steps with the input pipeline (the Trainer's loop),
    of the step alone (one batch fed again), and of the forward alone
    (inference, same batch);
  - achieved GFLOP/s of each: a forward image's FLOPs counted by
    TensorFlow's profiler (a multiply-add is 2), a training step's taken
    as 3x the forward's (the backward pass computes two products per
    forward one);
  - per op type, the kernel time of a step (TensorFlow's profiler trace,
    summed over the executor's threads, which run ops side by side).
"""

import argparse
import collections
import glob
import json
import os
import sys
import tempfile
import time

from resnet_v2 import cpu

cpu.use_fastest_onednn('train')

# pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf

from benchmarks import steps as bench_steps
from benchmarks import timing
from benchmarks import train_speed
from resnet_v2.data import inputs
from resnet_v2.nets import factory
from resnet_v2.train import trainer as training


def forward_flops(model, image_size, num_classes=10):
  """FLOPs of one image's forward pass (TensorFlow's profiler count)."""
  graph = tf.Graph()
  with graph.as_default():
    images = tf.compat.v1.placeholder(tf.float32,
                                      [1, image_size, image_size, 3])
    logits, _ = factory.get_network_fn(model, num_classes)(images)
  return timing.graph_flops(graph, logits)


def _rate(batch, seconds, count):
  return batch * count / seconds


def op_times(step, images, labels, count=5):
  """{op type: ms per step} of `count` traced steps."""
  folder = tempfile.mkdtemp()
  tf.profiler.experimental.start(folder)
  for _ in range(count):
    [float(v) for v in step(images, labels)]  # pylint: disable=expression-not-assigned
  tf.profiler.experimental.stop()
  from tensorflow.tsl.profiler.protobuf import xplane_pb2
  space = xplane_pb2.XSpace()
  path = glob.glob(os.path.join(folder, '**', '*.xplane.pb'),
                   recursive=True)[0]
  with open(path, 'rb') as handle:
    space.ParseFromString(handle.read())
  totals = collections.Counter()
  for plane in space.planes:
    names = {key: value.name for key, value in plane.event_metadata.items()}
    for line in plane.lines:
      if not line.name.startswith('tf_Compute'):
        continue
      for event in line.events:
        name = names.get(event.metadata_id, '')
        # 'ExecutorState::Process' spans the kernels it runs inline: not an
        # op, and counting it counted those kernels twice.
        if ':' in name and '::' not in name:
          totals[name.rsplit(':', 1)[1]] += event.duration_ps / 1e9 / count
  return dict(totals.most_common())


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m benchmarks.train_profile',
                                   description=__doc__.split('\n\n')[0])
  parser.add_argument('--model', default='cifar_resnet_v1_20')
  parser.add_argument('--image-size', type=int, default=28)
  parser.add_argument('--batch-size', type=int, default=128)
  parser.add_argument('--precision', choices=['fp32', 'bf16'],
                      default='fp32')
  parser.add_argument('--steps', type=int, default=60)
  parser.add_argument('--jit', action='store_true',
                      help='compile the step with XLA (jit_compile)')
  parser.add_argument('--inter-op-threads', type=int, default=0,
                      help="ops run side by side (default 0: TensorFlow's)")
  parser.add_argument('--data')
  parser.add_argument('--json')
  args = parser.parse_args(argv)
  if args.inter_op_threads:
    tf.config.threading.set_inter_op_parallelism_threads(
        args.inter_op_threads)
  data = args.data or (train_speed.FASHION_MNIST if os.path.isdir(
      train_speed.FASHION_MNIST) else train_speed.write_idx_folder(
          os.path.join(tempfile.gettempdir(), 'resnet_v2_idx_2048')))
  source = inputs.open_source(data)
  warmup = 10
  config = training.TrainConfig(
      model=args.model, image_size=args.image_size,
      batch_size=args.batch_size, max_steps=warmup + args.steps,
      epochs=1000, precision=args.precision)
  trainer = training.Trainer(source, None, tempfile.mkdtemp(), config)
  if args.jit:
    trainer.train_step = tf.function(
        trainer.steps._distributed_step, autograph=False,  # pylint: disable=protected-access
        jit_compile=True, reduce_retracing=True)
  times = []
  trainer.train(progress=False, log=lambda line: None,
                on_step=lambda step: times.append(time.perf_counter()))
  timed = times[warmup:]
  with_pipeline = _rate(args.batch_size, timed[-1] - timed[0],
                        len(timed) - 1)
  images, labels = next(iter(trainer._dataset(source, True)))  # pylint: disable=protected-access
  started = time.perf_counter()
  for _ in range(args.steps):
    [float(v) for v in trainer.train_step(images, labels)]  # pylint: disable=expression-not-assigned
  alone = _rate(args.batch_size, time.perf_counter() - started, args.steps)
  forward = tf.function(lambda x: trainer.module(x, training=False)[0],
                        autograph=False)
  for _ in range(3):
    forward(images).numpy()
  started = time.perf_counter()
  for _ in range(args.steps):
    forward(images).numpy()
  forward_rate = _rate(args.batch_size, time.perf_counter() - started,
                       args.steps)
  flops = forward_flops(args.model, args.image_size,
                        trainer.num_classes)
  result = {
      'command': ' '.join(['python -m benchmarks.train_profile'] + (
          argv if argv is not None else sys.argv[1:])),
      'cpu': bench_steps.cpu_name(),
      'jit': args.jit, 'inter_op_threads': args.inter_op_threads,
      'model': args.model, 'image_size': args.image_size,
      'batch_size': args.batch_size, 'precision': args.precision,
      'forward_mflop_per_image': flops / 1e6,
      'images_per_s': {'steps_with_pipeline': with_pipeline,
                       'step_alone': alone, 'forward_alone': forward_rate},
      'gflop_per_s': {'steps_with_pipeline': 3 * flops * with_pipeline / 1e9,
                      'step_alone': 3 * flops * alone / 1e9,
                      'forward_alone': flops * forward_rate / 1e9},
      'op_ms_per_step': op_times(trainer.train_step, images, labels)}
  print('%s %dx%d batch %d %s: forward %.1f MFLOP/image' % (
      args.model, args.image_size, args.image_size, args.batch_size,
      args.precision, flops / 1e6))
  for name, rate in result['images_per_s'].items():
    print('  %-20s %7.1f images/s %6.1f GFLOP/s' % (
        name, rate, result['gflop_per_s'][name]))
  total = sum(result['op_ms_per_step'].values())
  for name, ms in list(result['op_ms_per_step'].items())[:12]:
    print('  %-36s %7.2f ms/step (%4.1f%% of kernel time)' % (
        name, ms, 100 * ms / total))
  if args.json:
    from resnet_v2 import files
    files.write_json(args.json, result, indent=1)
  return 0


if __name__ == '__main__':
  sys.exit(main())
