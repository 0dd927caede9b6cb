"""The worker of a features run: one shard through the net, written whole.

clip-retrieval separates the runner (`features`: the plan of shards), the
worker (this module) and the distributor (`features.extract_to_folder` in
one process, `ray_distributor` on a Ray cluster); every one of them calls
`run_shard` (which writes with `shards.write_shard`).
"""

import os

import numpy as np

from resnet_v2.data import inputs as inputs_lib
from resnet_v2.data import preprocessing
from resnet_v2.data import sources
from resnet_v2.serve import shards as shards_lib

# Sources whose files are the shards (one file each).


def output_shapes(net, end_points):
  """{end point: shape of one image's array}, from one blank image."""
  size = net.image_size
  out = net.run(np.zeros([1, size, size, 3], np.float32), end_points)
  return {name: list(out[name].shape[1:]) for name in end_points}


def run_shard(net, folder, index, shard, end_points, batch_size=32,
              dtype='float32', max_pixels=preprocessing.MAX_IMAGE_PIXELS,
              shapes=None):
  """The worker: runs net over one shard and writes it whole.

  A shard of a list source fills arrays made once at its size (so memory
  holds one shard, not two); a file's shard grows by batches.

  Returns:
    The number of images written (files that did not read are listed in
    the shard's skipped file).
  """
  shapes = shapes or output_shapes(net, end_points)
  skipped = inputs_lib.SkippedFiles()
  sized = sources.kind_of(shard).item_per_image
  arrays = {name: np.empty([len(shard.items) if sized else 0] + shapes[name],
                           dtype) for name in end_points}
  parts = {name: [] for name in end_points}
  names, labels = [], []
  # inputs.iterate: the end of a tf.data iteration waits, idle, for the
  # iterator's threads (0.5-2.5 s a shard here; shards alternated 40 s and
  # 82 s in a 100,000-image run); a thread of its own waits, the next shard
  # starts.
  for images, batch_labels, kept in inputs_lib.iterate(net.dataset(
      shard, batch_size, skipped, max_pixels=max_pixels)):
    outputs = net.run(images, end_points)
    rows = slice(len(names), len(names) + len(kept))
    for name in end_points:
      if sized:
        arrays[name][rows] = outputs[name]
      else:
        parts[name].append(outputs[name].astype(dtype, copy=False))
    names.extend(os.fsdecode(k) for k in kept.numpy())
    labels.extend(batch_labels.numpy().tolist())
  arrays = {name: (arrays[name][:len(names)] if sized or not parts[name]
                   else np.concatenate(parts[name])) for name in end_points}
  shards_lib.write_shard(folder, index, arrays, names, labels,
                         skipped.items())
  return len(names)
