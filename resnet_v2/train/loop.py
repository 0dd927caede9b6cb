"""The epoch loop of `trainer.Trainer`: steps, validation, best/, the
plateau, checkpoints, history and TensorBoard scalars.

`EpochLoop` is the Trainer's loop, kept apart from how the run is set up
(`trainer.py`); it uses the Trainer's attributes (config, strategy, role,
module, steps, datasets, the train-state variables).
"""

import math
import os
import time

import numpy as np
import tensorflow as tf

from resnet_v2 import errors
from resnet_v2 import files
from resnet_v2 import lock
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import runtime
from resnet_v2 import train as train_package
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


class EpochLoop:
  """Trains until epochs or max_steps (a mixin of `trainer.Trainer`)."""

  def train(self, resume=False, progress=None, log=print, on_step=None):
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
      ValueError: see the class.
    """
    if not self.role.is_chief:
      progress, log = False, lambda line: None
      distribute.check_shared_dir(self.strategy, self.role, self.model_dir)
      return self._train(resume, progress, log, on_step)
    os.makedirs(self.model_dir, exist_ok=True)
    with lock.Lock(self.model_dir):
      distribute.check_shared_dir(self.strategy, self.role, self.model_dir)
      removed = model_dir_lib.remove_leftovers(self.model_dir)
      if removed:
        log('removed what an interrupted run left half-written: %s' %
            ', '.join(removed[:5]) + (' ...' if len(removed) > 5 else ''))
      return self._train(resume, progress, log, on_step)

  def _train(self, resume, progress, log, on_step):
    """The loop of `train`: epochs until epochs or max_steps."""
    history = self._start(resume, log)
    config = self.config
    step, epoch, epoch_start = (int(v.numpy()) for v in (
        self.global_step, self.epoch, self.epoch_start))
    log('training %s on %d replica(s) in sync (%d worker(s)): global batch '
        '%d, learning rate x%d; oneDNN %s (%s)' % (
            config.model, self.replicas, self.role.num_workers,
            self.global_batch, self.rate_factor,
            'on' if runtime.onednn_enabled() else 'off',
            train_package.ONEDNN_CHOICE))
    if resume and step:
      log('resuming at epoch %d (step %d)' % (epoch + 1, step))
    writer = (tf.summary.create_file_writer(self.model_dir)
              if self.role.is_chief else tf.summary.create_noop_writer())
    # An epoch's wall clock runs from the end of the one before (for the
    # first, from here: restoring and the first step's tracing count).
    wall_start = time.time()
    while epoch < config.epochs and step < self.total_steps:
      started = time.time()
      step, durations, losses, errors = self._run_epoch(
          step, epoch, epoch_start, writer, history, progress, on_step)
      if step >= self.total_steps and (step - epoch_start <
                                       self.steps_per_epoch):
        # max_steps reached inside the epoch: keep the place, for a resume
        # with more steps.
        self._save(step, epoch, epoch_start)
        break
      if step == epoch_start:
        raise ValueError('Epoch %d produced no batch: every image was '
                         'unreadable or the data is smaller than a batch; '
                         'see the skipped files: %s' % (
                             epoch + 1, self.skipped.items()[:5]))
      if step - epoch_start < self.steps_per_epoch:
        log('note: epoch %d had %d of %d steps (%d unreadable files '
            'skipped so far)' % (epoch + 1, step - epoch_start,
                                 self.steps_per_epoch, len(self.skipped)))
      epoch, epoch_start = epoch + 1, step
      record = {'epoch': epoch, 'step': step,
                'train_loss': float(np.mean(losses)) if losses else None,
                'train_error': float(np.mean(errors)) if errors else None,
                'learning_rate': float(self.learning_rate()),
                'seconds': time.time() - started,
                'images_per_second': (self.global_batch * len(durations) /
                                      max(sum(durations), 1e-9))}
      self._end_epoch(record, writer, history, log, wall_start,
                      self.global_batch * len(durations))
      wall_start = time.time()
    writer.close()
    if self.skipped:
      log('skipped %d unreadable file(s); listed in %s' % (
          len(self.skipped), model_dir_lib.HISTORY_NAME))
    return history

  def _run_epoch(self, step, epoch, epoch_start, writer, history, progress,
                 on_step):
    """Steps through (the rest of) one epoch, or to max_steps.

    Returns:
      (step reached, step durations, losses, errors).
    """
    config = self.config
    batches = inputs.iterate(self._dataset(self.train_source, True, epoch,
                                           step - epoch_start))
    shown = progress(self.steps_per_epoch, 'epoch %d/%d' % (
        epoch + 1, config.epochs)) if progress else None
    durations, losses, errors = [], [], []
    while step < self.total_steps and (step - epoch_start <
                                       self.steps_per_epoch):
      begin = time.perf_counter()
      try:
        images, labels = next(batches)
      except (StopIteration, tf.errors.OutOfRangeError):
        break
      loss, error, norm = (float(v) for v in self.train_step(images, labels))
      durations.append(time.perf_counter() - begin)
      step += 1
      self._check_finite(step, loss, norm)
      losses.append(loss)
      errors.append(error)
      if not step % config.log_every:
        history['steps'].append([step, loss, error])
        recent = durations[-config.log_every:]
        _scalars(writer, step, loss=loss, train_error=error,
                 images_per_second=self.global_batch * len(recent) /
                 max(sum(recent), 1e-9))
      if config.save_every_steps and not step % config.save_every_steps:
        self._save(step, epoch, epoch_start)
      if shown:
        shown.update(step - epoch_start, durations)
      if on_step:
        on_step(step)
    return step, durations, losses, errors

  def _end_epoch(self, record, writer, history, log, wall_start, images):
    """Validates, keeps best/, saves, and writes history and events; the
    record's wall clock runs from wall_start to the history written, over
    the epoch's `images` trained in this process."""
    step = record['step']
    if self.val_source is not None:
      # best/ holds the weights validated: the average, with `ema`.
      with self.averaged_weights():
        scores = self._evaluate()
        record.update(val_accuracy=scores['top1'], val_top5=scores['top5'],
                      val_loss=scores['loss'])
        self._track_best(scores['top1'], record, log)
      _scalars(writer, step, val_accuracy=scores['top1'],
               val_top5=scores['top5'], val_loss=scores['loss'])
    _scalars(writer, step, learning_rate=record['learning_rate'])
    self._save(step, record['epoch'], step)
    history['epochs'].append(record)
    history['skipped_files'] = [list(item) for item in self.skipped.items()]
    self._log_skipped(log)
    self._check_unreadable(step)
    path = os.path.join(self.model_dir, model_dir_lib.HISTORY_NAME)
    record['wall_seconds'] = time.time() - wall_start
    record['wall_images_per_second'] = images / max(record['wall_seconds'],
                                                    1e-9)
    try:
      writer.flush()
      if self.role.is_chief:
        files.write_json(path, history)
    except (OSError, tf.errors.OpError) as error:
      raise ValueError(checkpointing.write_failure(
          '%s and the TensorBoard events' % path, self.model_dir, error)
                       ) from None
    log(checkpointing.epoch_line(record, self.config.epochs))

  def _log_skipped(self, log, most=10):
    """Names the files skipped since the last call (at most `most`)."""
    items = self.skipped.items()
    new = items[getattr(self, '_logged_skipped', 0):]
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
    bad = len(self.skipped)
    met = bad + step * self.global_batch
    if bad and bad > self.config.max_unreadable * met:
      raise ValueError(
          '%d of the %d training items met so far could not be read '
          '(%.1f%%, more than `max_unreadable`=%g): the data is damaged. '
          'They are listed in %s; replace or remove them and run again with '
          '`resume`.' % (bad, met, 100.0 * bad / met,
                         self.config.max_unreadable,
                         os.path.join(self.model_dir,
                                      model_dir_lib.HISTORY_NAME)))

  def _check_finite(self, step, loss, gradient_norm):
    """Stops the run at the first non-finite loss or gradient norm, before
    anything is saved: the checkpoints keep the last finite weights.

    Raises:
      errors.TrainingDiverged: naming the step and the latest checkpoint.
    """
    # fp16's loss scaling skips non-finite gradients by design.
    if math.isfinite(loss) and (math.isfinite(gradient_norm) or
                                self.config.precision == 'fp16'):
      return
    latest = model_dir_lib.latest_checkpoint(self.model_dir)
    raise errors.TrainingDiverged(
        'step %d: the loss is %s and the gradient norm %s: training '
        'diverged and stopped; nothing of this step was saved (the latest '
        'checkpoint is %s). Lower the learning rate or add warmup, and '
        'resume or start again.' % (step, loss, gradient_norm,
                                    latest or 'none'))

  def _track_best(self, accuracy, record, log):
    """Saves best/ on a new best; scales the rate down on a plateau."""
    best, stale = float(self.best_accuracy.numpy()), int(
        self.stale_epochs.numpy())
    if accuracy > best:
      self.best_accuracy.assign(accuracy)
      self.stale_epochs.assign(0)
      checkpointing.save_best(dict(self.model_variables), self.model_dir,
                              self.role)
      record['best'] = True
      return
    stale += 1
    patience = self.config.plateau_patience
    if patience and stale >= patience:
      self.rate_scale.assign(float(self.rate_scale.numpy()) *
                             self.config.plateau_factor)
      log('validation accuracy has not improved for %d epochs: learning '
          'rate x%g' % (stale, self.config.plateau_factor))
      stale = 0
    self.stale_epochs.assign(stale)
