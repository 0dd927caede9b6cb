"""Where training runs: one device, the devices of one host, several hosts.

A thin layer over `tf.distribute`, which does the work (variables mirrored
on every replica, gradients all-reduced: NCCL on GPUs, ring all-reduce on
CPUs). It chooses a strategy by name, checks that this machine and
`TF_CONFIG` can run it before any step (one clear error each), and answers
the questions a training loop asks: how many replicas, is this the chief,
how is the data sharded.

The names, as TF-Slim's `train_image_classifier.py` had `--num_clones` and
`--worker_replicas`:
  one-device:   the first GPU, else the CPU.
  mirrored:     every GPU of this host, else the logical CPU devices
                (`configure_cpu_devices`); needs two or more.
  multi-worker: MultiWorkerMirroredStrategy over the hosts in `TF_CONFIG`;
                each worker runs the same command.
"""

import collections
import json
import os
import shutil
import tempfile

import tensorflow as tf

STRATEGIES = ('one-device', 'mirrored', 'multi-worker')

Role = collections.namedtuple('Role', ['task_type', 'task_id', 'is_chief',
                                       'num_workers'])
Role.__doc__ = """This process's place in the job (one-device and mirrored:
('worker', 0, True, 1))."""


def configure_cpu_devices(count):
  """Splits the CPU into `count` logical devices (/cpu:0 ... /cpu:N-1).

  For `mirrored` on a machine without GPUs, in tests and on a laptop; the
  devices share the cores, so it shows correctness, not speed.

  Raises:
    ValueError: if count < 1, or TensorFlow's devices are already set up in
      this process (call it before any TensorFlow op runs).
  """
  if not isinstance(count, int) or count < 1:
    raise ValueError('cpu_devices must be an int >= 1, got %r.' % (count,))
  cpus = tf.config.list_physical_devices('CPU')
  try:
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration()] * count)
  except RuntimeError:
    existing = len(tf.config.list_logical_devices('CPU'))
    if existing == count:
      return
    raise ValueError('The CPU cannot be split into %d devices after '
                     'TensorFlow started (it has %d); set `cpu_devices` '
                     'before anything else runs.' % (count, existing)
                     ) from None


def read_tf_config(environ=None):
  """Parses and checks `TF_CONFIG`; returns it as a dict, or None if unset.

  Raises:
    ValueError: naming what is wrong: not JSON, no cluster, a job that is
      not a list of 'host:port', a task missing or outside the cluster.
  """
  text = (environ if environ is not None else os.environ).get('TF_CONFIG')
  if not text:
    return None
  example = ('e.g. {"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
             '"task": {"type": "worker", "index": 0}}')
  try:
    config = json.loads(text)
  except ValueError as error:
    raise ValueError('TF_CONFIG is not valid JSON (%s); %s.' %
                     (error, example)) from None
  if not isinstance(config, dict) or not isinstance(config.get('cluster'),
                                                    dict):
    raise ValueError('TF_CONFIG needs a "cluster" object; %s.' % example)
  cluster = config['cluster']
  if not cluster.get('worker') and not cluster.get('chief'):
    raise ValueError('TF_CONFIG\'s cluster needs a "worker" list (and '
                     'optionally one "chief"); %s.' % example)
  for job, addresses in cluster.items():
    if job not in ('chief', 'worker', 'evaluator', 'ps'):
      raise ValueError('TF_CONFIG names an unknown job %r; use "worker" '
                       '(and "chief").' % job)
    if job == 'ps':
      raise ValueError('Parameter servers ("ps") are not used: '
                       'multi-worker training all-reduces; list every '
                       'machine under "worker".')
    if not isinstance(addresses, list) or not all(
        isinstance(a, str) and a.rpartition(':')[2].isdigit()
        for a in addresses):
      raise ValueError('TF_CONFIG cluster job %r must be a list of '
                       '"host:port" strings, got %r.' % (job, addresses))
  if len(cluster.get('chief', [])) > 1:
    raise ValueError('TF_CONFIG may list one chief, got %d.' %
                     len(cluster['chief']))
  task = config.get('task')
  if not isinstance(task, dict) or 'type' not in task or 'index' not in task:
    raise ValueError('TF_CONFIG needs this process\'s "task": {"type": '
                     '"worker", "index": N}; %s.' % example)
  if task['type'] not in cluster:
    raise ValueError('TF_CONFIG task type %r is not a job of the cluster %s.'
                     % (task['type'], sorted(cluster)))
  if not isinstance(task['index'], int) or not (
      0 <= task['index'] < len(cluster[task['type']])):
    raise ValueError('TF_CONFIG task index %r is outside job %r, which has '
                     '%d address(es).' % (task['index'], task['type'],
                                          len(cluster[task['type']])))
  return config


# Seconds a worker waits in a collective (an all-reduce) for the others
# before it gives up: a dead peer, the chief included, ends the survivors'
# runs within this time (TensorFlow's peer health checks often sooner).
COLLECTIVE_TIMEOUT = 600
SHARED_DIR_TOKEN = '.cluster_token'


def make_strategy(name='one-device', collective_timeout=COLLECTIVE_TIMEOUT):
  """The `tf.distribute` strategy called `name`, checked against this machine.

  Args:
    name: One of STRATEGIES.
    collective_timeout: multi-worker: seconds before a collective that
      waits for a dead or stuck worker fails (None: wait for ever).

  Raises:
    ValueError: on an unknown name; `mirrored` with fewer than two devices;
      `multi-worker` without a (valid) TF_CONFIG.
  """
  if name not in STRATEGIES:
    raise ValueError('strategy must be one of %s, got %r.' %
                     (STRATEGIES, name))
  # Physical devices: listing logical ones would start TensorFlow's runtime,
  # after which MultiWorkerMirroredStrategy can no longer be created.
  gpus = tf.config.list_physical_devices('GPU')
  if name == 'one-device':
    return tf.distribute.OneDeviceStrategy(
        '/gpu:0' if gpus else '/cpu:0')
  if name == 'mirrored':
    devices = ['/gpu:%d' % i for i in range(len(gpus))] or [
        d.name for d in tf.config.list_logical_devices('CPU')]
    if len(devices) < 2:
      raise ValueError(
          'mirrored needs two or more devices; this machine shows %d GPU(s) '
          'and %d CPU device(s). Split the CPU with `cpu_devices`=2, or use '
          '`strategy`=one-device.' % (len(gpus), len(devices)))
    # Logical CPU devices reduce through one device: collective ops between
    # them need every all-reduce in the same order on both, which a
    # synchronized batch norm's all-reduces (and their gradients) beside
    # the optimizer's do not guarantee.
    return tf.distribute.MirroredStrategy(
        devices, cross_device_ops=None if gpus else
        tf.distribute.ReductionToOneDevice())
  if read_tf_config() is None:
    raise ValueError('multi-worker needs TF_CONFIG, the JSON that lists '
                     'the cluster and this worker, e.g. TF_CONFIG=\'{"cluster":'
                     ' {"worker": ["host1:2222", "host2:2222"]}, "task": '
                     '{"type": "worker", "index": 0}}\' (see the README).')
  options = tf.distribute.experimental.CommunicationOptions(
      timeout_seconds=collective_timeout, implementation=(tf.distribute.experimental.CommunicationImplementation.
                      NCCL if gpus else tf.distribute.experimental.
                      CommunicationImplementation.RING))
  return tf.distribute.MultiWorkerMirroredStrategy(
      communication_options=options)


def role(strategy):
  """This process's `Role` under strategy."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or (
      resolver is None or not resolver.cluster_spec().as_dict()):
    return Role('worker', 0, True, 1)
  jobs = resolver.cluster_spec().as_dict()
  task_type, task_id = resolver.task_type, resolver.task_id
  is_chief = task_type == 'chief' or (task_type == 'worker' and
                                      task_id == 0 and 'chief' not in jobs)
  workers = len(jobs.get('worker', [])) + len(jobs.get('chief', []))
  return Role(task_type, task_id, is_chief, workers)


def shard_policy(source, num_workers):
  """The auto-shard policy for a source: by file for TFRecords with at least
  one file per worker, else by element (every worker reads everything and
  keeps its share: right for any source, costlier in reading)."""
  policy = tf.data.experimental.AutoShardPolicy
  if num_workers > 1 and source.kind == 'tfrecord' and (
      len(source.items) >= num_workers):
    return policy.FILE
  return policy.DATA


def distribute_dataset(strategy, dataset, policy):
  """Splits a dataset of global batches over the replicas, sharded by
  `policy` across workers."""
  if isinstance(strategy, tf.distribute.OneDeviceStrategy):
    # One replica: its batches as they are. The strategy's multi-device
    # iterator stalled training for 5-20 s at about every other epoch
    # boundary (when the epoch's iterator was deleted), with nothing to
    # split.
    return dataset
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = policy
  return strategy.experimental_distribute_dataset(dataset.with_options(
      options))


def check_shared_dir(strategy, role_, model_dir):
  """Checks that every worker sees the chief's model dir (one folder on a
  shared file system), before any step: the chief writes a random token
  there, every worker learns it by an all-reduce and reads the file back.
  Every worker takes part; one process: nothing to check.

  Raises:
    ValueError: on every worker, naming those that do not see it.
  """
  if role_.num_workers < 2:
    return
  path = os.path.join(model_dir, SHARED_DIR_TOKEN)
  token = 0
  if role_.is_chief:
    token = int.from_bytes(os.urandom(6), 'big') + 1
    os.makedirs(model_dir, exist_ok=True)
    with open(path, 'w') as out:
      out.write(str(token))
      out.flush()
      os.fsync(out.fileno())

  local_replicas = strategy.num_replicas_in_sync // role_.num_workers

  def all_sum(value):
    """The sum over workers of each worker's value (one per worker)."""
    per_replica = strategy.run(lambda: tf.constant(float(value), tf.float64))
    return round(float(strategy.reduce(
        tf.distribute.ReduceOp.SUM, per_replica, None)) / local_replicas)
  token = all_sum(token)
  try:
    with open(path) as handle:
      seen = int(handle.read().strip() or 0) == token
  except (OSError, ValueError):
    seen = False
  # One bit per task: the chief job's, then worker i's.
  bit = 0 if role_.task_type == 'chief' else role_.task_id + 1
  blind = all_sum(0 if seen else 2 ** bit)
  if blind:
    names = ['chief'] + ['worker %d' % i for i in range(role_.num_workers)]
    raise ValueError(
        'not seeing the chief\'s model dir %s: %s. Every worker must '
        'write to the same folder, on a file system they all share (NFS, a '
        'cloud bucket mount, a Kubernetes ReadWriteMany volume).' % (
            model_dir, ', '.join(n for i, n in enumerate(names)
                                 if blind >> i & 1)))


def write_dir(model_dir, role_):
  """Where this worker writes checkpoints: model_dir on the chief, a fresh
  temporary folder on the others (every worker must take part in a save,
  which reads variables collectively; only the chief's copy is kept)."""
  if role_.is_chief:
    return model_dir
  return tempfile.mkdtemp(prefix='resnet_v2_worker%d_' % role_.task_id)


def remove_write_dir(path, role_):
  """Removes a non-chief worker's temporary folder."""
  if not role_.is_chief:
    shutil.rmtree(path, ignore_errors=True)
