"""The vectors of a features folder, one shard at a time.

An end point's arrays are [rows, height, width, channels] (global_pool:
[rows, 1, 1, channels]); as vectors they are averaged over height and
width (global average pooling, the usual reading of a feature map for
search and probes), one float32 row an image. Shards are read
memory-mapped, so a folder of any size is never held whole.
"""

import numpy as np

from resnet_v2.serve import shards as shards_lib

# What must agree for vectors of two folders (or a folder and a query run
# through a net now) to be compared.
SAME_NET = ('model', 'weights', 'conventions', 'image_size', 'preprocessing',
            'engine', 'precision')


def open_folder(folder):
  """The manifest of a features folder that holds complete shards.

  Raises:
    ValueError: if folder is not a features folder, or holds no shard.
  """
  manifest = shards_lib.read_manifest(folder)
  if manifest is None:
    raise ValueError('%s is not a features folder (no manifest.json); write '
                     'one with `resnet-v2 features --output %s`.' % (
                         folder, folder))
  if not manifest.get('complete_shards'):
    raise ValueError('%s holds no complete shard yet; run its `resnet-v2 '
                     'features` command to the end first.' % folder)
  return manifest


def end_point(manifest, name=None):
  """The end point name asked for, default the folder's first.

  Raises:
    ValueError: if the folder does not hold it.
  """
  names = list(manifest['end_points'])
  if name is None:
    return names[0]
  if name not in names:
    raise ValueError('the features folder holds %s, not %r; give one of '
                     'them as `end_point`.' % (', '.join(names), name))
  return name


def dimensions(manifest, name):
  """The length of one image's vector at an end point."""
  shape = manifest['end_points'][name]
  return int(shape[-1]) if len(shape) == 3 else int(np.prod(shape))


def as_vectors(array):
  """[rows, h, w, c] arrays averaged over h and w; other ranks flattened.
  Returns float32 [rows, dims]."""
  array = np.asarray(array)
  if array.ndim == 4:
    array = array.mean(axis=(1, 2), dtype=np.float32)
  return np.ascontiguousarray(array.reshape(len(array), -1), np.float32)


def normalized(vectors):
  """Rows scaled to unit length (zero rows stay zero)."""
  norms = np.linalg.norm(vectors, axis=1, keepdims=True)
  return vectors / np.maximum(norms, 1e-12)


def read_shard(folder, name, shard, normalize=False, rows=None):
  """One shard's vectors at an end point (rows: a subset of its rows)."""
  array = np.load(shards_lib.array_path(folder, name, shard), mmap_mode='r')
  vectors = as_vectors(array if rows is None else array[np.sort(rows)])
  return normalized(vectors) if normalize else vectors


def shard_metadata(folder, shard):
  """(names, labels) of a shard's rows; labels -1 where unknown."""
  import pyarrow.parquet  # pylint: disable=g-import-not-at-top
  table = pyarrow.parquet.read_table(shards_lib.metadata_path(folder, shard),
                                     columns=['name', 'label'])
  labels = table.column('label').to_numpy(zero_copy_only=False)
  labels = np.where(np.isnan(labels.astype(np.float64)), -1, labels)
  return table.column('name').to_pylist(), labels.astype(np.int64)


def metadata(folder, shards):
  """(names, labels) of the shards' rows, in the order given."""
  names, labels = [], []
  for shard in shards:
    shard_names, shard_labels = shard_metadata(folder, shard)
    names.extend(shard_names)
    labels.append(shard_labels)
  return names, (np.concatenate(labels) if labels else
                 np.zeros([0], np.int64))


def read_all(folder, name, shards, normalize=False):
  """The shards' vectors stacked (probes and small folders)."""
  return np.concatenate([read_shard(folder, name, s, normalize)
                         for s in shards])


def check_comparable(manifest, other, name, what):
  """Raises ValueError unless other's vectors at name come from the same
  net, weights and preprocessing as manifest's."""
  differences = [key for key in SAME_NET
                 if manifest.get(key) != other.get(key)]
  if other['end_points'].get(name) != manifest['end_points'].get(name):
    differences.append('end point %s' % name)
  if differences:
    raise ValueError('%s was written by another net or preprocessing (%s '
                     'differ); write its features with the same `resnet-v2 '
                     'features` flags.' % (what, ', '.join(differences)))
