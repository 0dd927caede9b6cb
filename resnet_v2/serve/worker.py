"""The worker of a features run: shards through the net, each written whole.

clip-retrieval separates the runner (`features`: the plan of shards), the
worker (this module) and the distributor (`features.extract_to_folder` in
one process, `ray_distributor` on a Ray cluster); every one of them calls
`run_shards` with the run's `ShardJob` (and writes with
`shards.write_shard`).
"""

import dataclasses
import os
import weakref
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


class _ShardRows:
  """One shard's rows, filled as its images come through the pipeline.

  A shard of a list source fills arrays made once at its size (so memory
  holds one shard, not two); a file's shard grows by batches.
  """

  def __init__(self, index, shard, job):
    self.index, self.items, self.job = index, shard.items, job
    self.sized = sources.kind_of(shard).item_per_image
    self.arrays = {name: np.empty([len(shard.items) if self.sized else 0] +
                                  list(job.shapes[name]), job.dtype)
                   for name in job.end_points}
    self.parts = {name: [] for name in job.end_points}
    self.names, self.labels, self.passed = [], [], []
    self.next_item = 0

  def take(self, name):
    """Whether the image named `name` (bytes) is this shard's next: the
    items passed over on the way did not read (the pipeline keeps the
    items' order); False once the shard's items are all passed."""
    while self.next_item < len(self.items):
      item = self.items[self.next_item]
      self.next_item += 1
      if os.fsencode(item) == name:
        return True
      self.passed.append(sources.display_name(item))
    return False

  def add(self, outputs, rows, names, labels):
    """Rows [rows] of a batch's outputs are this shard's next images."""
    done = slice(len(self.names), len(self.names) + len(names))
    for name in self.job.end_points:
      if self.sized:
        self.arrays[name][done] = outputs[name][rows]
      else:
        self.parts[name].append(
            outputs[name][rows].astype(self.job.dtype, copy=False))
    self.names.extend(os.fsdecode(n) for n in names)
    self.labels.extend(labels)

  def write(self, skipped):
    """Writes the shard whole (`shards.write_shard`); returns its images.

    Args:
      skipped: [(name, reason)] of the files that did not read: every one
        of a shard that is its source alone, else those it passed over.
    """
    count = len(self.names)
    arrays = {name: (self.arrays[name][:count]
                     if self.sized or not self.parts[name]
                     else np.concatenate(self.parts[name]))
              for name in self.job.end_points}
    shards_lib.write_shard(self.job.folder, self.index, arrays, self.names,
                           self.labels, skipped)
    return count


# Blank runs of the net before the pipeline starts: (runs, images each).
# Run while the pipeline's threads were already busy, the net's first
# batches left it slower for the whole run: 5,000 images at 64x64 went
# through its calls at 209-215 images/s, and at 236-245 after 4 blank runs
# of 8 images (2-core Intel Xeon; 37 against 40 images/s at 224x224; why,
# not found: BENCHMARKS.md). They cost the time of 32 images.
WARM_UP = (4, 8)
# The nets warmed up in this process: once is enough (a Ray actor runs
# `run_shards` again for every batch of shards it is given).
_WARMED_UP = weakref.WeakSet()


def warm_up(net, job):
  """Runs the net WARM_UP times on blank images (at most a batch each),
  the first time this process sees it."""
  if net in _WARMED_UP:
    return
  _WARMED_UP.add(net)
  runs, images = WARM_UP
  blank = np.zeros([min(images, job.batch_size), net.image_size,
                    net.image_size, 3], np.float32)
  for _ in range(runs):
    net.run(blank, list(job.end_points))


def run_shards(net, job, shards, written=None):
  """The worker: runs net over shards and writes each whole as soon as its
  last image is through.

  Shards of image files go through one input pipeline: building it (its
  functions traced, its first batch read) took 0.5 s a shard, as long as
  the net took for 128 images at 64x64. The shard of each image is found
  by walking the shards' items in order; the items passed over are the
  files that did not read. A shard of any other kind (one file of many
  images, or pixels held in memory) gets a pipeline of its own.

  Args:
    net: A `model.Model`.
    job: The run's `ShardJob`.
    shards: [(index, source)]: the shards to write, in order.
    written: None, or called with (index, images written) after each shard.

  Returns:
    The number of images written (files that did not read are listed in
    each shard's skipped file).
  """
  shards = list(shards)
  if shards:
    warm_up(net, job)
  if shards and sources.kind_of(shards[0][1]).reads_files:
    groups = [shards]
  else:
    groups = [[shard] for shard in shards]
  return sum(_run_group(net, job, group, written) for group in groups)


def _run_group(net, job, group, written):
  """Runs shards [(index, source)] through one pipeline; returns images."""
  first = group[0][1]
  source = first if len(group) == 1 else first._replace(
      items=[item for _, shard in group for item in shard.items],
      labels=None if first.labels is None else np.concatenate(
          [np.asarray(shard.labels) for _, shard in group]))
  by_name = len(group) > 1
  skipped = inputs_lib.SkippedFiles()
  waiting = list(reversed(group))
  current = _ShardRows(*waiting.pop(), job)
  total = 0

  def finish(rows):
    nonlocal total
    if by_name:
      reasons = dict(skipped.items())
      count = rows.write([(name, reasons[name]) for name in rows.passed])
    else:
      count = rows.write(skipped.items())
    total += count
    if written:
      written(rows.index, count)

  # inputs.iterate: the end of a tf.data iteration waits, idle, for the
  # iterator's threads (0.5-2.5 s a shard here; shards alternated 40 s and
  # 82 s in a 100,000-image run); a thread of its own waits.
  for images, batch_labels, kept in inputs_lib.iterate(net.dataset(
      source, job.batch_size, skipped, max_pixels=job.max_pixels)):
    outputs = net.run(images, list(job.end_points))
    names, labels = kept.numpy(), batch_labels.numpy().tolist()
    start = 0
    while start < len(names):
      end = start
      while end < len(names) and (not by_name or current.take(names[end])):
        end += 1
      current.add(outputs, slice(start, end), names[start:end],
                  labels[start:end])
      if end < len(names):    # the shard's items are all through
        finish(current)
        current = _ShardRows(*waiting.pop(), job)
      start = end
  while True:
    if by_name:
      current.take(None)      # what is left of its items did not read
    finish(current)
    if not waiting:
      return total
    current = _ShardRows(*waiting.pop(), job)
