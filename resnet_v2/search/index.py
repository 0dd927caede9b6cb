"""A FAISS index over one end point of a features folder, in DIR/index/.

The index is chosen as autofaiss chooses (its `build_index` cannot be
installed beside TensorFlow 2.21: autofaiss 2.18 requires numpy < 2): exact
(`Flat`) while the vectors fit the memory budget, else an inverted file of
8-bit scalar-quantized vectors (`IVF<n>,SQ8`, a quarter of the memory),
else of product-quantized ones (`IVF<n>,PQ<m>`), with n about 4 sqrt(N)
lists (fewer where their training sample would not fit the budget: memory
peaks at about the budget twice, the codes and the sample, plus a shard). Inner product on L2-normalised vectors (cosine similarity) by
default, L2 distance as an option. The number of lists searched (nprobe)
is the smallest that reaches the recall target against exact search on a
sample of the folder's own vectors; the recall is recorded.

DIR/index/ holds `vectors.faiss` and `index.json` (the end point, metric,
factory, nprobe, recall@10, and the shards it covers in id order), written
whole (`files.write_folder`). Run again after more shards were written, it
adds them; anything else that changed (end point, metric, budget, a
factory the budget no longer allows) rebuilds it, and says why.
"""

import json
import os
import re
import time

import numpy as np

from resnet_v2 import errors
from resnet_v2 import files
from resnet_v2.search import vectors as vectors_lib

FOLDER, INDEX_FILE, RECORD_FILE = 'index', 'vectors.faiss', 'index.json'
METRICS = ('ip', 'l2')
DEFAULT_MAX_MEMORY = 4 * 2**30
RECALL_TARGET, RECALL_SAMPLE, RECALL_K = 0.95, 1000, 10
TRAIN_AT_LEAST = 10000
_UNITS = {'': 1, 'K': 2**10, 'M': 2**20, 'G': 2**30, 'T': 2**40}


def faiss_module():
  return errors.require('faiss', 'search', 'the index needs')


def parse_memory(text):
  """'4G', '512M', '100000' -> bytes.

  Raises:
    ValueError: on anything else.
  """
  match = re.fullmatch(r'\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*',
                       str(text), re.IGNORECASE)
  if not match:
    raise ValueError('max index memory %r: give bytes with a unit, e.g. '
                     '512M or 4G.' % text)
  return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def choose_factory(count, dims, max_memory):
  """The FAISS index_factory string for count vectors of dims within
  max_memory bytes.

  Raises:
    ValueError: if not even 8-byte product codes fit.
  """
  if count * dims * 4 <= max_memory:
    return 'Flat'
  # About 4 sqrt(N) lists, each trained on >= 39 vectors, the training
  # sample itself within the budget.
  lists = int(max(min(4 * np.sqrt(count), count // 39,
                      max_memory // (39 * dims * 4)), 1))
  if count * dims <= max_memory:
    return 'IVF%d,SQ8' % lists
  for codes in (64, 48, 32, 24, 16, 8):
    if dims % codes == 0 and count * codes <= max_memory:
      return 'IVF%d,PQ%d' % (lists, codes)
  raise ValueError('%d vectors of %d numbers do not fit max index memory '
                   '%d bytes even compressed to 8 bytes each; give a larger '
                   'max index memory.' % (count, dims, max_memory))


def read_record(folder):
  """The index.json of folder's index, or None where there is none or it
  is unreadable (then the index is rebuilt)."""
  try:
    with open(os.path.join(folder, FOLDER, RECORD_FILE)) as handle:
      record = json.load(handle)
  except (OSError, ValueError):
    return None
  return record if isinstance(record, dict) else None


def _sample_rows(rows_by_shard, count, rng):
  """{shard: sorted row numbers} of count rows drawn over the shards."""
  shards = list(rows_by_shard)
  offsets = np.cumsum([0] + [rows_by_shard[s] for s in shards])
  chosen = np.sort(rng.choice(offsets[-1], min(count, offsets[-1]),
                              replace=False))
  where = np.searchsorted(offsets, chosen, side='right') - 1
  return {shards[i]: chosen[where == i] - offsets[i]
          for i in np.unique(where)}


def _read_sample(folder, name, sample, normalize):
  return np.concatenate([vectors_lib.read_shard(folder, name, s, normalize,
                                                rows)
                         for s, rows in sample.items()])


def exact_neighbours(folder, name, shards, queries, metric, k):
  """Ids [queries, k] of the exact nearest vectors, by streaming the
  shards (ids count rows over shards in the order given)."""
  best_scores = np.full([len(queries), 0], -np.inf, np.float32)
  best_ids = np.zeros([len(queries), 0], np.int64)
  start = 0
  for shard in shards:
    block = vectors_lib.read_shard(folder, name, shard, metric == 'ip')
    scores = queries @ block.T
    if metric == 'l2':   # larger is nearer: minus the squared distance
      scores = 2 * scores - (block * block).sum(1)[None]
    ids = np.broadcast_to(np.arange(start, start + len(block)),
                          scores.shape)
    best_scores = np.concatenate([best_scores, scores], 1)
    best_ids = np.concatenate([best_ids, ids], 1)
    keep = np.argsort(-best_scores, 1, kind='stable')[:, :k]
    best_scores = np.take_along_axis(best_scores, keep, 1)
    best_ids = np.take_along_axis(best_ids, keep, 1)
    start += len(block)
  return best_ids


def recall_at(found, exact):
  """Mean fraction of each row's exact ids that found holds."""
  k = exact.shape[1]
  return float(np.mean([len(set(f[:k]) & set(e)) / k
                        for f, e in zip(found, exact)]))


def tune_nprobe(index, queries, exact, target=RECALL_TARGET):
  """(nprobe, recall@k): the fewest lists searched that reach target
  (all lists where none does); (None, recall) for a flat index."""
  faiss = faiss_module()
  k = exact.shape[1]
  try:
    ivf = faiss.extract_index_ivf(index)
  except RuntimeError:
    return None, recall_at(index.search(queries, k)[1], exact)
  nprobe, recall = 1, 0.0
  while True:
    ivf.nprobe = nprobe
    recall = recall_at(index.search(queries, k)[1], exact)
    if recall >= target or nprobe >= ivf.nlist:
      return nprobe, recall
    nprobe = min(nprobe * 2, ivf.nlist)


def write(folder, index, record):
  """DIR/index/ written whole: the index file and its record."""
  faiss = faiss_module()

  def fill(temp):
    with files.atomic_write(os.path.join(temp, INDEX_FILE)) as out:
      faiss.write_index(index, faiss.PyCallbackIOWriter(out.write))
    files.write_json(os.path.join(temp, RECORD_FILE), record, indent=1)

  files.write_folder(os.path.join(folder, FOLDER), fill)


def _plan(folder, manifest, name, metric, max_memory):
  """(old record to extend or None, why it is rebuilt or None, factory)."""
  complete = manifest['complete_shards']
  count = sum(manifest['shard_rows'])
  factory = choose_factory(count, vectors_lib.dimensions(manifest, name),
                           max_memory)
  old = read_record(folder)
  if old is None:
    return None, None, factory
  asked = {'end_point': name, 'metric': metric, 'max_memory': max_memory,
           'factory': factory, 'features': features_key(manifest)}
  changed = [key for key, value in asked.items() if old.get(key) != value]
  if not set(old.get('shards', [])) <= set(complete):
    changed.append('shards no longer in the folder')
  if changed:
    return None, 'rebuilt: %s changed' % ', '.join(changed), factory
  if not os.path.isfile(os.path.join(folder, FOLDER, INDEX_FILE)):
    return None, 'rebuilt: its index file is missing', factory
  return old, None, factory


def features_key(manifest):
  return {key: manifest.get(key) for key in vectors_lib.SAME_NET}


def _train(faiss, folder, manifest, name, metric, factory, max_memory, rng):
  dims = vectors_lib.dimensions(manifest, name)
  index = faiss.index_factory(dims, factory, (
      faiss.METRIC_INNER_PRODUCT if metric == 'ip' else faiss.METRIC_L2))
  if not index.is_trained:
    lists = faiss.extract_index_ivf(index).nlist
    rows = rows_by_shard(manifest)
    # FAISS wants >= 39 training vectors a list; 64 a list, within the
    # budget, is what autofaiss draws; and at least 10,000 (or all), as
    # 8-bit codes clip what lies outside the range of their sample.
    count = max(39 * lists, min(64 * lists, max_memory // (4 * dims)),
                TRAIN_AT_LEAST)
    index.train(_read_sample(folder, name, _sample_rows(rows, count, rng),
                             metric == 'ip'))
  return index


def rows_by_shard(manifest):
  """{shard: its rows} of a features folder's complete shards."""
  return dict(zip(manifest['complete_shards'], manifest['shard_rows']))


def build(folder, end_point=None, metric='ip', max_memory=DEFAULT_MAX_MEMORY,
          recall_target=RECALL_TARGET, seed=0, progress=None):
  """Builds or extends the index of a features folder.

  Args:
    folder: A features folder (`resnet-v2 features --output DIR`).
    end_point: The end point to index; default the folder's first.
    metric: 'ip' (inner product of L2-normalised vectors: cosine
      similarity) or 'l2' (squared L2 distance of the vectors as written).
    max_memory: Bytes the index may take in memory (`choose_factory`).
    recall_target: nprobe is the fewest lists that reach this recall@10.
    seed: Draws the training and recall samples.
    progress: None, or a callback `progress(shards, label)` returning an
      object whose `update(done, durations)` is called per shard added.

  Returns:
    (the index record written, None or the line saying why it was rebuilt).

  Raises:
    ValueError: on a folder that is not a features folder, an unknown end
      point or metric, or a budget too small.
  """
  if metric not in METRICS:
    raise ValueError('metric must be one of %s, got %r.' % (
        ', '.join(METRICS), metric))
  faiss = faiss_module()
  manifest = vectors_lib.open_folder(folder)
  name = vectors_lib.end_point(manifest, end_point)
  old, rebuilt, factory = _plan(folder, manifest, name, metric, max_memory)
  rng = np.random.default_rng(seed)
  if old:
    index = faiss.read_index(os.path.join(folder, FOLDER, INDEX_FILE))
    covered = list(old['shards'])
  else:
    index = _train(faiss, folder, manifest, name, metric, factory,
                   max_memory, rng)
    covered = []
  done = set(covered)
  todo = [s for s in manifest['complete_shards'] if s not in done]
  shown = progress(len(todo), 'shards') if progress and todo else None
  durations = []
  for shard in todo:
    start = time.perf_counter()
    index.add(vectors_lib.read_shard(folder, name, shard, metric == 'ip'))
    covered.append(shard)
    durations.append(time.perf_counter() - start)
    if shown:
      shown.update(len(durations), durations)
  rows = rows_by_shard(manifest)
  sample = _sample_rows({s: rows[s] for s in covered}, RECALL_SAMPLE, rng)
  queries = _read_sample(folder, name, sample, metric == 'ip')
  exact = exact_neighbours(folder, name, covered, queries, metric,
                           min(RECALL_K, index.ntotal))
  nprobe, recall = tune_nprobe(index, queries, exact, recall_target)
  record = {'format': 'resnet_v2 index 1', 'end_point': name,
            'metric': metric, 'max_memory': max_memory, 'factory': factory,
            'nprobe': nprobe, 'vectors': int(index.ntotal),
            'dimensions': int(index.d), 'shards': covered,
            'shard_rows': [rows[s] for s in covered],
            'recall_at_10': recall, 'recall_queries': len(queries),
            'features': features_key(manifest)}
  write(folder, index, record)
  return record, rebuilt
