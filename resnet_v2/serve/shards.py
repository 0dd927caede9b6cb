"""The layout of a features folder, and writing its shards whole.

clip-retrieval's layout, so numpy, pandas, DuckDB, autofaiss and FAISS read
it as it is:

  DIR/manifest.json                   the settings and the complete shards
  DIR/<end point>/<end point>_NNNNN.npy   one array per shard and end point
  DIR/metadata/metadata_NNNNN.parquet     name, shard, row, label per image
  DIR/skipped/skipped_NNNNN.json      the shard's files that did not read

(`<end point>` is the end point's name with every character other than
letters, digits and '_' made '_': `resnet_v2_50/block3` ->
`resnet_v2_50_block3`.) Row r of every array of shard i is the image in
row r of metadata_i. A shard's arrays are written first and its metadata
last, each to a temporary name renamed into place when whole: a shard is
complete exactly when its metadata file exists, so a killed run leaves
complete shards and temporary files, which the next run removes.
"""

import json
import os
import re

import numpy as np

from resnet_v2 import files

FORMAT = 'resnet_v2 features 1'
MANIFEST = 'manifest.json'
METADATA = 'metadata'
SKIPPED = 'skipped'
_TEMPORARY = '.tmp_'
# Settings recorded, not compared when a run continues a folder: where the
# net's files are (a copied model dir is the same net).
RECORDED_ONLY = ('net',)


def key(end_point):
  """The folder and file name of an end point's arrays."""
  return re.sub(r'[^A-Za-z0-9_]', '_', end_point)


def array_path(folder, end_point, index):
  name = key(end_point)
  return os.path.join(folder, name, '%s_%05d.npy' % (name, index))


def metadata_path(folder, index):
  return os.path.join(folder, METADATA, '%s_%05d.parquet' % (METADATA, index))


def _parquet():
  """pyarrow, with its Parquet module (a dependency: imported on first use,
  since plain `import resnet_v2` needs no Parquet)."""
  import pyarrow  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet  # pylint: disable=g-import-not-at-top,unused-import
  return pyarrow


def skipped_path(folder, index):
  return os.path.join(folder, SKIPPED, '%s_%05d.json' % (SKIPPED, index))


def write_shard(folder, index, arrays, names, labels, skipped=()):
  """Writes shard `index` whole: its arrays, then its metadata.

  Args:
    folder: The features folder.
    index: The shard number.
    arrays: {end point: array [rows, ...]}.
    names: [rows] file names (or keys) of the images, in row order.
    labels: [rows] class indices, -1 where unknown (null in Parquet).
    skipped: [(name, reason)] of the shard's files that did not read.
  """
  pyarrow = _parquet()
  for end_point, array in arrays.items():
    path = array_path(folder, end_point, index)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with files.atomic_write(path) as out:
      np.save(out, array)
  labels = np.asarray(labels, np.int64)
  table = pyarrow.table({
      'name': pyarrow.array(list(names), pyarrow.string()),
      'shard': pyarrow.array(np.full(len(names), index, np.int64)),
      'row': pyarrow.array(np.arange(len(names), dtype=np.int64)),
      'label': pyarrow.array(labels, mask=labels < 0),
  })
  path = metadata_path(folder, index)
  for made in (path, skipped_path(folder, index)):
    os.makedirs(os.path.dirname(made), exist_ok=True)
  files.write_json(skipped_path(folder, index), [list(i) for i in skipped])
  with files.atomic_write(path) as out:
    pyarrow.parquet.write_table(table, out)


def complete_shards(folder, count):
  """The shard numbers (< count) whose metadata is written (one look at
  each shard's file)."""
  return sorted(i for i in range(count)
                if os.path.isfile(metadata_path(folder, i)))


def incomplete_shards(folder, count):
  """The shard numbers (< count) still to write, in order; each shard's
  file is looked at once (a billion images are ~122,000 shards)."""
  done = set(complete_shards(folder, count))
  return [i for i in range(count) if i not in done]


def remove_partial(folder):
  """Removes the temporary files a killed run left; returns their names."""
  removed = []
  for root, _, names in os.walk(folder):
    for name in names:
      if name.startswith(_TEMPORARY):
        os.unlink(os.path.join(root, name))
        removed.append(name)
  return removed


def read_manifest(folder):
  """The manifest of a features folder, or None where there is none.

  Raises:
    ValueError: if it is unreadable or not this project's.
  """
  path = os.path.join(folder, MANIFEST)
  if not os.path.isfile(path):
    return None
  try:
    with open(path) as handle:
      manifest = json.load(handle)
  except (OSError, ValueError) as error:
    raise ValueError('%s is unreadable (%s): not a features folder this '
                     'version wrote; choose another `output`.' % (path, error)
                     ) from None
  if not isinstance(manifest, dict) or manifest.get('format') != FORMAT:
    raise ValueError('%s is not a resnet_v2 features manifest; choose '
                     'another `output`.' % path)
  return manifest


def open_folder(folder, settings, inputs=()):
  """Starts or continues a features folder for these settings.

  A new or empty folder is started (its manifest written first); a folder
  this project started with the same settings is continued after removing
  what a killed run left half-written; anything else is refused.

  Args:
    folder: The features folder.
    settings: What must agree for a run to continue it (net, weights, end
      points, shapes, preprocessing, inputs, shard size, dtype).
    inputs: Paths the run reads: the folder may not be, hold or lie in one.

  Returns:
    The manifest (settings, shards planned, complete shards).

  Raises:
    files.OutputError, ValueError: naming the problem and the fix.
  """
  files.check_not_input(folder, inputs)
  if os.path.lexists(folder) and not os.path.isdir(folder):
    raise files.OutputError('%s is a file; give a folder for the features.'
                            % folder)
  manifest = read_manifest(folder) if os.path.isdir(folder) else None
  if manifest is None:
    if os.path.isdir(folder) and os.listdir(folder):
      raise files.OutputError(
          '%s holds files and is not a features folder; nothing was '
          'changed. Choose a new or empty folder.' % folder)
    os.makedirs(folder, exist_ok=True)
    manifest = dict(settings, format=FORMAT, complete_shards=[])
    files.write_json(os.path.join(folder, MANIFEST), manifest, indent=1)
    return manifest
  differences = ['%s: %s in the folder, %s now' % (
      name, json.dumps(manifest.get(name)), json.dumps(value))
                 for name, value in settings.items() if name not in
                 RECORDED_ONLY and
                 manifest.get(name) != json.loads(json.dumps(value))]
  if differences:
    raise ValueError('%s holds features of another run (%s); continue it '
                     'with the same command, or choose another `output`.' %
                     (folder, '; '.join(differences)))
  remove_partial(folder)
  return manifest


def finish(folder, manifest):
  """Writes the manifest with the complete shards, their rows and the
  files that did not read, as the shards on disk say (whoever wrote them:
  this process, an earlier run, or Ray workers)."""
  pyarrow = _parquet()
  done = complete_shards(folder, manifest['shards'])
  rows = [pyarrow.parquet.read_metadata(metadata_path(folder, i)).num_rows
          for i in done]
  skipped = []
  for i in done:
    with open(skipped_path(folder, i)) as handle:
      skipped.extend(json.load(handle))
  manifest = dict(manifest, complete_shards=done, shard_rows=rows,
                  images=sum(rows), skipped_files=skipped)
  files.write_json(os.path.join(folder, MANIFEST), manifest, indent=1)
  return manifest


def load(folder, end_point):
  """Every row of one end point, in shard and row order (for tests and
  small folders: numpy arrays of a million images are better read per
  shard, e.g. `np.load(..., mmap_mode='r')`)."""
  manifest = read_manifest(folder)
  if manifest is None:
    raise ValueError('%s is not a features folder (no %s).' % (folder,
                                                              MANIFEST))
  return np.concatenate([np.load(array_path(folder, end_point, i))
                         for i in manifest['complete_shards']])
