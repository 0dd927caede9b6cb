"""A training run for tests/test_training_faults.py, killed (SIGKILL, as a
lost machine or the OOM killer would) at a chosen point.

python tests/killed_training.py MODEL_DIR PLAN
  PLAN: 'none' (run to the end), 'time:SECONDS' (after the first step, at
  a moment that falls mid-step or mid-save), 'save:N' (the N-th checkpoint
  written but not yet in the index), 'index:N' (the N-th index rewrite,
  before its rename), 'best:N' (the N-th swap of best/, old best moved
  aside, new one not yet in place).
Always resumes (a fresh run when the model dir has no checkpoint).
"""

import os
import signal
import sys
import threading
import time

import numpy as np
import tensorflow as tf

from resnet_v2 import files
from resnet_v2 import model_dir
from resnet_v2.data import sources
from resnet_v2.train import trainer as training


def die():
  os.kill(os.getpid(), signal.SIGKILL)


def arm(plan):
  """Patches the library so the process kills itself at `plan`."""
  kind, _, value = plan.partition(':')
  count = [0]

  def nth():
    count[0] += 1
    return count[0] == int(value)
  if kind == 'save':
    add = model_dir.add_checkpoint

    def add_checkpoint(*args, **kwargs):
      if nth():
        die()
      return add(*args, **kwargs)
    model_dir.add_checkpoint = add_checkpoint
  elif kind in ('index', 'best'):
    replace = os.replace

    def patched(src, dst):
      if kind == 'index' and os.path.basename(dst) == 'checkpoint' and nth():
        die()
      result = replace(src, dst)
      if kind == 'best' and str(src).endswith(os.sep + 'best') and nth():
        die()          # old best moved aside, the new one not yet in
      return result
    os.replace = patched
    files.os.replace = patched
  return kind, value


def main(directory, plan):
  tf.config.experimental.enable_op_determinism()
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 2, 96)
  images = rng.integers(0, 60, (96, 16, 16, 3))
  for image, label in zip(images, labels):
    image[label * 8:(label + 1) * 8] += 150
  names = ['top', 'bottom']
  train = sources.arrays_source(images[:64].astype(np.uint8), labels[:64],
                               names, 'train')
  val = sources.arrays_source(images[64:].astype(np.uint8), labels[64:],
                             names, 'val')
  config = training.TrainConfig(
      model='cifar_resnet_v1_8', image_size=16, epochs=4, batch_size=16,
      learning_rate=0.05, save_every_steps=3, seed=3, log_every=1)
  trainer = training.Trainer(train, val, directory, config)
  kind, value = arm(plan)
  started = []

  def on_step(step):
    if not started:
      started.append(time.time())
      if kind == 'time':
        threading.Timer(float(value), die).start()
  trainer.train(resume=True, progress=False, log=lambda line: None,
                on_step=on_step)
  print('trained for %.3f s' % (time.time() - started[0] if started
                                else 0.0))


if __name__ == '__main__':
  main(*sys.argv[1:])
