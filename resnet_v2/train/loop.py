"""The epoch loop: steps, validation, best/, the plateau, checkpoints,
history and TensorBoard scalars.

`EpochLoop` drives one run through the explicit `RunParts` that
`trainer.Trainer` gives it: the run's size, its train-state variables
(`checkpointing.Counters`), and the functions that step, read data, evaluate and save. It builds no
net and reads nothing else of the Trainer.
"""

import dataclasses
import math
import os
import time
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from resnet_v2 import errors
from resnet_v2 import files
from resnet_v2 import lock
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2.data import inputs
from resnet_v2.train import checkpointing
from resnet_v2.train import distribute

# TensorBoard's scalar plugin, without importing tensorboard (TensorFlow
# writes the events; TensorBoard is only needed to look at them).
_SCALAR_METADATA = tf.compat.v1.SummaryMetadata(
    plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name='scalars'))


def _scalars(writer, step, **values):
  """Writes TensorBoard scalars."""
  with writer.as_default():
    for tag, value in values.items():
      tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step,
                       metadata=_SCALAR_METADATA)


@dataclasses.dataclass(frozen=True)
class RunParts:
  """What `EpochLoop` drives, given by the Trainer.

  Attributes:
    config, model_dir: The run's `TrainConfig`, and the folder it writes.
    strategy, role: The `tf.distribute` strategy and this worker's role.
    heading: The run's first line (net, replicas, batch, oneDNN).
    global_batch, steps_per_epoch, total_steps: The run's size.
    skipped: The `inputs.SkippedFiles` the pipeline fills.
    counters, model_variables: The `checkpointing.Counters`; the net's variables by
      TF-Slim name (for best/).
    train_step: fn(images, labels) -> (loss, error, gradient norm).
    learning_rate: fn() -> the rate now.
    training_batches: fn(epoch, skip_batches) -> the epoch's dataset.
    validates, evaluate: Whether there is validation data; fn() -> its
      `metrics.Tally.result()` with the weights the net holds.
    averaged_weights: fn() -> a context in which the net holds the weights
      best/ keeps (the average, with `ema`).
    save: fn(step, epoch, epoch_start) saves every variable; start:
      fn(resume, log) -> history restores or initializes the run.
  """
  config: Any
  model_dir: str
  strategy: Any
  role: Any
  heading: str
  global_batch: int
  steps_per_epoch: int
  total_steps: int
  skipped: Any
  counters: checkpointing.Counters
  model_variables: dict
  train_step: Callable
  learning_rate: Callable
  training_batches: Callable
  validates: bool
  evaluate: Callable
  averaged_weights: Callable
  save: Callable
  start: Callable


class EpochLoop:
  """Trains until epochs or max_steps, through the run's `RunParts`."""

  def __init__(self, parts):
    self.parts = parts
    self._logged_skipped = 0

  def run(self, resume=False, progress=None, log=print, on_step=None):
    """Trains until epochs or max_steps; returns the history dict.

    The chief holds the model dir's lock (`lock.Lock`) throughout and
    first removes what an interrupted run left half-written; every worker
    checks that it sees the chief's model dir.

    Args:
      resume: Continue from the latest checkpoint in model_dir (a new run
        if there is none).
      progress: None, or a callback `progress(steps, label)` returning an
        object whose `update(done, durations)` is called after every step
        (chief only; the command line passes a display).
      log: Function for one line per epoch (chief only).
      on_step: Optional function(step) called after every step.

    Raises:
      lock.LockError: if another process writes the model dir.
      errors.TrainingDiverged: at the first non-finite loss or gradient.
      ValueError: on an epoch without a batch, more unreadable data than
        `max_unreadable`, or a model dir that cannot be written.
    """
    parts = self.parts
    if not parts.role.is_chief:
      progress, log = False, lambda line: None
      distribute.check_shared_dir(parts.strategy, parts.role, parts.model_dir)
      return self._train(resume, progress, log, on_step)
    os.makedirs(parts.model_dir, exist_ok=True)
    with lock.Lock(parts.model_dir):
      distribute.check_shared_dir(parts.strategy, parts.role, parts.model_dir)
      removed = model_dir_lib.remove_leftovers(parts.model_dir)
      if removed:
        log('removed what an interrupted run left half-written: %s' %
            ', '.join(removed[:5]) + (' ...' if len(removed) > 5 else ''))
      return self._train(resume, progress, log, on_step)

  def _train(self, resume, progress, log, on_step):
    """The loop of `train`: epochs until epochs or max_steps."""
    parts = self.parts
    counters = parts.counters
    history = parts.start(resume, log)
    config = parts.config
    step, epoch, epoch_start = (int(v.numpy()) for v in (
        counters.global_step, counters.epoch, counters.epoch_start))
    log(parts.heading)
    if resume and step:
      log('resuming at epoch %d (step %d)' % (epoch + 1, step))
    writer = (tf.summary.create_file_writer(parts.model_dir)
              if parts.role.is_chief else tf.summary.create_noop_writer())
    # An epoch's wall clock runs from the end of the one before (for the
    # first, from here: restoring and the first step's tracing count).
    wall_start = time.time()
    while epoch < config.epochs and step < parts.total_steps:
      started = time.time()
      step, durations, losses, errors = self._run_epoch(
          step, epoch, epoch_start, writer, history, progress, on_step)
      if step >= parts.total_steps and (step - epoch_start <
                                        parts.steps_per_epoch):
        # max_steps reached inside the epoch: keep the place, for a resume
        # with more steps.
        parts.save(step, epoch, epoch_start)
        break
      if step == epoch_start:
        raise ValueError('Epoch %d produced no batch: every image was '
                         'unreadable or the data is smaller than a batch; '
                         'see the skipped files: %s' % (
                             epoch + 1, parts.skipped.items()[:5]))
      if step - epoch_start < parts.steps_per_epoch:
        log('note: epoch %d had %d of %d steps (%d unreadable files '
            'skipped so far)' % (epoch + 1, step - epoch_start,
                                 parts.steps_per_epoch, len(parts.skipped)))
      epoch, epoch_start = epoch + 1, step
      record = {'epoch': epoch, 'step': step,
                'train_loss': float(np.mean(losses)) if losses else None,
                'train_error': float(np.mean(errors)) if errors else None,
                'learning_rate': float(parts.learning_rate()),
                'seconds': time.time() - started,
                'images_per_second': (parts.global_batch * len(durations) /
                                      max(sum(durations), 1e-9))}
      self._end_epoch(record, writer, history, log, wall_start,
                      parts.global_batch * len(durations))
      wall_start = time.time()
    writer.close()
    if parts.skipped:
      log('skipped %d unreadable file(s); listed in %s' % (
          len(parts.skipped), model_dir_lib.HISTORY_NAME))
    return history

  def _run_epoch(self, step, epoch, epoch_start, writer, history, progress,
                 on_step):
    """Steps through (the rest of) one epoch, or to max_steps.

    Returns:
      (step reached, step durations, losses, errors).
    """
    parts = self.parts
    config = parts.config
    batches = inputs.iterate(parts.training_batches(epoch,
                                                    step - epoch_start))
    shown = progress(parts.steps_per_epoch, 'epoch %d/%d' % (
        epoch + 1, config.epochs)) if progress else None
    durations, losses, errors = [], [], []
    while step < parts.total_steps and (step - epoch_start <
                                        parts.steps_per_epoch):
      begin = time.perf_counter()
      try:
        images, labels = next(batches)
      except (StopIteration, tf.errors.OutOfRangeError):
        break
      loss, error, norm = (float(v) for v in parts.train_step(images, labels))
      durations.append(time.perf_counter() - begin)
      step += 1
      self._check_finite(step, loss, norm)
      losses.append(loss)
      errors.append(error)
      if not step % config.log_every:
        history['steps'].append([step, loss, error])
        recent = durations[-config.log_every:]
        _scalars(writer, step, loss=loss, train_error=error,
                 images_per_second=parts.global_batch * len(recent) /
                 max(sum(recent), 1e-9))
      if config.save_every_steps and not step % config.save_every_steps:
        parts.save(step, epoch, epoch_start)
      if shown:
        shown.update(step - epoch_start, durations)
      if on_step:
        on_step(step)
    return step, durations, losses, errors

  def _end_epoch(self, record, writer, history, log, wall_start, images):
    """Validates, keeps best/, saves, and writes history and events; the
    record's wall clock runs from wall_start to the history written, over
    the epoch's `images` trained in this process."""
    parts = self.parts
    step = record['step']
    if parts.validates:
      # best/ holds the weights validated: the average, with `ema`.
      with parts.averaged_weights():
        scores = parts.evaluate()
        record.update(val_accuracy=scores['top1'], val_top5=scores['top5'],
                      val_loss=scores['loss'])
        self._track_best(scores['top1'], record, log)
      _scalars(writer, step, val_accuracy=scores['top1'],
               val_top5=scores['top5'], val_loss=scores['loss'])
    _scalars(writer, step, learning_rate=record['learning_rate'])
    parts.save(step, record['epoch'], step)
    history['epochs'].append(record)
    history['skipped_files'] = [list(item) for item in parts.skipped.items()]
    self._log_skipped(log)
    self._check_unreadable(step)
    path = os.path.join(parts.model_dir, model_dir_lib.HISTORY_NAME)
    record['wall_seconds'] = time.time() - wall_start
    record['wall_images_per_second'] = images / max(record['wall_seconds'],
                                                    1e-9)
    try:
      writer.flush()
      if parts.role.is_chief:
        files.write_json(path, history)
    except (OSError, tf.errors.OpError) as error:
      raise ValueError(checkpointing.write_failure(
          '%s and the TensorBoard events' % path, parts.model_dir, error)
                       ) from None
    log(checkpointing.epoch_line(record, parts.config.epochs))

  def _log_skipped(self, log, most=10):
    """Names the files skipped since the last call (at most `most`)."""
    items = self.parts.skipped.items()
    new = items[self._logged_skipped:]
    self._logged_skipped = len(items)
    for name, reason in new[:most]:
      log('skipped %s: %s' % (name, reason))
    if len(new) > most:
      log('... and %d more skipped file(s), listed in %s' % (
          len(new) - most, model_dir_lib.HISTORY_NAME))

  def _check_unreadable(self, step):
    """Stops the run once more than `max_unreadable` of the training data
    met so far could not be read (the epoch's checkpoint is written).

    Raises:
      ValueError: naming the share, where the list is, and the fix.
    """
    parts = self.parts
    bad = len(parts.skipped)
    met = bad + step * parts.global_batch
    if bad and bad > parts.config.max_unreadable * met:
      raise ValueError(
          '%d of the %d training items met so far could not be read '
          '(%.1f%%, more than `max_unreadable`=%g): the data is damaged. '
          'They are listed in %s; replace or remove them and run again with '
          '`resume`.' % (bad, met, 100.0 * bad / met,
                         parts.config.max_unreadable,
                         os.path.join(parts.model_dir,
                                      model_dir_lib.HISTORY_NAME)))

  def _check_finite(self, step, loss, gradient_norm):
    """Stops the run at the first non-finite loss or gradient norm, before
    anything is saved: the checkpoints keep the last finite weights.

    Raises:
      errors.TrainingDiverged: naming the step and the latest checkpoint.
    """
    config, model_dir = self.parts.config, self.parts.model_dir
    # fp16's loss scaling skips non-finite gradients by design.
    if math.isfinite(loss) and (math.isfinite(gradient_norm) or
                                config.precision == 'fp16'):
      return
    latest = model_dir_lib.latest_checkpoint(model_dir)
    raise errors.TrainingDiverged(
        'step %d: the loss is %s and the gradient norm %s: training '
        'diverged and stopped; nothing of this step was saved (the latest '
        'checkpoint is %s). Lower the learning rate or add warmup, and '
        'resume or start again.' % (step, loss, gradient_norm,
                                    latest or 'none'))

  def _track_best(self, accuracy, record, log):
    """Saves best/ on a new best; scales the rate down on a plateau."""
    parts = self.parts
    counters = parts.counters
    best, stale = float(counters.best_accuracy.numpy()), int(
        counters.stale_epochs.numpy())
    if accuracy > best:
      counters.best_accuracy.assign(accuracy)
      counters.stale_epochs.assign(0)
      checkpointing.save_best(dict(parts.model_variables), parts.model_dir,
                              parts.role)
      record['best'] = True
      return
    stale += 1
    patience = parts.config.plateau_patience
    if patience and stale >= patience:
      counters.rate_scale.assign(float(counters.rate_scale.numpy()) *
                                 parts.config.plateau_factor)
      log('validation accuracy has not improved for %d epochs: learning '
          'rate x%g' % (stale, parts.config.plateau_factor))
      stale = 0
    counters.stale_epochs.assign(stale)
