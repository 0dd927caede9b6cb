"""The worker of a features run: one shard through the net, written whole.

clip-retrieval separates the runner (`features`: the plan of shards), the
worker (this module) and the distributor (`features.extract_to_folder` in
one process, `ray_distributor` on a Ray cluster); every one of them calls
`run_shard` with the run's `ShardJob` (and writes with
`shards.write_shard`).
"""

import dataclasses
import os
from typing import Dict, List, Tuple

import numpy as np

from resnet_v2.data import inputs as inputs_lib
from resnet_v2.data import preprocessing
from resnet_v2.data import sources
from resnet_v2.serve import shards as shards_lib


def output_shapes(net, end_points):
  """{end point: shape of one image's array}, from one blank image."""
  size = net.image_size
  out = net.run(np.zeros([1, size, size, 3], np.float32), end_points)
  return {name: list(out[name].shape[1:]) for name in end_points}


@dataclasses.dataclass(frozen=True)
class ShardJob:
  """What every shard of a features run is written with (picklable: a Ray
  actor gets it whole).

  Attributes:
    folder: The features folder.
    end_points: End point names.
    shapes: {end point: shape of one image's array} (`output_shapes`,
      computed once per run).
    batch_size: Images per run of the net.
    dtype: Of the arrays written ('float32' or 'float16').
    max_pixels: Larger images are skipped without being decoded.
  """
  folder: str
  end_points: Tuple[str, ...]
  shapes: Dict[str, List[int]]
  batch_size: int = 32
  dtype: str = 'float32'
  max_pixels: int = preprocessing.MAX_IMAGE_PIXELS


def run_shard(net, job, index, shard):
  """The worker: runs net over one shard and writes it whole.

  A shard of a list source fills arrays made once at its size (so memory
  holds one shard, not two); a file's shard grows by batches.

  Args:
    net: A `model.Model`.
    job: The run's `ShardJob`.
    index: The shard's number.
    shard: Its part of the input (a `sources.Source`).

  Returns:
    The number of images written (files that did not read are listed in
    the shard's skipped file).
  """
  skipped = inputs_lib.SkippedFiles()
  sized = sources.kind_of(shard).item_per_image
  arrays = {name: np.empty([len(shard.items) if sized else 0] +
                           list(job.shapes[name]), job.dtype)
            for name in job.end_points}
  parts = {name: [] for name in job.end_points}
  names, labels = [], []
  # inputs.iterate: the end of a tf.data iteration waits, idle, for the
  # iterator's threads (0.5-2.5 s a shard here; shards alternated 40 s and
  # 82 s in a 100,000-image run); a thread of its own waits, the next shard
  # starts.
  for images, batch_labels, kept in inputs_lib.iterate(net.dataset(
      shard, job.batch_size, skipped, max_pixels=job.max_pixels)):
    outputs = net.run(images, list(job.end_points))
    rows = slice(len(names), len(names) + len(kept))
    for name in job.end_points:
      if sized:
        arrays[name][rows] = outputs[name]
      else:
        parts[name].append(outputs[name].astype(job.dtype, copy=False))
    names.extend(os.fsdecode(k) for k in kept.numpy())
    labels.extend(batch_labels.numpy().tolist())
  arrays = {name: (arrays[name][:len(names)] if sized or not parts[name]
                   else np.concatenate(parts[name]))
            for name in job.end_points}
  shards_lib.write_shard(job.folder, index, arrays, names, labels,
                         skipped.items())
  return len(names)
