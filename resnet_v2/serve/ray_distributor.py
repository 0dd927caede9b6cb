"""The features job on a Ray cluster: the same worker, more machines
(and `map_in_order`, the same for any function: `dedup --ray`).

`run_shards` hands the shards left to Ray Data as tasks of actors
(`ds.map_batches(ShardWriter, concurrency=N)`; a row is a shard's number
and its part of the input): each actor loads the net
once (`model.Model.load`, published weights from its node's cache or the
mirror) and writes whole shards into the shared features folder with
`worker.run_shards`. Ray retries a failed task and restarts a lost
actor elsewhere; a shard is written whole or not at all, so a retried
shard replaces nothing and the output equals a single process's, array for
array. Install with `pip install 'resnet_v2[ray]'`.
"""

import contextlib
import logging
import os
import pickle
import warnings

from resnet_v2 import errors

# Ray's own loggers: on a --ray run what they say goes to Ray's log, not
# the user's terminal (`_into_rays_log`).
RAY_LOGGERS = ('ray', 'ray.data')
LOG_FILE = 'resnet_v2-features.log'


def _ray():
  ray = errors.require('ray', 'ray', '--ray needs')
  errors.require('ray.data', 'ray', '--ray needs')
  return ray


class ShardWriter:
  """A Ray Data actor: loads the net once, then writes the shards it is
  given (rows of a shard's number and its part of the input, pickled by
  this module for its own workers: the actor holds no plan, so a restart
  needs nothing from the object store)."""

  def __init__(self, net_spec, job):
    from resnet_v2.serve import model as model_lib  # pylint: disable=g-import-not-at-top
    self.net = model_lib.Model.load(**net_spec)
    self.job = job

  def __call__(self, batch):
    import numpy as np  # pylint: disable=g-import-not-at-top
    from resnet_v2.serve import worker  # pylint: disable=g-import-not-at-top
    counts = {}
    worker.run_shards(self.net, self.job, [
        (int(index), pickle.loads(shard))
        for index, shard in zip(batch['index'], batch['shard'])],
                      lambda index, count: counts.__setitem__(index, count))
    rows = [counts[int(index)] for index in batch['index']]
    return {'index': batch['index'], 'rows': np.asarray(rows, np.int64)}


def run_shards(address, spec, job, planned, todo, concurrency=None,
               log=None):
  """Writes the shards `todo` of `planned` on a Ray cluster, each with
  `worker.run_shards` and the run's `worker.ShardJob` `job`.

  What Ray says meanwhile (its deprecation warnings, a lost actor's
  retries) goes to Ray's log of this session
  (`<session>/logs/resnet_v2-features.log`, beside Ray Data's
  `ray-data.log`); a node lost during the run is said in one line to log.

  Args:
    address: 'auto' (the cluster this machine is part of; a local one is
      started where there is none) or a cluster's address.
    spec: `model.Model.load_spec()` of the net.
    concurrency: Actors; default one per CPU of the cluster, at most one
      per shard.
    log: A text stream for that line; None: not said.

  Raises:
    errors.MissingDependencyError: without Ray (naming what to install).
  """
  ray = _connect(address)
  context = ray.data.DataContext.get_current()
  context.enable_progress_bars = False
  if not todo:
    return
  alive = _alive_nodes(ray)
  cpus = int(ray.cluster_resources().get('CPU', 1))
  concurrency = concurrency or max(1, min(cpus, len(todo)))
  with _into_rays_log(ray):
    data = ray.data.from_items([{'index': i, 'shard': pickle.dumps(
        planned[i])} for i in todo])
    written = data.map_batches(
        ShardWriter, batch_size=1, concurrency=concurrency, num_cpus=1,
        fn_constructor_kwargs=dict(net_spec=spec, job=job),
        max_restarts=-1, max_task_retries=-1)
    written.materialize()
  _say_lost(ray, alive, log, 'each shard is written once')


def map_in_order(address, function, arguments, log=None):
  """[function(*a) for a in arguments], each call a Ray task on the
  cluster at address (retried elsewhere when a node is lost), the results
  in the order given. What Ray says meanwhile goes to Ray's log, as in
  `run_shards`; a node lost during the run is said in one line to log.

  Args:
    address: As `run_shards`'.
    function: A module-level function (Ray's workers import it).
    arguments: One tuple of arguments per call.
    log: A text stream for that line; None: not said.

  Raises:
    errors.MissingDependencyError: without Ray (naming what to install).
  """
  ray = _connect(address)
  remote = ray.remote(num_cpus=1, max_retries=-1)(function)
  alive = _alive_nodes(ray)
  with _into_rays_log(ray):
    results = ray.get([remote.remote(*call) for call in arguments])
  _say_lost(ray, alive, log, 'each result is used once')
  return results


def _connect(address):
  """Ray, joined to the cluster at address (started here for 'local')."""
  ray = _ray()
  if not ray.is_initialized():
    ray.init(address=None if address == 'local' else address,
             log_to_driver=False, logging_level='ERROR')
  return ray


def _say_lost(ray, alive, log, outcome):
  """One line to log if nodes of `alive` left the cluster."""
  lost = sorted(set(alive) - set(_alive_nodes(ray)))
  if lost and log is not None:
    print('note: %d Ray node(s) left the cluster during the run (%s); Ray '
          'ran their work again on the others, %s. Ray\'s log: %s' % (
              len(lost), ', '.join(alive[n] for n in lost), outcome,
              _log_path(ray)), file=log)


def _alive_nodes(ray):
  """{node id: its address} of the cluster's live nodes."""
  return {n['NodeID']: n.get('NodeManagerAddress', n['NodeID'])
          for n in ray.nodes() if n.get('Alive')}


def _log_path(ray):
  """This driver's file in the Ray session's logs folder."""
  # pylint: disable=protected-access
  node = ray._private.worker._global_node
  return os.path.join(node.get_logs_dir_path(), LOG_FILE)


@contextlib.contextmanager
def _into_rays_log(ray):
  """While in it, Ray's loggers and Python's warnings write to Ray's log of
  this session instead of the terminal."""
  handler = logging.FileHandler(_log_path(ray))
  handler.setFormatter(logging.Formatter(
      '%(asctime)s %(levelname)s %(name)s -- %(message)s'))
  saved = []
  for name in RAY_LOGGERS:
    logger = logging.getLogger(name)
    saved.append((logger, list(logger.handlers), logger.propagate))
    logger.handlers = [h for h in logger.handlers
                       if not _is_terminal(h)] + [handler]
    logger.propagate = False
  warned = logging.getLogger('py.warnings')
  saved.append((warned, list(warned.handlers), warned.propagate))
  warned.handlers, warned.propagate = [handler], False
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('default')
      logging.captureWarnings(True)
      yield
  finally:
    logging.captureWarnings(False)
    for logger, handlers, propagate in saved:
      logger.handlers, logger.propagate = handlers, propagate
    handler.close()


def _is_terminal(handler):
  """Whether a logging handler writes to the terminal (not a file)."""
  return (isinstance(handler, logging.StreamHandler) and
          not isinstance(handler, logging.FileHandler))
