"""Features of a growing collection: peak memory and images/s of
`resnet-v2 features`, a features folder (shards) against one .npz.

  python -m benchmarks.features --counts 1000,100000 --json out.json

For each count it writes (once, cached under --work-dir) that many JPEG
files, then runs `resnet-v2 features` on them in a fresh child process per
output kind (--output DIR: shards written as they are done; --output F.npz:
every array kept until the end), resnet_v2_50 with random weights at
--image-size, end point global_pool, and reports each child's peak resident
memory (the kernel's accounting of the finished child, `os.wait4`) and the
images/s of the whole process (start-up included). --ray N also runs the
folder output on a local Ray cluster of N nodes of one CPU each (each a
raylet with its workers, as `ray start` starts them; `ray.cluster_utils`),
on the same machine, for the images/s of Ray's path against one process.

--against-forward puts features beside the forward alone, on the same net,
size and batch: `python -m benchmarks` runs before and after the features
runs, and each folder row gets the images/s of its shards after start-up
(`shard_rate`: the images of shards 2..n over the time between the first
and the last shard's metadata file; --shard-size cuts enough shards) and
both rates' ratios to the forward's.

--alternate N sets the worker's loop (the command less its start-up)
against the forward in one process, N times in turn: the forward alone on
a fixed batch for 3 s, the worker over the images into a fresh folder, the
forward again; each ratio is the worker's images/s over the mean of the
two forwards around it, and the median is reported (this VM's speed moved
3x within minutes, so runs minutes apart do not compare).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def write_images(root, count, size=(48, 40), seed=0):
  """Writes `count` random JPEG files in folders of 1000 (skips if there)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  marker = os.path.join(root, '.complete')
  if os.path.exists(marker):
    return root
  rng = np.random.default_rng(seed)
  for index in range(count):
    folder = os.path.join(root, '%03d' % (index // 1000))
    os.makedirs(folder, exist_ok=True)
    pixels = rng.integers(0, 255, (size[0], size[1], 3), np.uint8)
    with open(os.path.join(folder, '%06d.jpg' % index), 'wb') as out:
      out.write(tf.io.encode_jpeg(pixels).numpy())
  open(marker, 'w').close()
  return root


def shard_rate(folder):
  """Images/s of a features folder's shards after its first: the images of
  shards 2..n over the time from the first shard's metadata file to the
  last's (start-up excluded); None with fewer than two shards."""
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  metadata = os.path.join(folder, 'metadata')
  paths = sorted(os.path.join(metadata, name)
                 for name in os.listdir(metadata) if name.endswith('.parquet'))
  if len(paths) < 2:
    return None
  times = [os.stat(path).st_mtime for path in paths]
  images = sum(pq.read_metadata(path).num_rows for path in paths[1:])
  return images / (max(times) - times[0])


def seconds_after_last_write(output, ended):
  """Seconds from the last file the command wrote under `output` (a folder
  or a file; by modification time) to `ended` (time.time() at the child's
  exit): what the process spent after its output was whole."""
  if os.path.isdir(output):
    times = [os.stat(os.path.join(folder, name)).st_mtime
             for folder, _, names in os.walk(output) for name in names]
  else:
    times = [os.stat(output).st_mtime]
  return ended - max(times)


def forward_rate(args):
  """Images/s of the forward alone (`python -m benchmarks`, a child), on
  the features runs' net, size and batch."""
  with tempfile.TemporaryDirectory() as work:
    result = os.path.join(work, 'forward.json')
    subprocess.run([sys.executable, '-m', 'benchmarks', '--model', args.model,
                    '--image-size', str(args.image_size), '--batch-size',
                    str(args.batch_size), '--num-batches', '30',
                    '--no-memory', '--json', result],
                   check=True, stdout=subprocess.DEVNULL)
    with open(result) as handle:
      return json.load(handle)['images_per_s']


# How long each turn's forward alone runs (tests shorten it).
FORWARD_SECONDS = 3.0


def alternate(args, images):
  """The worker's loop against the forward in one process (--alternate):
  [{forward_before, features, forward_after, ratio}] in images/s."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from resnet_v2.data import collection  # pylint: disable=g-import-not-at-top
  from resnet_v2.serve import features  # pylint: disable=g-import-not-at-top
  from resnet_v2.serve import model as model_lib  # pylint: disable=g-import-not-at-top
  from resnet_v2.serve import worker  # pylint: disable=g-import-not-at-top
  net = model_lib.Model.load(model=args.model, image_size=args.image_size)
  source = collection.open_collection([images])
  shapes = worker.output_shapes(net, ['global_pool'])
  planned = features.plan(source, args.shard_size or features.default_shard_size(
      4 * int(np.prod(shapes['global_pool'])), args.batch_size))
  batch = np.random.default_rng(0).random(
      [args.batch_size, args.image_size, args.image_size, 3], np.float32)

  def forward(seconds=FORWARD_SECONDS):
    net.run(batch, ['global_pool'])
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
      net.run(batch, ['global_pool'])
      count += len(batch)
    return count / (time.perf_counter() - start)
  rows = []
  with tempfile.TemporaryDirectory() as work:
    for turn in range(args.alternate):
      before = forward()
      job = worker.ShardJob(os.path.join(work, str(turn)), ('global_pool',),
                            shapes, args.batch_size)
      start = time.perf_counter()
      written = worker.run_shards(net, job, list(enumerate(planned)))
      rate = written / (time.perf_counter() - start)
      after = forward()
      rows.append({'images_written': written, 'forward_before': before,
                   'features': rate,
                   'forward_after': after,
                   'ratio': rate / ((before + after) / 2)})
      print('forward %.1f, features (the worker) %.1f, forward %.1f images/s:'
            ' ratio %.2f' % (before, rate, after, rows[-1]['ratio']),
            flush=True)
  return rows


def run(images, output, args, ray_address=None):
  """One `resnet-v2 features` child: (peak RSS bytes, wall seconds, the
  time.time() of its exit)."""
  command = [sys.executable, '-m', 'resnet_v2.cli', 'features', '--model',
             args.model, '--image-size', str(args.image_size),
             '--batch-size', str(args.batch_size), '--end-point',
             'global_pool', images, '--output', output] + (
                 ['--ray', ray_address] if ray_address else []) + (
                     ['--shard-size', str(args.shard_size)]
                     if args.shard_size and not output.endswith('.npz')
                     else [])
  begin = time.perf_counter()
  child = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
  # wait4 reports this child's own peak, not the largest of all children.
  _, status, usage = os.wait4(child.pid, 0)
  wall, ended = time.perf_counter() - begin, time.time()
  errors = child.stderr.read().decode(errors='replace')
  child.stderr.close()
  if status:
    raise RuntimeError('features failed: %s' % errors[-2000:])
  return usage.ru_maxrss * 1024, wall, ended


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--counts', default='1000,100000')
  parser.add_argument('--model', default='resnet_v2_50')
  parser.add_argument('--image-size', type=int, default=64)
  parser.add_argument('--batch-size', type=int, default=32)
  parser.add_argument('--outputs', default='folder,npz')
  parser.add_argument('--work-dir', default=os.path.join(
      tempfile.gettempdir(), 'resnet_v2_features_benchmark'))
  parser.add_argument('--ray', type=int, default=0, metavar='NODES',
                      help='also run on a local Ray cluster of NODES nodes')
  parser.add_argument('--shard-size', type=int, default=None,
                      help="images per shard of a folder (the command's "
                      'default: about 32 MB of arrays)')
  parser.add_argument('--against-forward', action='store_true',
                      help='also time the forward alone, before and after')
  parser.add_argument('--alternate', type=int, default=0, metavar='N',
                      help="in one process, N turns of the forward and the "
                      "features worker's loop")
  parser.add_argument('--json')
  args = parser.parse_args(argv)
  if args.alternate:
    return _alternate_main(args, argv)
  forward = [forward_rate(args)] if args.against_forward else []
  cluster = None
  if args.ray:
    from ray.cluster_utils import Cluster  # pylint: disable=g-import-not-at-top
    cluster = Cluster(initialize_head=True, head_node_args={'num_cpus': 1})
    for _ in range(args.ray - 1):
      cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    args.outputs += ',ray'
  rows = []
  for count in [int(c) for c in args.counts.split(',')]:
    images = write_images(os.path.join(args.work_dir, 'images_%d' % count),
                          count)
    for kind in args.outputs.split(','):
      output = os.path.join(args.work_dir, 'out_%d_%s%s' % (
          count, kind, '.npz' if kind == 'npz' else ''))
      if os.path.isdir(output):
        shutil.rmtree(output)
      elif os.path.exists(output):
        os.remove(output)
      peak, wall, ended = run(images, output, args,
                              cluster.address if kind == 'ray' else None)
      row = {'images': count, 'output': kind, 'peak_rss_mib': peak / 2**20,
             'seconds': wall, 'images_per_s': count / wall,
             'seconds_after_last_write': seconds_after_last_write(output,
                                                                  ended)}
      if kind != 'npz':
        row['shard_rate'] = shard_rate(output)
      rows.append(row)
      print('%7d images, %-6s: peak RSS %7.1f MiB, %6.1f s (%.1f s of it '
            'after the last write), %6.1f images/s'
            % (count, kind, row['peak_rss_mib'], wall,
               row['seconds_after_last_write'], row['images_per_s'])
            + ('' if row.get('shard_rate') is None else
               ', %.1f after start-up' % row['shard_rate']), flush=True)
  if args.against_forward:
    forward.append(forward_rate(args))
    for row in rows:
      row['forward_images_per_s'] = forward
      mean = sum(forward) / len(forward)
      row['ratio_whole'] = row['images_per_s'] / mean
      if row.get('shard_rate'):
        row['ratio_after_start_up'] = row['shard_rate'] / mean
    print('forward alone: %s images/s (before, after); features / forward: '
          '%s' % (', '.join('%.1f' % f for f in forward), '; '.join(
              '%d %s whole %.2f%s' % (
                  row['images'], row['output'], row['ratio_whole'],
                  ', after start-up %.2f' % row['ratio_after_start_up']
                  if 'ratio_after_start_up' in row else '')
              for row in rows)), flush=True)
  if cluster:
    cluster.shutdown()
  if args.json:
    with open(args.json, 'w') as out:
      json.dump({'command': ' '.join(['python -m benchmarks.features'] +
                                     (argv if argv is not None else
                                      sys.argv[1:])),
                 'model': args.model, 'image_size': args.image_size,
                 'batch_size': args.batch_size, 'rows': rows}, out, indent=1)



def _alternate_main(args, argv):
  """--alternate: the turns of each count, their median ratio, the JSON."""
  import statistics  # pylint: disable=g-import-not-at-top
  results = []
  for count in [int(c) for c in args.counts.split(',')]:
    images = write_images(os.path.join(args.work_dir, 'images_%d' % count),
                          count)
    rows = alternate(args, images)
    median = statistics.median(row['ratio'] for row in rows)
    print('%d images at %dx%d: median ratio %.2f' % (
        count, args.image_size, args.image_size, median), flush=True)
    results.append({'images': count, 'turns': rows, 'median_ratio': median})
  if args.json:
    with open(args.json, 'w') as out:
      json.dump({'command': ' '.join(['python -m benchmarks.features'] + (
          argv if argv is not None else sys.argv[1:])),
                 'model': args.model, 'image_size': args.image_size,
                 'batch_size': args.batch_size, 'shard_size': args.shard_size,
                 'results': results}, out, indent=1)


if __name__ == '__main__':
  main()
