"""benchmarks/train_speed.py: the side-by-side training benchmark on a
small generated IDX folder (every framework's child process, the skipped
rows, the summary)."""

import json

import pytest

from benchmarks import train_speed


def test_ours_and_keras_are_timed_and_compared(tmp_path):
  data = train_speed.write_idx_folder(str(tmp_path / 'idx'), count=512)
  out = tmp_path / 'speed.json'
  train_speed.main(['--workload', 'small', '--precision', 'fp32',
                    '--steps', '2', '--warmup', '1', '--data', data,
                    '--json', str(out)])
  result = json.loads(out.read_text())
  small = result['small']
  assert small['net'] == 'cifar_resnet_v1_20' and small['batch_size'] == 128
  for which in ('ours', 'keras'):
    row = small['rows'][which]['fp32']
    assert row['images_per_s'] > 0 and row['steps'] == 3
  torch_row = small['rows']['torch']['fp32']
  assert ('skipped' in torch_row and 'PyTorch' in torch_row['skipped']) or (
      torch_row['images_per_s'] > 0)
  assert small['ratios']['ours_over_keras'] == pytest.approx(
      small['rows']['ours']['fp32']['images_per_s'] /
      small['rows']['keras']['fp32']['images_per_s'])


@pytest.mark.quick
def test_the_summary_takes_each_frameworks_fastest_precision():
  rows = {'ours': {'fp32': {'images_per_s': 600.0},
                   'bf16': {'images_per_s': 900.0}},
          'keras': {'fp32': {'images_per_s': 400.0},
                    'bf16': {'images_per_s': 450.0}},
          'torch': {'fp32': {'skipped': 'PyTorch is not installed'},
                    'bf16': {'skipped': 'PyTorch is not installed'}}}
  best, ratios = train_speed.summarize(rows)
  assert best['ours'] == {'precision': 'bf16', 'images_per_s': 900.0}
  assert best['keras']['precision'] == 'bf16' and 'torch' not in best
  assert ratios == {'ours_over_keras': 2.0}
