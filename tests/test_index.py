"""The FAISS index of a features folder: its choice under a memory budget,
its recall against exact search, extending and rebuilding it."""

import json
import os

import numpy as np
import pytest

from features_for_tests import add_shard
from features_for_tests import write_folder
from resnet_v2 import files
from resnet_v2.search import index
from resnet_v2.search import nearest

pytestmark = pytest.mark.quick


def clustered(count, dims=32, clusters=50, seed=0):
  """Vectors around the same clusters whatever the seed."""
  centers = np.random.default_rng(0).normal(size=(clusters, dims))
  rng = np.random.default_rng(seed + 1)
  return (centers[rng.integers(0, clusters, count)] +
          0.3 * rng.normal(size=(count, dims))).astype(np.float32)


def exact_top(vectors, queries, k):
  unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
  q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
  return np.argsort(-(q @ unit.T), axis=1, kind='stable')[:, :k]


def test_the_budget_chooses_exact_then_scalar_then_product_codes():
  assert index.choose_factory(1000, 64, 1000 * 64 * 4) == 'Flat'
  assert index.choose_factory(1000, 64, 1000 * 64 * 4 - 1).endswith(',SQ8')
  assert index.choose_factory(100000, 64, 100000 * 16).endswith(',PQ16')
  # About 4 sqrt(N) lists, fewer where 39 training vectors a list would
  # not fit the budget.
  assert index.choose_factory(100000, 64, 100000 * 64 * 4 - 1) == (
      'IVF1264,SQ8')
  assert index.choose_factory(100000, 64, 100000 * 64) == 'IVF641,SQ8'
  with pytest.raises(ValueError, match='larger max index memory'):
    index.choose_factory(100000, 64, 100000 * 7)


def test_memory_sizes_read_as_people_write_them():
  assert index.parse_memory('4G') == 4 * 2**30
  assert index.parse_memory('512MiB') == 512 * 2**20
  assert index.parse_memory('1000') == 1000
  with pytest.raises(ValueError, match='512M or 4G'):
    index.parse_memory('four gigs')


def test_a_compressed_index_reaches_the_recall_it_records(tmp_path):
  vectors = clustered(3000)
  write_folder(tmp_path, [vectors[:1000], vectors[1000:2200],
                          vectors[2200:]])
  record, rebuilt = index.build(str(tmp_path), max_memory=3000 * 32 * 2)
  assert rebuilt is None and record['factory'].endswith(',SQ8')
  assert record['recall_at_10'] >= 0.95 and record['nprobe'] >= 1
  assert record['vectors'] == 3000 and record['shards'] == [0, 1, 2]
  # The recall measured here, on other queries, with the loaded index.
  loaded = nearest.Index.load(str(tmp_path))
  queries = clustered(200, seed=1)
  found = np.array([[hit['id'] for hit in hits]
                    for hits in loaded.search(queries, 10)])
  exact = exact_top(vectors, queries, 10)
  recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])
  assert recall >= 0.93, recall
  # nprobe 1 alone would not do: the tuning matters.
  loaded.faiss_index.nprobe = 1
  first = np.array([[h['id'] for h in hits]
                    for hits in loaded.search(queries, 10)])
  assert np.mean([len(set(f) & set(e)) / 10
                  for f, e in zip(first, exact)]) < recall


def test_an_exact_index_finds_every_image_itself_with_its_name(tmp_path):
  vectors = clustered(500)
  write_folder(tmp_path, [vectors[:200], vectors[200:]])
  record, _ = index.build(str(tmp_path))
  assert record['factory'] == 'Flat' and record['recall_at_10'] == 1.0
  loaded = nearest.Index.load(str(tmp_path))
  hits = loaded.search(vectors[[3, 250]], 2)
  assert [h[0]['name'] for h in hits] == ['img_00003', 'img_00250']
  assert hits[0][0]['similarity'] == pytest.approx(1.0, abs=1e-5)
  assert hits[0][0]['similarity'] > hits[0][1]['similarity']
  # A 4-D features array (as the folder holds them) is a query too.
  again = loaded.search(vectors[3].reshape(1, 1, 1, 32), 1)
  assert again[0][0]['id'] == 3


def test_l2_ranks_by_distance_of_the_vectors_as_written(tmp_path):
  vectors = clustered(300)
  write_folder(tmp_path, [vectors])
  index.build(str(tmp_path), metric='l2')
  hits = nearest.Index.load(str(tmp_path)).search(vectors[7] * 1.0, 3)[0]
  assert hits[0]['id'] == 7 and hits[0]['distance'] == pytest.approx(0)
  distances = ((vectors - vectors[7]) ** 2).sum(1)
  assert hits[1]['distance'] == pytest.approx(np.sort(distances)[1],
                                              rel=1e-4)


def test_later_shards_extend_it_and_other_settings_rebuild_it(tmp_path):
  vectors = clustered(900)
  write_folder(tmp_path, [vectors[:300], vectors[300:600]], planned=3)
  first, _ = index.build(str(tmp_path))
  add_shard(tmp_path, 2, vectors[600:], 600)
  extended, rebuilt = index.build(str(tmp_path))
  assert rebuilt is None and extended['shards'] == [0, 1, 2]
  assert first['vectors'] == 600 and extended['vectors'] == 900
  hits = nearest.Index.load(str(tmp_path)).search(vectors[700], 1)
  assert hits[0][0]['name'] == 'img_00700'
  _, rebuilt = index.build(str(tmp_path), metric='l2')
  assert rebuilt == 'rebuilt: metric changed'
  _, rebuilt = index.build(str(tmp_path), metric='l2', max_memory=900 * 32)
  assert 'max_memory' in rebuilt and 'factory' in rebuilt


def test_what_is_not_an_index_is_named_with_the_fix(tmp_path):
  with pytest.raises(ValueError, match='resnet-v2 features --output'):
    index.build(str(tmp_path))
  write_folder(tmp_path / 'f', [clustered(50)])
  with pytest.raises(ValueError, match='resnet-v2 index'):
    nearest.Index.load(str(tmp_path / 'f'))
  with pytest.raises(ValueError, match="not 'block9'"):
    index.build(str(tmp_path / 'f'), end_point='block9')
  index.build(str(tmp_path / 'f'))
  with pytest.raises(ValueError, match='query vectors have 8 numbers'):
    nearest.Index.load(str(tmp_path / 'f')).search(np.ones([1, 8]), 1)


def test_a_folder_named_index_that_is_not_ours_is_kept(tmp_path):
  write_folder(tmp_path, [clustered(50)])
  os.makedirs(tmp_path / 'index')
  (tmp_path / 'index' / 'mine.txt').write_text('keep me')
  with pytest.raises(files.OutputError):
    index.build(str(tmp_path))
  assert (tmp_path / 'index' / 'mine.txt').read_text() == 'keep me'


def test_the_record_says_what_it_covers(tmp_path):
  write_folder(tmp_path, [clustered(120)])
  index.build(str(tmp_path))
  with open(tmp_path / 'index' / 'index.json') as handle:
    record = json.load(handle)
  assert record['end_point'] == 'global_pool' and record['dimensions'] == 32
  assert record['shard_rows'] == [120] and record['metric'] == 'ip'
