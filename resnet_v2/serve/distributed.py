"""The features job on a Ray cluster: the same worker, more machines.

`run_shards` hands the shards left to Ray Data as tasks of actors
(`ds.map_batches(ShardWriter, concurrency=N)`): each actor loads the net
once (`model.Model.load`, published weights from its node's cache or the
mirror) and writes whole shards into the shared features folder with
`worker.run_shard`. Ray retries a failed task and restarts a lost
actor elsewhere; a shard is written whole or not at all, so a retried
shard replaces nothing and the output equals a single process's, array for
array. Install with `pip install 'resnet_v2[ray]'`.
"""

import logging

from resnet_v2 import errors


def _ray():
  ray = errors.require('ray', 'ray', '--ray needs')
  errors.require('ray.data', 'ray', '--ray needs')
  return ray


class ShardWriter:
  """A Ray Data actor: loads the net once, then writes the shards it is
  given (batches of shard numbers)."""

  def __init__(self, net_spec, folder, planned, end_points, batch_size,
               dtype, max_pixels):
    # pylint: disable=g-import-not-at-top
    import ray
    from resnet_v2.serve import model as model_lib
    if isinstance(planned, ray.ObjectRef):
      planned = ray.get(planned)
    self.net = model_lib.Model.load(**net_spec)
    self.folder, self.planned, self.end_points = folder, planned, end_points
    self.batch_size, self.dtype, self.max_pixels = (batch_size, dtype,
                                                    max_pixels)

  def __call__(self, batch):
    import numpy as np  # pylint: disable=g-import-not-at-top
    from resnet_v2.serve import worker  # pylint: disable=g-import-not-at-top
    rows = [worker.run_shard(
        self.net, self.folder, int(index), self.planned[int(index)],
        self.end_points, self.batch_size, self.dtype, self.max_pixels)
            for index in batch['index']]
    return {'index': batch['index'], 'rows': np.asarray(rows, np.int64)}


def run_shards(address, spec, folder, planned, todo, end_points, batch_size,
               dtype, max_pixels, concurrency=None):
  """Writes the shards `todo` of `planned` into folder on a Ray cluster.

  Args:
    address: 'auto' (the cluster this machine is part of; a local one is
      started where there is none) or a cluster's address.
    spec: `model.Model.load_spec()` of the net.
    concurrency: Actors; default one per CPU of the cluster, at most one
      per shard.

  Raises:
    ImportError: without Ray (the message says what to install).
  """
  ray = _ray()
  # The command line prints its own lines (progress is the shards' count).
  logging.getLogger('ray').setLevel(logging.WARNING)
  context = ray.data.DataContext.get_current()
  context.enable_progress_bars = False
  if not ray.is_initialized():
    ray.init(address=None if address == 'local' else address,
             log_to_driver=False, logging_level='ERROR')
  if not todo:
    return
  cpus = int(ray.cluster_resources().get('CPU', 1))
  concurrency = concurrency or max(1, min(cpus, len(todo)))
  data = ray.data.from_items([{'index': i} for i in todo])
  written = data.map_batches(
      ShardWriter, batch_size=1, concurrency=concurrency, num_cpus=1,
      fn_constructor_kwargs=dict(
          net_spec=spec, folder=folder, planned=ray.put(planned),
          end_points=list(end_points), batch_size=batch_size, dtype=dtype,
          max_pixels=max_pixels),
      max_restarts=-1, max_task_retries=-1)
  written.materialize()
