"""benchmarks.search: the index, search and dedup children on a generated
features folder, with their memory, times and the recorded recall."""

import json

from benchmarks import search


def test_rows_for_an_exact_and_a_compressed_index(tmp_path):
  out = tmp_path / 'rows.json'
  search.main(['--count', '10000', '--dims', '32', '--budgets', '4G,400K',
               '--work-dir', str(tmp_path), '--json', str(out)])
  result = json.loads(out.read_text())
  exact, compressed = result['rows']
  assert result['command'].startswith('python -m benchmarks.search --count')
  assert exact['index_factory'] == 'Flat' and exact['recall_at_10'] == 1.0
  assert compressed['index_factory'].startswith('IVF')
  assert compressed['index_factory'].endswith(('SQ8', 'PQ8', 'PQ16'))
  for row in (exact, compressed):
    assert row['index_peak_rss_mib'] > 10 and row['dedup_seconds'] > 0
    # The children's own peaks: a small run's, not this process's.
    assert row['index_peak_rss_mib'] < 600
  # About 1 % of the second shard's rows are near-copies of the first's:
  # exact dedup finds each.
  found = int(exact['dedup'].split('groups, ')[1].split()[0])
  assert found == exact['planted_copies'] > 5, exact
