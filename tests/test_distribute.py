"""tf.distribute: strategies, TF_CONFIG, sharding, and the same training on
two replicas, two worker processes, and after a killed worker."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import distribute
from resnet_v2 import inputs

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
    with pytest.raises(ValueError, match='--cpu-devices 2'):
      distribute.make_strategy('mirrored')
  strategy = distribute.make_strategy('one-device')
  assert strategy.num_replicas_in_sync == 1
  assert distribute.role(strategy) == ('worker', 0, True, 1)


def test_shard_policy_by_file_for_tfrecords_else_by_element():
  policy = tf.data.experimental.AutoShardPolicy
  records = inputs.Source('tfrecord', 'x', ['a', 'b', 'c'], None, None)
  assert distribute.shard_policy(records, 2) == policy.FILE
  assert distribute.shard_policy(records, 4) == policy.DATA
  assert distribute.shard_policy(records, 1) == policy.DATA
  arrays = inputs.arrays_source(np.zeros([4, 8, 8, 3], np.uint8),
                                np.zeros([4], np.int64), ['a'])
  assert distribute.shard_policy(arrays, 2) == policy.DATA


def test_a_global_batch_that_does_not_divide_is_refused(tmp_path):
  from resnet_v2 import training  # pylint: disable=g-import-not-at-top

  class TwoReplicas:
    num_replicas_in_sync = 2

  arrays = inputs.arrays_source(np.zeros([8, 8, 8, 3], np.uint8),
                                np.zeros([8], np.int64), ['a', 'b'])
  with pytest.raises(ValueError, match='global batch 5 does not divide by '
                     'the 2 replicas'):
    training.Trainer(arrays, None, str(tmp_path), training.TrainConfig(
        model='cifar_resnet_v1_8', global_batch_size=5),
                     strategy=TwoReplicas())
