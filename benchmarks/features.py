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


def run(images, output, args, ray_address=None):
  """One `resnet-v2 features` child: (peak RSS bytes, wall seconds)."""
  command = [sys.executable, '-m', 'resnet_v2.cli', 'features', '--model',
             args.model, '--image-size', str(args.image_size),
             '--batch-size', str(args.batch_size), '--end-point',
             'global_pool', images, '--output', output] + (
                 ['--ray', ray_address] if ray_address else [])
  begin = time.perf_counter()
  child = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
  # wait4 reports this child's own peak, not the largest of all children.
  _, status, usage = os.wait4(child.pid, 0)
  wall = time.perf_counter() - begin
  errors = child.stderr.read().decode(errors='replace')
  child.stderr.close()
  if status:
    raise RuntimeError('features failed: %s' % errors[-2000:])
  return usage.ru_maxrss * 1024, wall


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
  parser.add_argument('--json')
  args = parser.parse_args(argv)
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
      peak, wall = run(images, output, args,
                       cluster.address if kind == 'ray' else None)
      row = {'images': count, 'output': kind, 'peak_rss_mib': peak / 2**20,
             'seconds': wall, 'images_per_s': count / wall}
      rows.append(row)
      print('%7d images, %-6s: peak RSS %7.1f MiB, %6.1f s, %6.1f images/s'
            % (count, kind, row['peak_rss_mib'], wall, row['images_per_s']),
            flush=True)
  if cluster:
    cluster.shutdown()
  if args.json:
    with open(args.json, 'w') as out:
      json.dump({'command': ' '.join(['python -m benchmarks.features'] +
                                     (argv if argv is not None else
                                      sys.argv[1:])),
                 'model': args.model, 'image_size': args.image_size,
                 'batch_size': args.batch_size, 'rows': rows}, out, indent=1)


if __name__ == '__main__':
  main()
