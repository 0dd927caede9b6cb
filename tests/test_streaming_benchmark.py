"""The streaming benchmark on a tiny run: rows, keys and sane numbers."""

import json

from benchmarks import streaming


def test_streaming_rows_and_pipeline_figures(tmp_path, capsys):
  out = tmp_path / 'result.json'
  assert streaming.main(['--counts', '20,40', '--batch-size', '8', '--steps',
                         '3', '--pipeline', '--pipeline-batches', '2',
                         '--work-dir', str(tmp_path / 'work'), '--json',
                         str(out)]) == 0
  rows = json.loads(out.read_text())['rows']
  assert [row['images'] for row in rows] == [20, 40]
  for row in rows:
    assert 0 < row['seconds_to_first_step'] < 120
    assert row['peak_rss_bytes'] > 100e6
  assert rows[-1]['pipeline_images_per_s'] > 0
  assert rows[-1]['step_images_per_s'] > 0
  assert (tmp_path / 'work' / 'png_32x32_40' / 'class_9').is_dir()
  assert 'first step after' in capsys.readouterr().out
