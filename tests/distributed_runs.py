"""Runs for tests/test_distribute.py that need a fresh process (the CPU is
split into logical devices before TensorFlow starts).

python tests/distributed_runs.py compare OUTPUT.json
  Trains the same tiny net for a few steps on one device (global batch 8)
  and mirrored on two logical CPU devices (4 per replica), with and
  without synchronized batch norm, and writes the largest weight
  differences.
"""

import json
import sys
import tempfile

import numpy as np

from resnet_v2.train import distribute


def synthetic_arrays(count=64, size=16, seed=0):
  """Images whose label is which half is bright."""
  from resnet_v2.data import sources  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 2, count)
  images = rng.integers(0, 60, (count, size, size, 3))
  for image, label in zip(images, labels):
    image[label * size // 2:(label + 1) * size // 2] += 150
  return sources.arrays_source(images.astype(np.uint8), labels,
                              ['top', 'bottom'], 'train')


def trained_weights(strategy_name, sync, steps=4):
  from resnet_v2.train import trainer as training  # pylint: disable=g-import-not-at-top
  config = training.TrainConfig(
      model='cifar_resnet_v1_8', image_size=16, epochs=1, max_steps=steps,
      global_batch_size=8, learning_rate=0.1, augment=False,
      sync_batch_norm=sync, log_every=1)
  trainer = training.Trainer(
      synthetic_arrays(), None, tempfile.mkdtemp(), config,
      strategy=distribute.make_strategy(strategy_name))
  trainer.train(progress=False, log=lambda line: None)
  return {name: v.numpy() for name, v in trainer.model_variables.items()}


def compare(output):
  distribute.configure_cpu_devices(2)
  result = {}
  for sync in (True, False):
    one = trained_weights('one-device', sync)
    two = trained_weights('mirrored', sync)
    result['sync' if sync else 'per_replica'] = max(
        float(np.abs(one[name] - two[name]).max()) for name in one)
  with open(output, 'w') as handle:
    json.dump(result, handle)


if __name__ == '__main__':
  {'compare': compare}[sys.argv[1]](*sys.argv[2:])
