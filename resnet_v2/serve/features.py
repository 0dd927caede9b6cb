"""End points of a collection of images: a folder of shards for any size,
or one .npz for small runs.

The folder job is clip-retrieval's: this module is the runner (`plan`
cuts the input into shards: a fixed number of images of a list, or one
file of a TFRecord, CIFAR or tar dataset each), `worker.run_shards` runs
a `model.Model` over the shards and writes each whole (`shards`), and
`extract_to_folder` is the distributor: the workers run in this process,
or on a Ray cluster (`ray_distributor`), skipping the shards a killed run
completed; memory holds one shard at a time.
"""

import os
import time
import zipfile

import numpy as np

from resnet_v2 import files
from resnet_v2.data import collection
from resnet_v2.data import preprocessing
from resnet_v2.data import sources
from resnet_v2.serve import shards as shards_lib
from resnet_v2.serve import worker

DTYPES = ('float32', 'float16')
# Default shard size: this many bytes of arrays per shard (a shard is held
# in memory while it is computed), within these image counts.
SHARD_BYTES = 32 * 2**20
SHARD_IMAGES = (64, 10000)


def is_features_file(path):
  """Whether path is an .npz this project wrote (a zip holding
  file_names.npy); read as a zip listing, nothing unpickled."""
  try:
    with zipfile.ZipFile(path) as archive:
      return 'file_names.npy' in archive.namelist()
  except (OSError, zipfile.BadZipFile):
    return False


def check_features_output(path, overwrite=False, inputs=()):
  """Raises files.OutputError unless features may be written to path: new,
  or an earlier features file; anything else only with overwrite; never
  inside an input. Missing parent folders are made."""
  files.check_output(path, overwrite, inputs, is_ours=is_features_file)
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)


def write_npz_atomically(path, arrays):
  """Writes arrays to path via a temp file and rename: never half-written."""
  with files.atomic_write(path) as out:
    np.savez(out, **arrays)


def default_shard_size(bytes_per_image, batch_size):
  """Images per shard: about SHARD_BYTES of arrays, a multiple of the
  batch size, within SHARD_IMAGES."""
  images = min(max(SHARD_BYTES // max(bytes_per_image, 1), SHARD_IMAGES[0]),
               SHARD_IMAGES[1])
  return max(batch_size, images // batch_size * batch_size)


def plan(source, shard_size):
  """The source cut into shards, in order: consecutive runs of shard_size
  images of a list (files, folders, IDX), or one file each (TFRecords,
  CIFAR-10 batches, tar shards)."""
  if sources.kind_of(source).sharded_by_file:
    return [source._replace(items=[item]) for item in source.items]
  count = len(source.items)
  return [source._replace(
      items=source.items[start:start + shard_size],
      labels=(None if source.labels is None else
              source.labels[start:start + shard_size]))
          for start in range(0, count, shard_size)]


def settings(net, source, inputs, end_points, shapes, shard_size, count,
             dtype, weights=None, split='train'):
  """What a features folder records, and what a continuing run must
  repeat."""
  record, kind = net.record, sources.kind_of(source)
  return {
      'model': record.model, 'weights': weights or record.weights,
      'conventions': record.conventions, 'engine': net.engine,
      'precision': net.precision, 'image_size': record.image_size,
      'preprocessing': record.preprocessing,
      'end_points': {name: shapes[name] for name in end_points},
      'dtype': dtype, 'inputs': [os.path.abspath(i) for i in inputs],
      'source_kind': source.kind, 'class_names': source.class_names,
      'split': split if kind.dataset else None,
      'shard_size': None if kind.sharded_by_file else shard_size,
      'shards': count,
      'order': ('input files sorted by path within each folder, in the '
                'order given; shards in number order, rows in input order'),
      # How to load this net again (`search` runs queries through it).
      'net': net.load_spec(weights, absolute=True),
  }


def extract_to_folder(inputs, folder, net, end_points=('global_pool',),
                      shard_size=None, batch_size=32, dtype='float32',
                      progress=None, max_pixels=preprocessing.MAX_IMAGE_PIXELS,
                      weights=None, ray_address=None, split='train',
                      log=None):
  """Writes the end points of a collection as shards in folder.

  Args:
    inputs: What `collection.open_collection` reads.
    folder: The features folder: new, empty, or one this project started
      with the same settings (continued after its last complete shard).
    net: A `model.Model`.
    end_points: End point names, e.g. 'global_pool', 'resnet_v2_50/block4'.
    shard_size: Images per shard of a list source; default
      `default_shard_size`.
    batch_size: Images per run of the net.
    dtype: 'float32' or 'float16' (the arrays written).
    progress: None, or a callback `progress(shards, label)` returning an
      object whose `update(done, durations)` is called per shard.
    max_pixels: Larger images are skipped without being decoded.
    weights: The published weights' name ('tf-slim', 'keras') the net was
      loaded with (recorded, and fetched by Ray workers); default the
      record's path.
    ray_address: Run the shards on a Ray cluster ('auto' or an address;
      `ray_distributor`); None: in this process.
    split: Of a CIFAR-10, IDX or TF-Slim TFRecord dataset: 'train' or
      'test'.
    log: A text stream for a note on a Ray node lost during the run
      (`ray_distributor.run_shards`); None: not said.

  Returns:
    The manifest written.

  Raises:
    ValueError: on bad inputs, end points, dtype, or a folder of another
      run; files.OutputError if folder may not be written.
  """
  end_points = list(end_points)
  if not end_points:
    raise ValueError('Give at least one end point name, e.g. global_pool.')
  if dtype not in DTYPES:
    raise ValueError('dtype must be one of %s, got %r.' % (DTYPES, dtype))
  if batch_size < 1 or (shard_size is not None and shard_size < 1):
    raise ValueError('batch_size and shard_size must be >= 1.')
  net.check_end_points(end_points)
  source = collection.open_collection(inputs, split)
  shapes = worker.output_shapes(net, end_points)
  per_image = sum(int(np.prod(s)) for s in shapes.values()) * np.dtype(
      dtype).itemsize
  shard_size = shard_size or default_shard_size(per_image, batch_size)
  planned = plan(source, shard_size)
  manifest = shards_lib.open_folder(folder, settings(
      net, source, inputs, end_points, shapes, shard_size, len(planned),
      dtype, weights, split), inputs=list(inputs))
  todo = shards_lib.incomplete_shards(folder, len(planned))
  job = worker.ShardJob(folder, tuple(end_points), shapes, batch_size, dtype,
                        max_pixels)
  if ray_address is not None:
    from resnet_v2.serve import ray_distributor  # pylint: disable=g-import-not-at-top
    ray_distributor.run_shards(ray_address, net.load_spec(weights), job,
                               planned, todo, log=log)
    # What lost workers left half-written (every writer is done now).
    shards_lib.remove_partial(folder)
  else:
    _run_here(net, job, planned, todo, progress)
  return shards_lib.finish(folder, manifest)


def _run_here(net, job, planned, todo, progress):
  """Runs the shards left in this process (`worker.run_shards`)."""
  shown = progress(len(planned), 'shards') if progress else None
  durations, last = [], [time.perf_counter()]

  def written(index, count):
    del index, count
    now = time.perf_counter()
    durations.append(now - last[0])
    last[0] = now
    if shown:
      shown.update(len(planned) - len(todo) + len(durations), durations)
  worker.run_shards(net, job, [(index, planned[index]) for index in todo],
                    written)


def extract_features(inputs, output, model, end_points=('global_pool',),
                     batch_size=16, progress=None, overwrite=False,
                     max_pixels=preprocessing.MAX_IMAGE_PIXELS):
  """Writes the end_points of image files to one .npz (small runs: it is
  held in memory; `extract_to_folder` for any size).

  Args:
    inputs: Image files and/or folders.
    output: Path of the .npz: one array per end point (keyed by its name)
      and 'file_names', in the same order as the arrays' first axis.
    model: A `serve.model.Model`, or a function that loads one: called
      once the output is known to be writable (the command line passes
      one, so a bad output is refused before a net loads).
    end_points: Names of end_points to save, e.g. 'global_pool' or
      'resnet_v2_50/block4'.
    batch_size: Images per run.
    progress: None, or a progress callback (see `model.Model.iterate`).
    overwrite: Replace an existing output that is not a features file.
    max_pixels: Larger images are skipped without being decoded.

  Returns:
    (number of files written, list of (skipped path, reason)).

  Raises:
    ValueError: on missing inputs, unknown end_points, or no readable image.
    files.OutputError: if output may not be written (checked first).
  """
  if not end_points:
    raise ValueError('Give at least one end point name, e.g. global_pool.')
  if batch_size < 1:
    raise ValueError('batch_size must be >= 1, got %r.' % batch_size)
  paths = sources.list_image_files(inputs)
  check_features_output(output, overwrite, list(inputs))
  if not hasattr(model, 'iterate'):   # a loader, not a Model
    model = model()
  names, collected = [], {n: [] for n in end_points}
  for kept, outputs in model.iterate(paths, list(end_points), batch_size,
                                     progress, max_pixels):
    names.extend(kept)
    for n in end_points:
      collected[n].append(outputs[n])
  if not names:
    raise ValueError('None of the %d files could be read as an image; '
                     'nothing written. First: %s' % (len(paths),
                                                     model.skipped[0][1]))
  arrays = {n: np.concatenate(collected[n]) for n in end_points}
  arrays['file_names'] = np.array(names)
  write_npz_atomically(output, arrays)
  return len(names), model.skipped
