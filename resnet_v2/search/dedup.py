"""Near-duplicate groups of a features folder, and leaks between two.

`groups`: every indexed vector's neighbours within the threshold (FAISS
range search on the folder's index, a shard at a time, here or as Ray
tasks where the features were made on Ray: `--ray`), joined into
connected components (scipy): memory holds the index and the pairs
found, never an N x N matrix. The first image of a group in input order
is kept. `leaks`: the images of another folder whose nearest image in
this folder lies within the threshold (a train/test leak report).
Both are written as Parquet, whole or not at all.
"""

import os

import numpy as np

from resnet_v2 import files
from resnet_v2.search import nearest
from resnet_v2.search import vectors as vectors_lib

# Pairs a vector may find on average before the threshold is called too
# loose (the answer would be most of the collection in one group).
MAX_PAIRS_PER_IMAGE = 100


def _within(index, scores, threshold):
  return scores >= threshold if index.record['metric'] == 'ip' else (
      scores <= threshold)


def shard_pairs(folder, shard, start, threshold, index=None):
  """(first ids, second ids, scores) of one shard's vectors' neighbours
  within threshold; the shard's first id is start. A Ray task of `dedup
  --ray` (the index loaded where it runs, memory-mapped)."""
  if index is None:
    index = nearest.Index.load(folder)
  block = index.vectors(vectors_lib.read_shard(folder, index.end_point,
                                               shard))
  limits, scores, found = index.faiss_index.range_search(block, threshold)
  counts = np.diff(limits).astype(np.int64)
  return (np.repeat(np.arange(start, start + len(block)), counts),
          found.astype(np.int64), scores)


def _range_pairs(index, threshold, ray_address=None, log=None):
  """(first ids, second ids, scores) of every pair within threshold, a
  shard at a time: here, or as Ray tasks (`ray_distributor.map_in_order`)
  whose pairs are joined in shard order (the same arrays)."""
  record = index.record
  ends = np.cumsum(record['shard_rows']).tolist()
  calls = [(index.folder, shard, end - rows, threshold) for shard, end, rows
           in zip(record['shards'], ends, record['shard_rows'])]
  if ray_address is not None:
    from resnet_v2.serve import ray_distributor  # pylint: disable=g-import-not-at-top
    found = ray_distributor.map_in_order(ray_address, shard_pairs, calls,
                                         log=log)
  else:   # one shard at a time, so a loose threshold stops early
    found = (shard_pairs(*call, index=index) for call in calls)
  pairs, total = [], 0
  for shard_found, images in zip(found, ends):
    pairs.append(shard_found)
    total += len(shard_found[1])
    if total > MAX_PAIRS_PER_IMAGE * max(images, 1000):
      raise ValueError(
          'threshold %g joins more than %d images to each image on average: '
          'it is too loose for near-duplicates; give one closer to %s.' % (
              threshold, MAX_PAIRS_PER_IMAGE,
              '1' if record['metric'] == 'ip' else '0'))
  return tuple(np.concatenate([p[i] for p in pairs]) for i in range(3))


def groups(index, threshold, ray_address=None, log=None):
  """Near-duplicate groups of an index's images.

  Args:
    index: A `nearest.Index`.
    threshold: Cosine similarity at or above which (squared distance at or
      below which, for an l2 index) two images are near twins.
    ray_address: Range-search the shards as Ray tasks on this cluster
      ('local', 'auto' or an address); None: here.
    log: A text stream for a note on a Ray node lost during the run.

  Returns:
    (group [n]: the id of the group's kept image, similarity [n]: to it
    (cosine for metric ip, squared L2 distance for l2; the kept image's
    own is 1 or 0), keep [n]: bool).
  """
  from scipy import sparse  # pylint: disable=g-import-not-at-top
  from scipy.sparse import csgraph  # pylint: disable=g-import-not-at-top
  count = len(index.names)
  firsts, seconds, _ = _range_pairs(index, threshold, ray_address, log)
  graph = sparse.coo_matrix((np.ones(len(firsts), np.int8),
                             (firsts, seconds)), shape=(count, count))
  _, component = csgraph.connected_components(graph, directed=False)
  kept_of = np.full(component.max() + 1, count, np.int64)
  np.minimum.at(kept_of, component, np.arange(count))
  group = kept_of[component]
  keep = group == np.arange(count)
  similarity = np.where(keep, 1.0 if index.record['metric'] == 'ip' else 0.0,
                        np.nan)
  duplicates = np.flatnonzero(~keep)
  if len(duplicates):
    mine = vectors_of(index, duplicates)
    theirs = vectors_of(index, group[duplicates])
    similarity[duplicates] = ((mine * theirs).sum(1) if
                              index.record['metric'] == 'ip' else
                              ((mine - theirs) ** 2).sum(1))
  return group, similarity, keep


def vectors_of(index, ids):
  """The indexed vectors of ids (read from their shards), in ids' order."""
  record = index.record
  offsets = np.cumsum([0] + record['shard_rows'])
  shard_of = np.searchsorted(offsets, ids, side='right') - 1
  out = np.empty([len(ids), record['dimensions']], np.float32)
  for position in np.unique(shard_of):
    chosen = np.flatnonzero(shard_of == position)
    rows = ids[chosen] - offsets[position]
    order = np.argsort(rows, kind='stable')
    read = index.vectors(vectors_lib.read_shard(
        index.folder, record['end_point'], record['shards'][position],
        rows=rows))
    out[chosen[order]] = read
  return out


def leaks(index, other_folder, threshold):
  """The images of other_folder whose nearest image in index's folder is
  within threshold: (names, twins, similarities).

  Raises:
    ValueError: if other_folder's features came from another net.
  """
  other = vectors_lib.open_folder(other_folder)
  vectors_lib.check_comparable(index.manifest, other, index.end_point,
                               other_folder)
  names, twins, scores = [], [], []
  for shard in other['complete_shards']:
    found = index.vectors(vectors_lib.read_shard(other_folder,
                                                 index.end_point, shard))
    best, ids = index.faiss_index.search(found, 1)
    shard_names, _ = vectors_lib.shard_metadata(other_folder, shard)
    for row in np.flatnonzero(_within(index, best[:, 0], threshold) &
                              (ids[:, 0] >= 0)):
      names.append(shard_names[row])
      twins.append(index.names[ids[row, 0]])
      scores.append(float(best[row, 0]))
  return names, twins, scores


def write_parquet(path, columns):
  """Writes {column: values} as one Parquet file, whole or not at all (the
  caller checked, before its work, that path may be written)."""
  import pyarrow  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet  # pylint: disable=g-import-not-at-top
  table = pyarrow.table({k: pyarrow.array(v) for k, v in columns.items()})
  with files.atomic_write(path) as out:
    pyarrow.parquet.write_table(table, out)


def dedup(folder, threshold, output, against=None, overwrite=False,
          html=None, ray_address=None, log=None):
  """Writes folder's near-duplicate groups (or, with against, against's
  leaks into folder) to output as Parquet, and with html, a page of them
  with thumbnails (`page`). Both outputs are checked before any work. The
  groups' range search runs on Ray with ray_address (`groups`).

  Returns:
    A summary: {'images', 'groups', 'duplicates'} or {'images', 'leaks'}.
  """
  from resnet_v2.search import page  # pylint: disable=g-import-not-at-top
  inputs = [folder] + ([against] if against else [])
  for path in [output] + ([html] if html else []):
    files.check_output(path, overwrite, inputs, flag='--overwrite')
  if html and os.path.abspath(html) == os.path.abspath(output):
    raise ValueError('--html and --output name the same file; give two.')
  index = nearest.Index.load(folder)
  if against:
    names, twins, scores = leaks(index, against, threshold)
    write_parquet(output, {'name': names, 'twin': twins,
                           'similarity': scores})
    if html:
      page.write(html, page.leaks_page(names, twins, scores, threshold,
                                       index.record['metric']))
    return {'images': sum(vectors_lib.open_folder(against)['shard_rows']),
            'leaks': len(names)}
  group, similarity, keep = groups(index, threshold, ray_address, log)
  write_parquet(output, {'name': index.names, 'group': group,
                         'similarity': similarity, 'keep': keep})
  if html:
    page.write(html, page.groups_page(index.names, group, similarity, keep,
                                      threshold))
  sizes = np.bincount(group, minlength=len(group))
  return {'images': len(group), 'groups': int((sizes > 1).sum()),
          'duplicates': int((~keep).sum())}
