"""Training and fine-tuning any registered net on streamed data, resumably,
on one device, the devices of one host, or several hosts.

One `Trainer` runs a TF2 custom loop under a `tf.distribute` strategy
(`distribute.make_strategy`): the net is a `nets.module.ResNetModule` (variables
with TF-Slim names, mirrored on every replica), each step runs the net on
each replica's share of the global batch (`inputs.make_dataset`, sharded by
`distribute.shard_policy`), and the optimizer all-reduces the gradients.
It can start from a TF-Slim checkpoint (every variable not excluded
restored, every mismatch named at once), train only chosen scopes, and
keeps in the model dir: `model.json` (what later commands need),
checkpoints (TF-Slim names) every epoch and every N steps, the best one by
validation accuracy, `history.json`, and TensorBoard scalars.

Batches and the learning rate: the rate is for the batch given. With
`batch_size` (per replica) the global batch is batch_size x replicas and
the rate is scaled linearly with it (x replicas: Goyal et al., 2017; use
warmup_epochs with many replicas).
With `global_batch_size` the rate is used as it is.
Batch norm normalizes per replica unless `sync_batch_norm`.

Everything a resume needs is in the checkpoint: the step, the epoch and
the step it began at, the plateau state, the optimizer's slots; the
pipeline's order and augmentation are fixed by (seed, epoch), so a run
resumed from any checkpoint continues exactly as an uninterrupted one.
Only the chief writes the model dir (other workers save into temporary
folders, as every worker must take part in reading the variables); a
checkpoint is named in the 'checkpoint' index only after its files are
complete, so a kill loses at most the steps since the last one, and a
restarted job (every worker run again with `resume`) goes on from there.
"""

import dataclasses
import math
import os
import time

import numpy as np
import tensorflow as tf

from resnet_v2 import checkpoints
from resnet_v2 import files
from resnet_v2 import lock
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import progress as progress_lib
from resnet_v2 import runtime
from resnet_v2.data import inputs
from resnet_v2.data import sources
from resnet_v2.nets import module as tf2
from resnet_v2.nets import registry
from resnet_v2.train import checkpointing
from resnet_v2.train import distribute
from resnet_v2.train import steps as steps_lib
from resnet_v2.train import finetune
from resnet_v2.train.config import check_config
from resnet_v2.train.config import learning_rate_at
from resnet_v2.train.config import TrainConfig

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


class TrainingDiverged(ValueError):
  """A step's loss or gradients were not finite; the run stopped there."""


def _classes(train_source, val_source, config):
  """The classes a run trains: from the training data's names (after
  `labels_offset`) or `num_classes`; validation data relabelled to them.

  Returns:
    (train source, val source, class names or None, num_classes).

  Raises:
    ValueError: if the count is unknown or disagrees with the names.
  """
  train_source = sources.offset_class_names(train_source,
                                           config.labels_offset)
  class_names = train_source.class_names
  num_classes = config.num_classes or (len(class_names) if class_names
                                       else None)
  if not num_classes:
    raise ValueError('%s does not name its classes: give `num_classes`, '
                     'or put TF-Slim\'s labels.txt beside '
                     'the records.' % train_source.path)
  if class_names and len(class_names) != num_classes:
    if len(class_names) > num_classes:
      raise ValueError('%s names %d classes, but num_classes is %d.' % (
          train_source.path, len(class_names), num_classes))
    class_names = class_names + [str(i) for i in range(len(class_names),
                                                       num_classes)]
  if val_source is not None:
    val_source = sources.relabel(
        sources.offset_class_names(val_source, config.labels_offset),
        class_names, 'the training data %s' % train_source.path)
  return train_source, val_source, class_names, num_classes


class Trainer:
  """Trains a registered net on a source into a model dir.

  Args:
    train_source: A `sources.Source` with labels.
    val_source: A `sources.Source` for validation, or None.
    model_dir: Folder for model.json, checkpoints, history and events
      (shared by every worker of a multi-worker job).
    config: A `TrainConfig`.
    strategy: A `tf.distribute.Strategy` (`distribute.make_strategy`);
      default one device.

  Raises:
    ValueError: on a bad config, too little data, a global batch that does
      not divide by the replicas, a model dir of another run, or (when
      training starts) a checkpoint that does not fit.
  """

  def __init__(self, train_source, val_source, model_dir,
               config=TrainConfig(), strategy=None):
    check_config(config)
    self.spec = registry.get_spec(config.model)
    self.strategy = strategy or distribute.make_strategy('one-device')
    self.replicas = self.strategy.num_replicas_in_sync
    self.role = distribute.role(self.strategy)
    if config.global_batch_size:
      if config.global_batch_size % self.replicas:
        raise ValueError(
            'global batch %d does not divide by the %d replicas; use a '
            'multiple of %d, or give the per-replica `batch_size`.' % (
                config.global_batch_size, self.replicas, self.replicas))
      config = dataclasses.replace(
          config, batch_size=config.global_batch_size // self.replicas)
    self.config = config
    self.global_batch = config.batch_size * self.replicas
    self.rate_factor = 1 if config.global_batch_size else self.replicas
    files.check_not_input(model_dir, [
        s.path for s in (train_source, val_source) if s is not None and
        s.kind in ('folder', 'tfrecord', 'cifar10', 'idx')], holding=False)
    model_dir_lib.check_trainable_dir(model_dir)
    train_source, val_source, class_names, num_classes = _classes(
        train_source, val_source, config)
    self.train_source, self.val_source = train_source, val_source
    self.model_dir = model_dir
    self.image_size = config.image_size or self.spec.image_size
    self.num_classes = num_classes
    examples = inputs.count_examples(train_source)
    self.steps_per_epoch = examples // self.global_batch
    if not self.steps_per_epoch:
      raise ValueError('The global batch (%d = %d per replica x %d) is '
                       'larger than the %d training images; use a smaller '
                       '`batch_size`.' % (self.global_batch,
                                          config.batch_size, self.replicas,
                                          examples))
    self.total_steps = config.max_steps or (config.epochs *
                                            self.steps_per_epoch)
    runtime.enable_precision(config.precision)
    self.skipped = inputs.SkippedFiles()
    # The net computes what its starting weights were trained for.
    self.conventions = (model_dir_lib.checkpoint_conventions(
        config.checkpoint) if config.checkpoint else 'tf_slim')
    registry.check_conventions(config.model, self.conventions)
    self.record = self._record(class_names)
    with self.strategy.scope():
      self._build()

  def _record(self, class_names):
    """The model dir's record; reuses a resumed run's pixel mean."""
    pixel_mean = None
    path = os.path.join(self.model_dir, model_dir_lib.RECORD_NAME)
    existing = (model_dir_lib.read_record(self.model_dir)
                if os.path.exists(path) else None)
    record = model_dir_lib.Record(
        self.config.model, self.num_classes, class_names, self.image_size,
        self.spec.preprocessing, self.config.labels_offset,
        self.config.plain, None, conventions=self.conventions)
    if existing:
      model_dir_lib.check_same_run(existing, record, self.model_dir)
      pixel_mean = existing.pixel_mean
    elif self.spec.preprocessing == 'cifar':
      pixel_mean = inputs.pixel_mean(self.train_source, 'cifar',
                                     self.image_size).tolist()
    return record._replace(pixel_mean=pixel_mean)

  def _dataset(self, source, training, epoch=0, skip_batches=0):
    """The source's global batches, split over the replicas."""
    data = inputs.make_dataset(
        source, self.spec.preprocessing, self.image_size,
        self.global_batch, training=training,
        augment=training and self.config.augment,
        seed=self.config.seed, epoch=epoch, skipped=self.skipped,
        num_classes=self.num_classes, labels_offset=self.config.labels_offset,
        skip_batches=skip_batches, pixel_mean=self.record.pixel_mean,
        max_pixels=self.config.max_pixels)
    data = data.map(lambda images, labels, names: (images, labels))
    return distribute.distribute_dataset(
        self.strategy, data,
        distribute.shard_policy(source, self.role.num_workers))

  def _build(self):
    config = self.config
    tf.random.set_seed(config.seed)
    self.module = tf2.ResNetModule(
        config.model, self.num_classes, plain=config.plain,
        weight_decay=config.weight_decay,
        batch_norm_decay=config.batch_norm_decay,
        synchronized_batch_norm=config.sync_batch_norm,
        conventions=self.record.conventions)
    self.model_variables = self.module.variables_by_name
    self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False,
                                   name='global_step')

    def state(name, value, dtype):
      return tf.Variable(value, dtype=dtype, trainable=False,
                         name='train_state/' + name)
    self.epoch = state('epoch', 0, tf.int64)
    self.epoch_start = state('epoch_start_step', 0, tf.int64)
    self.rate_scale = state('rate_scale', 1.0, tf.float32)
    self.best_accuracy = state('best_accuracy', -1.0, tf.float32)
    self.stale_epochs = state('stale_epochs', 0, tf.int64)
    self.trained = self._trained_variables()

    def rate():
      return self.rate_scale * float(self.rate_factor) * learning_rate_at(
          self.global_step, config, self.steps_per_epoch, self.total_steps)
    self.learning_rate = tf.function(rate)
    self.steps = steps_lib.Steps(
        self.module, config, self.strategy, self.num_classes,
        self.global_batch, self.replicas, self.trained, rate,
        self.global_step)
    self.train_step, self.eval_step = (self.steps.train_step,
                                       self.steps.eval_step)

  def _trained_variables(self):
    named = self.module.trainable_variables_by_name
    variables = list(named.values())
    if self.config.trainable:
      variables = finetune.select_variables(self.config.trainable, variables)
    if self.config.freeze_batch_norm:
      variables = [v for v in variables if '/BatchNorm/' not in v.name]
    if not variables:
      raise ValueError('Nothing to train: the trainable patterns %s select '
                       'only batch-norm variables, which are frozen.' %
                       list(self.config.trainable))
    return variables

  def state_variables(self):
    """{checkpoint name: variable} of everything a resume needs."""
    names = {}
    names.update(self.model_variables)
    for variable in (self.global_step, self.epoch, self.epoch_start,
                     self.rate_scale, self.best_accuracy, self.stale_epochs):
      names[variable.name.split(':')[0]] = variable
    names.update(self.steps.optimizer_variables(self.model_variables))
    return names

  # -- evaluation -----------------------------------------------------------

  def evaluate(self, source=None):
    """{'top1', 'top5', 'loss', 'count'} of the net on source (default:
    validation), with the moving batch-norm statistics."""
    source = source or self.val_source
    totals = np.zeros(4)
    for batch in self._dataset(source, False):
      totals += [float(v) for v in self.eval_step(batch)]
    top1, top5, loss, count = totals
    if not count:
      raise ValueError('%s gave no readable image to evaluate.' %
                       source.path)
    return {'top1': top1 / count, 'top5': top5 / count, 'loss': loss / count,
            'count': int(count)}

  def layer_gradient_norms(self, count=256):
    """{conv weight name: |d(loss)/d(weight)|} on the first training images
    (in pipeline order, without augmentation), on one replica; the moving
    statistics are left as they are."""
    images, labels, _ = next(iter(inputs.make_dataset(
        self.train_source, self.spec.preprocessing, self.image_size, count,
        pixel_mean=self.record.pixel_mean)))
    return steps_lib.layer_gradient_norms(self.module, images, labels,
                                          self.num_classes)

  # -- checkpoints ----------------------------------------------------------

  def _save(self, step, epoch, epoch_start):
    """Saves every variable; every worker takes part, the chief's is kept."""
    self.epoch.assign(epoch)
    self.epoch_start.assign(epoch_start)
    checkpointing.save_step(self.state_variables(), self.model_dir,
                            self.role, step)

  def _start(self, resume):
    """Restores a resumed run or initializes a new one; returns history."""
    latest = model_dir_lib.latest_checkpoint(self.model_dir)
    fresh = checkpointing.new_history(dataclasses.asdict(self.config),
                                      self.replicas, self.role.num_workers)
    if latest and not resume:
      raise ValueError('%s already holds checkpoints; pass `resume` to '
                       'continue, or choose an empty `model_dir`.' %
                       self.model_dir)
    if not latest:
      if self.config.checkpoint:
        plan = checkpoints.restore_eager(
            list(self.model_variables.values()), self.config.checkpoint,
            exclude=self.config.exclude)
        fresh['restored_from'] = {'checkpoint': self.config.checkpoint,
                                  'variables': len(plan.assignments),
                                  'excluded': plan.excluded}
      if self.role.is_chief:
        model_dir_lib.write_record(self.model_dir, self.record)
      return fresh
    checkpoints.read_by_name(latest, self.state_variables())
    bad = [name for name, v in self.model_variables.items()
           if not bool(tf.reduce_all(tf.math.is_finite(v)))]
    if bad:
      raise TrainingDiverged(
          '%s holds non-finite weights (%d variables, e.g. %s): it was '
          'written by a diverged run. Delete it (and its line in %s) to '
          'resume from the one before.' % (
              latest, len(bad), bad[0], os.path.join(self.model_dir,
                                                     'checkpoint')))
    return checkpointing.resumed_history(
        self.model_dir, int(self.global_step.numpy()), fresh)

  # -- the loop -------------------------------------------------------------

  def train(self, resume=False, progress=True, log=print, on_step=None):
    """Trains until epochs or max_steps; returns the history dict.

    The chief holds the model dir's lock (`lock.Lock`) throughout and
    first removes what an interrupted run left half-written; every worker
    checks that it sees the chief's model dir.

    Args:
      resume: Continue from the latest checkpoint in model_dir (a new run
        if there is none).
      progress: Show a progress line on a terminal (chief only).
      log: Function for one line per epoch (chief only).
      on_step: Optional function(step) called after every step.

    Raises:
      lock.LockError: if another process writes the model dir.
      TrainingDiverged: at the first non-finite loss or gradient.
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
    history = self._start(resume)
    config = self.config
    step, epoch, epoch_start = (int(v.numpy()) for v in (
        self.global_step, self.epoch, self.epoch_start))
    log('training %s on %d replica(s) in sync (%d worker(s)): global batch '
        '%d, learning rate x%d' % (config.model, self.replicas,
                                   self.role.num_workers, self.global_batch,
                                   self.rate_factor))
    if resume and step:
      log('resuming at epoch %d (step %d)' % (epoch + 1, step))
    writer = (tf.summary.create_file_writer(self.model_dir)
              if self.role.is_chief else tf.summary.create_noop_writer())
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
      self._end_epoch(record, writer, history, log)
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
    iterator = iter(self._dataset(self.train_source, True, epoch,
                                  step - epoch_start))
    shown = progress_lib.Progress(self.steps_per_epoch, 'epoch %d/%d' % (
        epoch + 1, config.epochs)) if progress else None
    durations, losses, errors = [], [], []
    while step < self.total_steps and (step - epoch_start <
                                       self.steps_per_epoch):
      begin = time.perf_counter()
      try:
        images, labels = next(iterator)
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

  def _end_epoch(self, record, writer, history, log):
    """Validates, keeps best/, saves, and writes history and events."""
    step = record['step']
    if self.val_source is not None:
      metrics = self.evaluate()
      record.update(val_accuracy=metrics['top1'], val_top5=metrics['top5'],
                    val_loss=metrics['loss'])
      self._track_best(metrics['top1'], record, log)
      _scalars(writer, step, val_accuracy=metrics['top1'],
               val_top5=metrics['top5'], val_loss=metrics['loss'])
    _scalars(writer, step, learning_rate=record['learning_rate'])
    writer.flush()
    self._save(step, record['epoch'], step)
    history['epochs'].append(record)
    history['skipped_files'] = [list(item) for item in self.skipped.items()]
    self._log_skipped(log)
    if self.role.is_chief:
      files.write_json(os.path.join(self.model_dir,
                                    model_dir_lib.HISTORY_NAME), history)
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

  def _check_finite(self, step, loss, gradient_norm):
    """Stops the run at the first non-finite loss or gradient norm, before
    anything is saved: the checkpoints keep the last finite weights.

    Raises:
      TrainingDiverged: naming the step and the latest checkpoint.
    """
    # fp16's loss scaling skips non-finite gradients by design.
    if math.isfinite(loss) and (math.isfinite(gradient_norm) or
                                self.config.precision == 'fp16'):
      return
    latest = model_dir_lib.latest_checkpoint(self.model_dir)
    raise TrainingDiverged(
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
