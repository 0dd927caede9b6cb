"""Streaming input: does training start-up stay flat as the data set grows,
and which is the bottleneck, the input pipeline or the training step?

  python -m benchmarks.streaming --counts 300,12000,100000 --json out.json

For each count it writes (once, cached under --work-dir) a folder of that
many PNG images in 10 class folders, then, in a fresh child process per
count, builds a `train.trainer.Trainer` on it and measures the seconds from
process start to the end of the first training step and the peak resident
memory. With --pipeline another child times, on the last count, the
input pipeline alone (images/s through `inputs.make_dataset`, training
mode), to set against the training step's images/s (after the first step).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

START = time.time()


def write_folder(root, count, size, fmt, seed=0):
  """Writes `count` random images in 10 class folders (skips if present)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  marker = os.path.join(root, '.complete')
  if os.path.exists(marker):
    return root
  rng = np.random.default_rng(seed)
  encode = tf.io.encode_png if fmt == 'png' else tf.io.encode_jpeg
  for index in range(count):
    folder = os.path.join(root, 'class_%d' % (index % 10))
    os.makedirs(folder, exist_ok=True)
    pixels = rng.integers(0, 255, (size[0], size[1], 3), np.uint8)
    with open(os.path.join(folder, '%06d.%s' % (index, fmt)), 'wb') as out:
      out.write(encode(pixels).numpy())
  open(marker, 'w').close()
  return root


def child(args):
  """Builds the trainer, trains max_steps; prints the measurements."""
  # pylint: disable=g-import-not-at-top
  from resnet_v2.data import inputs
  from resnet_v2.train import trainer as training
  source = inputs.open_source(args.data)
  result = {'images': len(source.items)}
  if args.pipeline:
    data = inputs.make_dataset(source, args.preprocessing, args.image_size,
                               args.batch_size, training=True)
    begin, count = time.perf_counter(), 0
    for index, (images, _, _) in enumerate(data):
      if index == 0:
        begin = time.perf_counter()   # after the first batch (start-up)
      else:
        count += len(images)
      if index == args.pipeline_batches:
        break
    result['pipeline_images_per_s'] = count / (time.perf_counter() - begin)
    print(json.dumps(result))
    return
  config = training.TrainConfig(model=args.model, image_size=args.image_size,
                                batch_size=args.batch_size,
                                max_steps=args.steps, epochs=1)
  trainer = training.Trainer(source, None, tempfile.mkdtemp(), config)
  times = []

  def on_step(step):
    times.append(time.time())
    if step == 1:
      result['seconds_to_first_step'] = times[0] - START
  trainer.train(progress=False, log=lambda line: None, on_step=on_step)
  if len(times) > 2:
    result['step_images_per_s'] = args.batch_size * (len(times) - 2) / (
        times[-1] - times[1])
  result['peak_rss_bytes'] = resource.getrusage(
      resource.RUSAGE_SELF).ru_maxrss * 1024
  print(json.dumps(result))


def _run_child(command):
  done = subprocess.run(command, capture_output=True, text=True, check=False)
  if done.returncode:
    raise RuntimeError(done.stderr[-3000:])
  return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m benchmarks.streaming',
                                   description=__doc__)
  parser.add_argument('--counts', default='300,12000,100000')
  parser.add_argument('--model', default='cifar_resnet_v1_20')
  parser.add_argument('--image-size', type=int, default=32)
  parser.add_argument('--file-size', default='32x32',
                      help='HxW of the generated files')
  parser.add_argument('--format', choices=['png', 'jpg'], default='png')
  parser.add_argument('--batch-size', type=int, default=128)
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument('--pipeline', action='store_true')
  parser.add_argument('--pipeline-batches', type=int, default=20)
  parser.add_argument('--work-dir', default=os.path.join(
      tempfile.gettempdir(), 'resnet_v2_streaming'))
  parser.add_argument('--json')
  parser.add_argument('--child', metavar='DATA', help=argparse.SUPPRESS)
  parser.add_argument('--preprocessing', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    args.data = args.child
    child(args)
    return 0
  from resnet_v2.nets import registry  # pylint: disable=g-import-not-at-top
  preprocessing = registry.get_spec(args.model).preprocessing
  size = [int(v) for v in args.file_size.split('x')]
  rows = []
  counts = [int(c) for c in args.counts.split(',')]
  for index, count in enumerate(counts):
    folder = write_folder(os.path.join(args.work_dir, '%s_%s_%d' % (
        args.format, args.file_size, count)), count, size, args.format)
    command = [sys.executable, '-m', 'benchmarks.streaming', '--child',
               folder, '--model', args.model, '--image-size',
               str(args.image_size), '--batch-size', str(args.batch_size),
               '--steps', str(args.steps), '--preprocessing', preprocessing,
               '--pipeline-batches', str(args.pipeline_batches)]
    row = _run_child(command)
    if args.pipeline and index == len(counts) - 1:
      row.update(_run_child(command + ['--pipeline']))
    rows.append(row)
    print('%7d images: first step after %.1f s, peak RSS %.2f GiB%s' % (
        row['images'], row['seconds_to_first_step'],
        row['peak_rss_bytes'] / 2**30, ''.join(
            ', %s %.1f' % (k, row[k]) for k in ('pipeline_images_per_s',
                                                 'step_images_per_s')
            if k in row)), flush=True)
  result = {'command': ' '.join(['python -m benchmarks.streaming'] +
                                (argv if argv is not None else sys.argv[1:])),
            'model': args.model, 'image_size': args.image_size,
            'batch_size': args.batch_size, 'rows': rows}
  if args.json:
    from resnet_v2 import files  # pylint: disable=g-import-not-at-top
    files.write_json(args.json, result, indent=1)
  return 0


if __name__ == '__main__':
  sys.exit(main())
