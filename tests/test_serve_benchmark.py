"""benchmarks.serve: a real server under closed-loop and scheduled load,
with its figures and the server still alive after."""

import json

from benchmarks import serve


def test_closed_loop_and_overload_rows(tmp_path):
  out = tmp_path / 'serve.json'
  result = serve.main(['--images', '12', '--image-size', '32', '--clients',
                       '2', '--seconds', '1', '--overload-seconds', '2',
                       '--work-dir', str(tmp_path), '--json', str(out)])
  assert json.loads(out.read_text()) == json.loads(json.dumps(result))
  for kind in ('image', 'embedding'):
    row, = result['closed_loop'][kind]
    assert row['clients'] == 2 and row['ok'] == row['requests'] > 0
    assert 0 < row['p50_ms'] <= row['p99_ms']
  loaded = result['overload']
  assert loaded['requests'] > 0 and loaded['errors'] == 0
  assert 0 <= loaded['share_503'] <= 1 and loaded['rss_max_mib'] > 100
  assert result['server_alive_after_overload']
