"""Training images/s on 1 and 2 replicas: one device, mirrored over logical
CPU devices (or GPUs), and two multi-worker processes on 127.0.0.1.

  python -m benchmarks.scale_out --json out.json [--model cifar_resnet_v1_20
      --image-size 32 --global-batch 128 --steps 20]

Writes (once, cached under --work-dir) a folder of PNG images, then runs
`train.trainer.Trainer` on it in fresh child processes, the same global batch in
every setting (mirrored and multi-worker: half per replica), and reports
images/s from the median step time of the steps after the first two (the
chief's, for multi-worker; the mean, which counts the epoch-end checkpoint
and pipeline restart, is recorded too: it varies by up to 2x from run to
run on 2 cores). On a GPU machine `mirrored` uses the GPUs.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from benchmarks import streaming

WARMUP = 2
SETTINGS = ('one-device', 'mirrored', 'multi-worker')


def child(args):
  """Trains in this process; prints {'images_per_s', 'replicas'}."""
  # pylint: disable=g-import-not-at-top
  from resnet_v2.train import distribute
  if args.child == 'mirrored' and not _has_gpus():
    distribute.configure_cpu_devices(2)
  strategy = distribute.make_strategy(args.child)
  from resnet_v2.data import inputs
  from resnet_v2.train import trainer as training
  config = training.TrainConfig(
      model=args.model, image_size=args.image_size,
      global_batch_size=args.global_batch, max_steps=WARMUP + args.steps,
      epochs=1000, learning_rate=0.01, precision=args.precision,
      save_every_steps=0)
  trainer = training.Trainer(inputs.open_source(args.data), None,
                             args.model_dir, config, strategy=strategy)
  times = []
  trainer.train(progress=False, log=lambda line: None,
                on_step=lambda step: times.append(time.perf_counter()))
  steps = [b - a for a, b in zip(times[WARMUP:], times[WARMUP + 1:])]
  steps.sort()
  median = steps[len(steps) // 2]
  print(json.dumps({
      'images_per_s': args.global_batch / median,
      'images_per_s_mean': args.global_batch * len(steps) / sum(steps),
      'replicas': trainer.replicas,
      'step_seconds_median': median, 'step_seconds_max': steps[-1]}))


def _has_gpus():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return bool(tf.config.list_physical_devices('GPU'))


def free_ports(count):
  """count ports free on 127.0.0.1 now."""
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(('127.0.0.1', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _run(setting, args, folder):
  base = [sys.executable, '-m', 'benchmarks.scale_out', '--child', setting,
          '--data', folder, '--model', args.model, '--image-size',
          str(args.image_size), '--global-batch', str(args.global_batch),
          '--steps', str(args.steps), '--precision', args.precision]
  if setting != 'multi-worker':
    done = subprocess.run(base + ['--model-dir', tempfile.mkdtemp()],
                          capture_output=True, text=True, check=False)
    if done.returncode:
      raise RuntimeError('%s failed:\n%s' % (setting, done.stderr[-3000:]))
    return json.loads(done.stdout.strip().splitlines()[-1])
  model_dir = tempfile.mkdtemp()
  cluster = {'worker': ['127.0.0.1:%d' % p for p in free_ports(2)]}
  workers = [subprocess.Popen(
      base + ['--model-dir', model_dir], stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True,
      env=dict(os.environ, TF_CONFIG=json.dumps(
          {'cluster': cluster, 'task': {'type': 'worker', 'index': i}})))
             for i in range(2)]
  outputs = [w.communicate() for w in workers]
  if any(w.returncode for w in workers):
    raise RuntimeError('multi-worker failed:\n%s' % '\n'.join(
        err[-2000:] for _, err in outputs))
  return json.loads(outputs[0][0].strip().splitlines()[-1])


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m benchmarks.scale_out',
                                   description=__doc__)
  parser.add_argument('--model', default='cifar_resnet_v1_20')
  parser.add_argument('--image-size', type=int, default=32)
  parser.add_argument('--global-batch', type=int, default=128)
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument('--precision', choices=['fp32', 'bf16', 'fp16'],
                      default='fp32')
  parser.add_argument('--settings', default=','.join(SETTINGS))
  parser.add_argument('--work-dir', default=os.path.join(
      tempfile.gettempdir(), 'resnet_v2_streaming'))
  parser.add_argument('--json')
  parser.add_argument('--child', choices=SETTINGS, help=argparse.SUPPRESS)
  parser.add_argument('--data', help=argparse.SUPPRESS)
  parser.add_argument('--model-dir', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    child(args)
    return 0
  settings = args.settings.split(',')
  unknown = sorted(set(settings) - set(SETTINGS))
  if unknown:
    parser.error('unknown settings %s; choose from %s' % (unknown, SETTINGS))
  size = max(args.image_size, 32)
  folder = streaming.write_folder(os.path.join(
      args.work_dir, 'png_%dx%d_2000' % (size, size)), 2000, (size, size),
                                  'png')
  result = {'command': ' '.join(['python -m benchmarks.scale_out'] + (
      argv if argv is not None else sys.argv[1:])), 'model': args.model,
            'image_size': args.image_size,
            'global_batch': args.global_batch, 'cpu_count': os.cpu_count()}
  for setting in settings:
    result[setting] = _run(setting, args, folder)
    print('%s: %d replica(s), %.1f images/s' % (
        setting, result[setting]['replicas'],
        result[setting]['images_per_s']), flush=True)
  if args.json:
    from resnet_v2 import files  # pylint: disable=g-import-not-at-top
    files.write_json(args.json, result, indent=1)
  return 0


if __name__ == '__main__':
  sys.exit(main())
