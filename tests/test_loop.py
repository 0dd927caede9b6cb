"""train.loop: the epoch loop, driven through `RunParts` without a net (a
step that returns given losses, validation that returns given scores)."""

import contextlib
import dataclasses
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import errors
from resnet_v2.data import inputs
from resnet_v2.train import checkpointing
from resnet_v2.train import distribute
from resnet_v2.train import loop
from resnet_v2.train.config import TrainConfig

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)

BATCH, STEPS_PER_EPOCH = 2, 3


class FakeRun:
  """The parts of a run whose step, validation and saves are recorded.

  Args:
    model_dir: Where history.json goes.
    config: A `TrainConfig`.
    losses: The loss of each step, in order (then 1.0).
    accuracies: The validation top-1 of each epoch, in order; None: no
      validation data.
    total_steps: Default epochs x STEPS_PER_EPOCH.
  """

  def __init__(self, model_dir, config, losses=(), accuracies=None,
               total_steps=None):
    self.model_dir, self.config = model_dir, config
    self.losses, self.accuracies = list(losses), accuracies
    self.counters = checkpointing.Counters.create()
    self.skipped = inputs.SkippedFiles()
    self.batches, self.saves, self.evaluated_averaged = [], [], []
    self.averaging = False
    self.total_steps = total_steps or config.epochs * STEPS_PER_EPOCH

  def train_step(self, images, labels):
    step = len(self.batches)
    self.batches.append(int(images.numpy()[0]))
    self.counters.global_step.assign_add(1)
    loss = self.losses[step] if step < len(self.losses) else 1.0
    return tf.constant(loss), tf.constant(0.25), tf.constant(1.0)

  def training_batches(self, epoch, skip_batches):
    """Batch i of epoch e: BATCH copies of the number 100 e + i."""
    first = 100 * epoch + skip_batches
    images = np.arange(first, 100 * epoch + STEPS_PER_EPOCH, dtype=np.int64)
    return tf.data.Dataset.from_tensor_slices(
        (images[:, None].repeat(BATCH, 1), images[:, None].repeat(BATCH, 1)))

  def evaluate(self):
    self.evaluated_averaged.append(self.averaging)
    top1 = self.accuracies[len(self.evaluated_averaged) - 1]
    return {'top1': top1, 'top5': 1.0, 'loss': 1 - top1}

  @contextlib.contextmanager
  def averaged_weights(self):
    self.averaging = True
    try:
      yield
    finally:
      self.averaging = False

  def save(self, step, epoch, epoch_start):
    self.saves.append((step, epoch, epoch_start))

  def start(self, resume, log):
    return checkpointing.new_history(dataclasses.asdict(self.config), 1, 1)

  def parts(self):
    strategy = tf.distribute.get_strategy()
    return loop.RunParts(
        config=self.config, model_dir=self.model_dir, strategy=strategy,
        role=distribute.role(strategy), heading='the heading',
        global_batch=BATCH, steps_per_epoch=STEPS_PER_EPOCH,
        total_steps=self.total_steps, skipped=self.skipped,
        counters=self.counters,
        model_variables={'w': tf.Variable([1.0], name='w')},
        train_step=self.train_step, learning_rate=lambda: 0.5,
        training_batches=self.training_batches,
        validates=self.accuracies is not None, evaluate=self.evaluate,
        averaged_weights=self.averaged_weights, save=self.save,
        start=self.start)


def run(fake, **kwargs):
  lines = []
  history = loop.EpochLoop(fake.parts()).run(log=lines.append, **kwargs)
  return history, lines


def test_every_batch_is_stepped_once_and_each_epoch_is_one_record(tmp_path):
  config = TrainConfig(epochs=2, log_every=2)
  fake = FakeRun(str(tmp_path), config, losses=[3, 2, 1, 6, 5, 4],
                 accuracies=[0.5, 0.75])
  history, lines = run(fake)
  assert fake.batches == [0, 1, 2, 100, 101, 102]
  assert fake.saves == [(3, 1, 3), (6, 2, 6)]
  # Validation runs with the averaged weights, once per epoch.
  assert fake.evaluated_averaged == [True, True]
  epochs = history['epochs']
  assert [(e['epoch'], e['step'], e['train_loss'], e['val_accuracy'])
          for e in epochs] == [(1, 3, 2.0, 0.5), (2, 6, 5.0, 0.75)]
  assert all(e['wall_seconds'] >= e['seconds'] > 0 and
             e['wall_images_per_second'] > 0 for e in epochs)
  assert history['steps'] == [[2, 2.0, 0.25], [4, 6.0, 0.25],
                              [6, 4.0, 0.25]]
  with open(os.path.join(str(tmp_path), 'history.json')) as f:
    assert json.load(f)['epochs'] == epochs
  assert lines[0] == 'the heading'
  assert lines[1].startswith('epoch 1/2: loss 2.0000, train error 0.2500, '
                             'val accuracy 0.5000')


def test_best_is_kept_on_a_new_best_and_a_plateau_cuts_the_rate(tmp_path):
  config = TrainConfig(epochs=4, plateau_patience=2, plateau_factor=0.1)
  fake = FakeRun(str(tmp_path), config, accuracies=[0.5, 0.4, 0.4, 0.6])
  history, lines = run(fake)
  assert [e.get('best', False) for e in history['epochs']] == [
      True, False, False, True]
  assert float(fake.counters.best_accuracy.numpy()) == pytest.approx(0.6)
  assert float(fake.counters.rate_scale.numpy()) == pytest.approx(0.1)
  assert int(fake.counters.stale_epochs.numpy()) == 0
  assert sum('learning rate x0.1' in line for line in lines) == 1
  assert os.path.isdir(os.path.join(str(tmp_path), 'best'))


def test_max_steps_inside_an_epoch_saves_its_place(tmp_path):
  fake = FakeRun(str(tmp_path), TrainConfig(epochs=3), total_steps=4)
  history, _ = run(fake)
  assert fake.batches == [0, 1, 2, 100]
  assert fake.saves == [(3, 1, 3), (4, 1, 3)]
  assert [e['step'] for e in history['epochs']] == [3]


def test_a_resumed_epoch_skips_the_batches_it_trained(tmp_path):
  fake = FakeRun(str(tmp_path), TrainConfig(epochs=2))
  for variable, value in ((fake.counters.global_step, 4),
                          (fake.counters.epoch, 1),
                          (fake.counters.epoch_start, 3)):
    variable.assign(value)
  _, lines = run(fake, resume=True)
  assert fake.batches == [101, 102]
  assert fake.saves == [(6, 2, 6)]
  assert 'resuming at epoch 2 (step 4)' in lines


def test_a_non_finite_loss_stops_before_anything_is_saved(tmp_path):
  fake = FakeRun(str(tmp_path), TrainConfig(epochs=2),
                 losses=[1.0, math.nan])
  with pytest.raises(errors.TrainingDiverged, match='step 2: the loss is '
                     'nan.*latest checkpoint is none'):
    run(fake)
  assert fake.saves == []


def test_too_much_unreadable_data_stops_after_the_epochs_checkpoint(
    tmp_path):
  fake = FakeRun(str(tmp_path), TrainConfig(epochs=2, max_unreadable=0.1))
  for i in range(2):
    fake.skipped.add('bad_%d.jpg' % i, 'not an image')
  with pytest.raises(ValueError, match=r'2 of the 8 training items.*'
                     r'25\.0%.*history\.json'):
    run(fake)
  assert fake.saves == [(3, 1, 3)]
