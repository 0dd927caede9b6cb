"""Index, search and dedup of a large features folder: time, peak memory
and recall of `resnet-v2 index`, `search` and `dedup`, each a whole child
process (start-up included).

  python -m benchmarks.search --count 100000 --dims 2048 --json out.json

It writes (once, cached under --work-dir) a features folder of --count
vectors of --dims numbers (float16, as `features --dtype float16` writes
resnet_v2_50's global_pool), drawn around 1,000 clusters with 1 % planted
near-copies, in shards of 8,192 rows; then for each --budgets entry
(`--max-index-memory`; the default 4G holds 100,000 x 2048 exactly, 256M
needs 8-bit codes) it builds the index, searches 100 query vectors, and
runs dedup, reporting each child's peak resident memory (`os.wait4`), its
wall time and the recall@10 the index recorded.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SHARD_ROWS = 8192
_LAUNCHER = '''import sys
from resnet_v2 import cli
code = cli.main(sys.argv[1:])
with open('/proc/self/status') as status:
  sys.stderr.write(''.join(l for l in status if l.startswith('VmHWM:')))
sys.exit(code)'''


def write_folder(folder, count, dims, seed=0):
  """Writes a features folder of clustered float16 vectors (once); returns
  how many near-copies of rows of the shard before were planted."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from resnet_v2.serve import shards  # pylint: disable=g-import-not-at-top
  manifest = shards.read_manifest(folder) if os.path.isdir(folder) else None
  planted_file = os.path.join(os.path.dirname(folder), os.path.basename(
      folder) + '_planted.json')
  if manifest and os.path.isfile(planted_file):
    with open(planted_file) as handle:
      return json.load(handle)
  rng = np.random.default_rng(seed)
  centers = rng.normal(size=(1000, dims)).astype(np.float32)
  planned = (count + SHARD_ROWS - 1) // SHARD_ROWS
  settings = {'model': 'resnet_v2_50', 'weights': None,
              'conventions': 'tf-slim', 'image_size': 224,
              'preprocessing': 'inception', 'engine': 'tensorflow',
              'precision': 'fp32', 'end_points': {'global_pool': [1, 1, dims]},
              'dtype': 'float16', 'inputs': [], 'source_kind': 'files',
              'class_names': None, 'shard_size': SHARD_ROWS,
              'shards': planned, 'net': {'model': 'resnet_v2_50'}}
  manifest = shards.open_folder(folder, settings)
  previous, planted = None, 0
  for index in range(planned):
    rows = min(SHARD_ROWS, count - index * SHARD_ROWS)
    block = centers[rng.integers(0, 1000, rows)] + rng.normal(
        size=(rows, dims)).astype(np.float32)
    copies = rng.random(rows) < 0.01
    if previous is not None:
      planted += int(copies.sum())
      block[copies] = previous[:copies.sum()] + 0.01 * rng.normal(
          size=(copies.sum(), dims)).astype(np.float32)
    previous = block
    first = index * SHARD_ROWS
    shards.write_shard(folder, index, {'global_pool': block.reshape(
        rows, 1, 1, dims).astype(np.float16)}, [
            'img_%07d' % i for i in range(first, first + rows)], [-1] * rows)
  shards.finish(folder, manifest)
  with open(planted_file, 'w') as out:
    json.dump(planted, out)
  return planted


def run(argv):
  """One `resnet-v2` child: (peak RSS bytes, wall seconds, stdout)."""
  # The child reports its own peak (VmHWM, reset at exec): wait4's
  # ru_maxrss of a vforked child starts at this process's peak.
  command = [sys.executable, '-c', _LAUNCHER] + argv
  # Files, not pipes: a child that prints more than a pipe holds would
  # wait for a reader while this process waits for it (wait4 first).
  with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
    begin = time.perf_counter()
    child = subprocess.Popen(command, stdout=stdout, stderr=stderr)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - begin
    stdout.seek(0)
    stderr.seek(0)
    out = stdout.read().decode(errors='replace')
    errors = stderr.read().decode(errors='replace')
  if status:
    raise RuntimeError('%s failed: %s' % (' '.join(argv), errors[-2000:]))
  del usage
  peak = [int(line.split()[1]) * 1024 for line in errors.splitlines()
          if line.startswith('VmHWM:')]
  return peak[-1], wall, out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--count', type=int, default=100000)
  parser.add_argument('--dims', type=int, default=2048)
  parser.add_argument('--budgets', default='4G,256M')
  parser.add_argument('--threshold', type=float, default=0.95)
  parser.add_argument('--work-dir', default=os.path.join(
      tempfile.gettempdir(), 'resnet_v2_search_benchmark'))
  parser.add_argument('--json')
  args = parser.parse_args(argv)
  import numpy as np  # pylint: disable=g-import-not-at-top
  folder = os.path.join(args.work_dir, 'features_%d_%d' % (args.count,
                                                             args.dims))
  planted = write_folder(folder, args.count, args.dims)
  queries = os.path.join(args.work_dir, 'queries.npy')
  np.save(queries, np.random.default_rng(1).normal(
      size=(100, args.dims)).astype(np.float32))
  rows = []
  for budget in args.budgets.split(','):
    row = {'budget': budget, 'vectors': args.count, 'dims': args.dims,
           'planted_copies': planted}
    peak, wall, _ = run(['index', folder, '--max-index-memory', budget])
    with open(os.path.join(folder, 'index', 'index.json')) as handle:
      record = json.load(handle)
    row.update(index_factory=record['factory'], nprobe=record['nprobe'],
               recall_at_10=record['recall_at_10'],
               index_peak_rss_mib=peak / 2**20, index_seconds=wall)
    peak, wall, _ = run(['search', folder, '--vector', queries, '--json'])
    row.update(search_peak_rss_mib=peak / 2**20, search_seconds=wall)
    peak, wall, out = run(['dedup', folder, '--threshold',
                           str(args.threshold), '--output', os.path.join(
                               args.work_dir, 'groups.parquet'),
                           '--overwrite'])
    row.update(dedup_peak_rss_mib=peak / 2**20, dedup_seconds=wall,
               dedup=out.strip())
    rows.append(row)
    print(json.dumps(row), flush=True)
  if args.json:
    with open(args.json, 'w') as out:
      json.dump({'command': ' '.join(['python -m benchmarks.search'] + (
          argv if argv is not None else sys.argv[1:])), 'rows': rows}, out,
                indent=1)


if __name__ == '__main__':
  main()
