"""benchmarks.features: the shards' rate after start-up, and the worker's
loop set against the forward in one process."""

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks import features as features_benchmark


def test_shard_rate_counts_the_shards_after_the_first(tmp_path):
  metadata = tmp_path / 'metadata'
  metadata.mkdir()
  for index, (rows, when) in enumerate([(5, 100.0), (7, 101.0), (9, 103.0)]):
    path = metadata / ('metadata_%05d.parquet' % index)
    pq.write_table(pa.table({'row': np.arange(rows)}), str(path))
    os.utime(path, (when, when))
  # Shards 2 and 3 (16 images) in the 3 s from the first's end to the last's.
  assert features_benchmark.shard_rate(str(tmp_path)) == 16 / 3
  os.remove(metadata / 'metadata_00002.parquet')
  os.remove(metadata / 'metadata_00001.parquet')
  assert features_benchmark.shard_rate(str(tmp_path)) is None


def test_the_time_after_the_last_write_is_from_the_newest_file(tmp_path):
  folder = tmp_path / 'out'
  (folder / 'metadata').mkdir(parents=True)
  for name, when in (('manifest.json', 100.0), ('metadata/a.parquet', 104.5),
                     ('b.npy', 103.0)):
    (folder / name).write_bytes(b'x')
    os.utime(folder / name, (when, when))
  assert features_benchmark.seconds_after_last_write(
      str(folder), 110.0) == 5.5
  assert features_benchmark.seconds_after_last_write(
      str(folder / 'b.npy'), 110.0) == 7.0


def test_alternate_turns_set_the_worker_against_the_forward(
    tmp_path, monkeypatch):
  monkeypatch.setattr(features_benchmark, 'FORWARD_SECONDS', 0.2)
  out = tmp_path / 'alternate.json'
  features_benchmark.main([
      '--counts', '24', '--model', 'cifar_resnet_v1_20', '--image-size',
      '32', '--batch-size', '8', '--shard-size', '16', '--alternate', '2',
      '--work-dir', str(tmp_path / 'work'), '--json', str(out)])
  result = json.loads(out.read_text())
  [count] = result['results']
  assert count['images'] == 24 and len(count['turns']) == 2
  for turn in count['turns']:
    assert turn['images_written'] == 24
    assert turn['ratio'] == turn['features'] / (
        (turn['forward_before'] + turn['forward_after']) / 2)
  assert count['median_ratio'] == np.median(
      [turn['ratio'] for turn in count['turns']])
