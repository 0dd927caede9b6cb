"""tf.distribute: strategies, TF_CONFIG, sharding, and the same training on
two replicas, two worker processes, and after a killed worker."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.scale_out import free_ports
from resnet_v2.data import sources
from resnet_v2.train import distribute

HERE = os.path.dirname(os.path.abspath(__file__))


def test_mirrored_on_two_cpu_devices_matches_one_device(tmp_path):
  # In a fresh process: the CPU is split before TensorFlow starts.
  output = tmp_path / 'result.json'
  subprocess.run([sys.executable, os.path.join(HERE, 'distributed_runs.py'),
                  'compare', str(output)], check=True, capture_output=True)
  result = json.loads(output.read_text())
  # Synchronized batch norm: the same global batch gives the same weights.
  assert result['sync'] < 1e-5
  # Per-replica batch statistics differ (the comparison can fail).
  assert result['per_replica'] > 1e-3


@pytest.mark.parametrize('text,message', [
    ('{not json', 'not valid JSON'),
    ('{"task": {"type": "worker", "index": 0}}', 'needs a "cluster"'),
    ('{"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", '
     '"index": 0}}', '"host:port"'),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": '
     '"worker", "index": 0}}', 'Parameter servers'),
    ('{"cluster": {"worker": ["a:1", "b:2"]}}', 'needs this process'),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", '
     '"index": 2}}', 'index 2 is outside'),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", '
     '"index": 0}}', "'chief' is not a job"),
])
def test_a_malformed_tf_config_is_one_clear_error(text, message):
  with pytest.raises(ValueError, match=message):
    distribute.read_tf_config({'TF_CONFIG': text})


def test_a_good_tf_config_and_none():
  config = {'cluster': {'worker': ['127.0.0.1:2222', '127.0.0.1:2223']},
            'task': {'type': 'worker', 'index': 1}}
  assert distribute.read_tf_config({'TF_CONFIG': json.dumps(config)}) == (
      config)
  assert distribute.read_tf_config({}) is None


def test_strategies_the_machine_cannot_run_are_refused(monkeypatch):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  with pytest.raises(ValueError, match='multi-worker needs TF_CONFIG'):
    distribute.make_strategy('multi-worker')
  with pytest.raises(ValueError, match='strategy must be one of'):
    distribute.make_strategy('parameter-server')
  if len(tf.config.list_logical_devices()) < 2:
    with pytest.raises(ValueError, match='`cpu_devices`=2'):
      distribute.make_strategy('mirrored')
  strategy = distribute.make_strategy('one-device')
  assert strategy.num_replicas_in_sync == 1
  assert distribute.role(strategy) == ('worker', 0, True, 1)


def test_shard_policy_by_file_for_tfrecords_else_by_element():
  policy = tf.data.experimental.AutoShardPolicy
  records = sources.Source('tfrecord', 'x', ['a', 'b', 'c'], None, None)
  assert distribute.shard_policy(records, 2) == policy.FILE
  assert distribute.shard_policy(records, 4) == policy.DATA
  assert distribute.shard_policy(records, 1) == policy.DATA
  arrays = sources.arrays_source(np.zeros([4, 8, 8, 3], np.uint8),
                                np.zeros([4], np.int64), ['a'])
  assert distribute.shard_policy(arrays, 2) == policy.DATA


def test_one_device_reads_its_batches_without_a_distributed_iterator():
  # The multi-device iterator stalled epochs for seconds on its deletion;
  # one replica has nothing to split.
  data = tf.data.Dataset.range(6).batch(2)
  one = distribute.make_strategy('one-device')
  assert distribute.distribute_dataset(
      one, data, tf.data.experimental.AutoShardPolicy.DATA) is data
  assert [int(b[0]) for b in distribute.distribute_dataset(
      one, data, tf.data.experimental.AutoShardPolicy.DATA)] == [0, 2, 4]


def test_a_global_batch_that_does_not_divide_is_refused(tmp_path):
  from resnet_v2.train import trainer as training  # pylint: disable=g-import-not-at-top

  class TwoReplicas:
    num_replicas_in_sync = 2

  arrays = sources.arrays_source(np.zeros([8, 8, 8, 3], np.uint8),
                                np.zeros([8], np.int64), ['a', 'b'])
  with pytest.raises(ValueError, match='global batch 5 does not divide by '
                     'the 2 replicas'):
    training.Trainer(arrays, None, str(tmp_path), training.TrainConfig(
        model='cifar_resnet_v1_8', global_batch_size=5),
                     strategy=TwoReplicas())


def image_folders(root, per_class=24, size=16):
  """Two classes of PNGs: which half of the image is bright."""
  rng = np.random.default_rng(0)
  for label, name in enumerate(['top', 'bottom']):
    os.makedirs(os.path.join(root, name))
    for index in range(per_class):
      image = rng.integers(0, 60, (size, size, 3))
      image[label * size // 2:(label + 1) * size // 2] += 150
      with open(os.path.join(root, name, '%d.png' % index), 'wb') as out:
        out.write(tf.io.encode_png(image.astype(np.uint8)).numpy())
  return root


def start_workers(data, model_dir, ports, logs, extra=()):
  """Starts one `resnet-v2 train --strategy multi-worker` per port."""
  cluster = {'worker': ['127.0.0.1:%d' % port for port in ports]}
  workers = []
  for index in range(len(ports)):
    env = dict(os.environ, TF_CONFIG=json.dumps({
        'cluster': cluster, 'task': {'type': 'worker', 'index': index}}),
               TMPDIR=str(logs))
    log = open(os.path.join(logs, 'worker%d.log' % index), 'ab')
    workers.append(subprocess.Popen(
        [sys.executable, '-m', 'resnet_v2.cli', 'train', '--strategy',
         'multi-worker', '--model', 'cifar_resnet_v1_8', '--image-size', '16',
         '--data', data, '--val-fraction', '0.25', '--model-dir', model_dir,
         '--epochs', '3', '--batch-size', '4', '--learning-rate', '0.05',
         '--no-augment', '--save-every', '2', '--resume'] + list(extra),
        env=env, stdout=log, stderr=subprocess.STDOUT))
  return workers


def wait_all(workers, logs, timeout=240):
  codes = [w.wait(timeout=timeout) for w in workers]
  assert codes == [0] * len(workers), [
      open(os.path.join(logs, name), errors='replace').read()[-3000:]
      for name in sorted(os.listdir(logs)) if name.endswith('.log')]


def checkpoint_step(model_dir):
  path = tf.train.latest_checkpoint(model_dir)
  return None if path is None else int(path.rsplit('-', 1)[1])


def test_two_workers_train_into_one_checkpoint_and_a_killed_one_rejoins(
    tmp_path):
  """Two workers on localhost train one run; one killed mid-run and the
  job restarted (as a cluster manager would) finishes it: the model dir is
  any run's."""
  import time  # pylint: disable=g-import-not-at-top
  data = image_folders(str(tmp_path / 'data'))
  logs = tmp_path / 'logs'
  logs.mkdir()
  model_dir = str(tmp_path / 'model')
  ports = free_ports(2)
  workers = start_workers(data, model_dir, ports, logs)
  deadline = time.time() + 180
  while (checkpoint_step(model_dir) or 0) < 4 and time.time() < deadline:
    assert all(w.poll() is None for w in workers)
    time.sleep(0.2)
  assert checkpoint_step(model_dir) >= 4
  workers[1].kill()
  workers[1].wait()
  # The chief's collectives fail without its peer; a cluster manager
  # restarts the job: here, whatever still runs after 60 s is stopped.
  try:
    workers[0].wait(timeout=60)
  except subprocess.TimeoutExpired:
    workers[0].kill()
    workers[0].wait()
  assert checkpoint_step(model_dir) < 12
  wait_all(start_workers(data, model_dir, ports, logs), logs)
  # 36 training images, global batch 8 (4 x 2 workers): 4 steps an epoch.
  assert checkpoint_step(model_dir) == 12
  names = dict(tf.train.list_variables(model_dir))
  assert names['cifar_resnet_v1_8/conv1/weights'] == [3, 3, 3, 16]
  history = json.loads((tmp_path / 'model' / 'history.json').read_text())
  assert [e['step'] for e in history['epochs']] == [4, 8, 12]
  assert history['workers'] == 2 and history['replicas'] == 2
  log = (logs / 'worker0.log').read_text()
  assert 'on 2 replica(s) in sync (2 worker(s)): global batch 8' in log
  assert 'resuming at epoch' in log
  # The other worker logged nothing of the run and left no temporary files.
  assert 'epoch 1/3' not in (logs / 'worker1.log').read_text()
  assert not [p for p in os.listdir(logs) if p.startswith('resnet_v2_')]
  # The later commands read the distributed run's model dir as any other.
  from resnet_v2 import cli  # pylint: disable=g-import-not-at-top
  assert cli.main(['eval', '--model-dir', model_dir, '--data', data,
                   '--output', str(tmp_path / 'report')]) == 0
  report = json.loads((tmp_path / 'report' / 'metrics.json').read_text())
  assert report['count'] == 48


def test_train_command_refuses_what_cannot_run_before_any_step(
    tmp_path, capsys, monkeypatch):
  from resnet_v2 import cli  # pylint: disable=g-import-not-at-top
  data = image_folders(str(tmp_path / 'data'), per_class=4)
  common = ['train', '--data', data, '--model', 'cifar_resnet_v1_8',
            '--image-size', '16', '--model-dir', str(tmp_path / 'model')]
  monkeypatch.delenv('TF_CONFIG', raising=False)
  assert cli.main(common + ['--strategy', 'multi-worker']) == 1
  assert 'multi-worker needs TF_CONFIG' in capsys.readouterr().err
  monkeypatch.setenv('TF_CONFIG', '{"cluster": {"worker": "a:1"}}')
  assert cli.main(common + ['--strategy', 'multi-worker']) == 1
  assert 'must be a list of "host:port"' in capsys.readouterr().err
  if len(tf.config.list_logical_devices()) < 2:
    assert cli.main(common + ['--strategy', 'mirrored']) == 1
    assert '--cpu-devices 2' in capsys.readouterr().err
  assert not os.path.exists(tmp_path / 'model')


def test_a_dead_chief_ends_the_surviving_worker_in_bounded_time(tmp_path):
  import time  # pylint: disable=g-import-not-at-top
  data = image_folders(str(tmp_path / 'data'))
  logs = tmp_path / 'logs'
  logs.mkdir()
  model_dir = str(tmp_path / 'model')
  workers = start_workers(data, model_dir, free_ports(2), logs,
                          extra=['--collective-timeout', '30'])
  deadline = time.time() + 180
  while (checkpoint_step(model_dir) or 0) < 2 and time.time() < deadline:
    assert all(w.poll() is None for w in workers)
    time.sleep(0.2)
  workers[0].kill()
  workers[0].wait()
  killed = time.time()
  code = workers[1].wait(timeout=120)
  assert code != 0
  assert time.time() - killed < 90
  log = (logs / 'worker1.log').read_text(errors='replace')
  assert 'resnet-v2 train: error:' in log


def test_workers_that_do_not_share_the_model_dir_are_refused(tmp_path):
  data = image_folders(str(tmp_path / 'data'))
  logs = tmp_path / 'logs'
  logs.mkdir()
  ports = free_ports(2)
  cluster = {'worker': ['127.0.0.1:%d' % port for port in ports]}
  workers = []
  for index in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps({
        'cluster': cluster, 'task': {'type': 'worker', 'index': index}}))
    log = open(logs / ('worker%d.log' % index), 'wb')
    # Each worker has its own folder: as if the volume were not shared.
    workers.append(subprocess.Popen(
        [sys.executable, '-m', 'resnet_v2.cli', 'train', '--strategy',
         'multi-worker', '--model', 'cifar_resnet_v1_8', '--image-size', '16',
         '--data', data, '--model-dir', str(tmp_path / ('model%d' % index)),
         '--epochs', '1', '--batch-size', '4', '--collective-timeout', '60'],
        env=env, stdout=log, stderr=subprocess.STDOUT))
  codes = [w.wait(timeout=240) for w in workers]
  assert codes == [1, 1]
  for index in range(2):
    log = (logs / ('worker%d.log' % index)).read_text(errors='replace')
    assert re.search(r"not seeing the chief's model dir \S+model%d: "
                     r"worker 1\. Every worker must write to the same "
                     r"folder" % index, log), log[-2000:]
  assert not [n for n in os.listdir(tmp_path / 'model0')
              if n.startswith('model.ckpt')]
