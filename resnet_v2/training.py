"""Training and fine-tuning any registered net on streamed data, resumably.

One `Trainer` owns a graph with the training net (batch statistics and
their updates, unless batch norm is frozen) and an evaluation net sharing
its variables, both fed by the input pipeline (`inputs.make_dataset`). It
can start from a TF-Slim checkpoint (every variable not excluded restored,
every mismatch named at once), train only chosen scopes, and keeps in the
model dir: `model.json` (what later commands need), checkpoints every epoch
and every N steps, the best one by validation accuracy, `history.json`, and
TensorBoard scalars.

Everything a resume needs is in the checkpoint: the step, the epoch and
the step it began at, the plateau state; the pipeline's order and
augmentation are fixed by (seed, epoch), so a run resumed from any
checkpoint continues exactly as an uninterrupted one. TensorFlow names a
checkpoint in its 'checkpoint' index only after its files are complete, so
a kill loses at most the steps since the last one.
"""

import collections
import json
import math
import os
import shutil
import tempfile
import time

import numpy as np
import tensorflow as tf

from resnet_v2 import checkpoints
from resnet_v2 import evaluation
from resnet_v2 import files
from resnet_v2 import finetune
from resnet_v2 import inputs
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import registry
from resnet_v2 import runtime
from resnet_v2 import timing

TrainConfig = collections.namedtuple('TrainConfig', [
    'model', 'image_size', 'epochs', 'max_steps', 'batch_size', 'optimizer',
    'learning_rate', 'schedule', 'warmup_epochs', 'label_smoothing',
    'weight_decay', 'batch_norm_decay', 'freeze_batch_norm', 'plain',
    'checkpoint', 'exclude', 'trainable', 'augment', 'seed', 'log_every',
    'save_every_steps', 'plateau_patience', 'plateau_factor', 'precision',
    'labels_offset', 'num_classes'])
TrainConfig.__new__.__defaults__ = (
    'cifar_resnet_v1_20', None, 10, None, 128, 'momentum', None, 'step', 0.0,
    0.0, 1e-4, 0.9, False, False, None, (), (), True, 0, 10, 0, 0, 0.1,
    'fp32', 0, None)
TrainConfig.__doc__ = """What to train and how.

model: a registry name; image_size: default the net's.
epochs, max_steps: stop after this many epochs, or steps if set (first).
optimizer: 'momentum' (0.9) or 'adam'. learning_rate: the base rate
  (default 0.1 momentum, 1e-3 adam).
schedule: 'step' (momentum: /10 at 50% and 75% of the epochs, the papers';
  adam: x0.1, x0.01, x0.001, x0.0005 at 40/60/80/90%, the Keras CIFAR-10
  example's), 'cosine' or 'constant'; warmup_epochs of linear warmup first.
label_smoothing, weight_decay, batch_norm_decay: as the names say.
freeze_batch_norm: moving statistics and fixed beta/gamma throughout.
plain: no shortcuts (nets that have the option).
checkpoint: TF-Slim checkpoint to start from; exclude: fnmatch patterns of
  variables not to restore (e.g. '*/logits/*' for a new head); trainable:
  patterns of the variables to train (default all).
augment: training augmentation of the net's preprocessing.
log_every: steps between history/TensorBoard points; save_every_steps: a
  checkpoint every N steps too (0: per epoch only).
plateau_patience, plateau_factor: multiply the rate by factor after that
  many epochs without a better validation accuracy (0: off).
precision: 'fp32' or 'bf16' (oneDNN auto mixed precision).
labels_offset: subtracted from TFRecord labels. num_classes: for sources
  without class names (TFRecords).
"""

OPTIMIZERS = ('momentum', 'adam')
SCHEDULES = ('step', 'cosine', 'constant')


def step_schedule(optimizer, epochs, learning_rate=None):
  """Returns (boundaries in epochs, learning rates) of a step schedule."""
  if optimizer == 'momentum':
    fractions, base, factors = (0.5, 0.75), 0.1, (1, 0.1, 0.01)
  elif optimizer == 'adam':
    fractions, base, factors = (0.4, 0.6, 0.8, 0.9), 1e-3, (
        1, 0.1, 0.01, 0.001, 0.0005)
  else:
    raise ValueError('optimizer must be one of %s, got %r.' %
                     (OPTIMIZERS, optimizer))
  base = learning_rate or base
  return ([max(1, int(round(f * epochs))) for f in fractions],
          [base * f for f in factors])


def learning_rate_at(step, config, steps_per_epoch, total_steps):
  """The schedule's rate at `step` (a tensor), before plateau scaling."""
  boundaries, rates = step_schedule(config.optimizer, config.epochs,
                                    config.learning_rate)
  step = tf.cast(step, tf.float32)
  if config.schedule == 'step':
    rate = tf.compat.v1.train.piecewise_constant(
        step, [float(b * steps_per_epoch) for b in boundaries], rates)
  elif config.schedule == 'cosine':
    rate = rates[0] * 0.5 * (1 + tf.cos(math.pi * tf.minimum(
        step / float(max(total_steps, 1)), 1.0)))
  else:
    rate = tf.constant(rates[0])
  warmup = config.warmup_epochs * steps_per_epoch
  if warmup > 0:
    rate = rate * tf.minimum(1.0, (step + 1) / float(warmup))
  return rate


def check_config(config):
  """Raises ValueError on settings that cannot train, naming the fix."""
  registry.get_spec(config.model)
  for name, allowed in (('optimizer', OPTIMIZERS), ('schedule', SCHEDULES),
                        ('precision', ('fp32', 'bf16'))):
    if getattr(config, name) not in allowed:
      raise ValueError('%s must be one of %s, got %r.' %
                       (name, allowed, getattr(config, name)))
  if config.epochs < 1 or config.batch_size < 1:
    raise ValueError('epochs and batch_size must be >= 1.')
  if config.max_steps is not None and config.max_steps < 1:
    raise ValueError('max_steps must be >= 1, got %r.' % config.max_steps)
  if not 0 <= config.label_smoothing < 1:
    raise ValueError('label_smoothing must be in [0, 1), got %r.' %
                     config.label_smoothing)


def _scalars(writer, step, **values):
  """Writes TensorBoard scalars (no graph ops: values known in Python)."""
  writer.add_summary(tf.compat.v1.Summary(value=[
      tf.compat.v1.Summary.Value(tag=tag, simple_value=float(value))
      for tag, value in values.items()]), step)


class Trainer:
  """Trains a registered net on a source into a model dir.

  Args:
    train_source: An `inputs.Source` with labels.
    val_source: An `inputs.Source` for validation, or None.
    model_dir: Folder for model.json, checkpoints, history and events.
    config: A `TrainConfig`.

  Raises:
    ValueError: on a bad config, too little data, a model dir of another
      run, or (when training starts) a checkpoint that does not fit.
  """

  def __init__(self, train_source, val_source, model_dir,
               config=TrainConfig()):
    check_config(config)
    self.spec = registry.get_spec(config.model)
    self.config = config
    self.train_source, self.val_source = train_source, val_source
    self.model_dir = model_dir
    self.image_size = config.image_size or self.spec.image_size
    class_names = train_source.class_names
    num_classes = config.num_classes or (len(class_names) if class_names
                                         else None)
    if not num_classes:
      raise ValueError('%s does not name its classes: give num_classes '
                       '(--num-classes).' % train_source.path)
    self.num_classes = num_classes
    examples = inputs.count_examples(train_source)
    self.steps_per_epoch = examples // config.batch_size
    if not self.steps_per_epoch:
      raise ValueError('batch_size %d is larger than the %d training images; '
                       'use a smaller --batch-size.' % (config.batch_size,
                                                        examples))
    self.total_steps = config.max_steps or (config.epochs *
                                            self.steps_per_epoch)
    self.skipped = inputs.SkippedFiles()
    self.record = self._record(class_names)
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
        self.config.plain, None)
    if existing:
      model_dir_lib.check_same_run(existing, record, self.model_dir)
      pixel_mean = existing.pixel_mean
    elif self.spec.preprocessing == 'cifar':
      pixel_mean = inputs.pixel_mean(self.train_source, 'cifar',
                                     self.image_size).tolist()
    return record._replace(pixel_mean=pixel_mean)

  def _dataset(self, source, training, epoch=0, skip_batches=0):
    return inputs.make_dataset(
        source, self.spec.preprocessing, self.image_size,
        self.config.batch_size, training=training,
        augment=training and self.config.augment,
        seed=self.config.seed, epoch=epoch, skipped=self.skipped,
        num_classes=self.num_classes, labels_offset=self.config.labels_offset,
        skip_batches=skip_batches, pixel_mean=self.record.pixel_mean)

  def _build(self):
    config = self.config
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.compat.v1.set_random_seed(config.seed)
      self.iterator = evaluation.make_iterator(self.image_size)
      self.images, self.labels, _ = self.iterator.get_next()
      net_args = dict(num_classes=self.num_classes,
                      weight_decay=config.weight_decay, plain=config.plain,
                      batch_norm_decay=config.batch_norm_decay)
      logits, _ = registry.get_network_fn(
          config.model, is_training=not config.freeze_batch_norm,
          **net_args)(self.images)
      self.eval_iterator = evaluation.make_iterator(self.image_size)
      eval_images, eval_labels, _ = self.eval_iterator.get_next()
      eval_logits, _ = registry.get_network_fn(config.model, **net_args)(
          eval_images, reuse=True)
      self.evaluator = evaluation.Evaluator(
          self.graph, self.eval_iterator, eval_labels, eval_logits)
      self.model_variables = tf.compat.v1.model_variables()
      self.loss = tf.compat.v1.losses.softmax_cross_entropy(
          tf.one_hot(self.labels, self.num_classes), logits,
          label_smoothing=config.label_smoothing)
      total_loss = self.loss + tf.add_n(
          tf.compat.v1.losses.get_regularization_losses() or [0.0])
      self.error = 1.0 - tf.reduce_mean(tf.cast(
          tf.equal(tf.argmax(logits, -1), self.labels), tf.float32))
      self.global_step = tf.compat.v1.train.get_or_create_global_step()
      with tf.compat.v1.variable_scope('train_state'):
        def state(name, value, dtype):
          return tf.compat.v1.get_variable(
              name, initializer=tf.constant(value, dtype), trainable=False)
        self.epoch = state('epoch', 0, tf.int64)
        self.epoch_start = state('epoch_start_step', 0, tf.int64)
        self.rate_scale = state('rate_scale', 1.0, tf.float32)
        self.best_accuracy = state('best_accuracy', -1.0, tf.float32)
        self.stale_epochs = state('stale_epochs', 0, tf.int64)
      self.learning_rate = self.rate_scale * learning_rate_at(
          self.global_step, config, self.steps_per_epoch, self.total_steps)
      if config.optimizer == 'momentum':
        optimizer = tf.compat.v1.train.MomentumOptimizer(
            self.learning_rate, 0.9)
      else:
        optimizer = tf.compat.v1.train.AdamOptimizer(self.learning_rate)
      self.trained = self._trained_variables()
      weights = [v for v in self.trained if v.op.name.endswith('/weights')]
      self.gradient_norms = {
          v.op.name: tf.norm(g) for v, g in zip(
              weights, tf.gradients(self.loss, weights)) if g is not None}
      updates = ([] if config.freeze_batch_norm else
                 tf.compat.v1.get_collection(
                     tf.compat.v1.GraphKeys.UPDATE_OPS))
      with tf.control_dependencies(updates):
        self.train_op = optimizer.minimize(total_loss, self.global_step,
                                           var_list=self.trained)
      self.saver = tf.compat.v1.train.Saver(max_to_keep=3)
      init = tf.compat.v1.global_variables_initializer()
    config_proto = runtime.session_config(config.precision)
    self.session = tf.compat.v1.Session(graph=self.graph, config=config_proto)
    self.session.run(init)

  def _trained_variables(self):
    variables = tf.compat.v1.trainable_variables()
    if self.config.trainable:
      variables = finetune.select_variables(self.config.trainable, variables)
    if self.config.freeze_batch_norm:
      variables = [v for v in variables if '/BatchNorm/' not in v.op.name]
    if not variables:
      raise ValueError('Nothing to train: the trainable patterns %s select '
                       'only batch-norm variables, which are frozen.' %
                       list(self.config.trainable))
    return variables

  def _start(self, resume):
    """Restores a resumed run or initializes a new one; returns history."""
    latest = model_dir_lib.latest_checkpoint(self.model_dir)
    history_path = os.path.join(self.model_dir, model_dir_lib.HISTORY_NAME)
    fresh = {'config': self.config._asdict(), 'steps': [], 'epochs': [],
             'skipped_files': []}
    if latest and not resume:
      raise ValueError('%s already holds checkpoints; pass --resume to '
                       'continue, or choose an empty --model-dir.' %
                       self.model_dir)
    if not latest:
      if self.config.checkpoint:
        plan = checkpoints.restore(self.session, self.config.checkpoint,
                                   variables=self.model_variables,
                                   exclude=self.config.exclude)
        fresh['restored_from'] = {'checkpoint': self.config.checkpoint,
                                  'variables': len(plan.assignments),
                                  'excluded': plan.excluded}
      model_dir_lib.write_record(self.model_dir, self.record)
      return fresh
    self.saver.restore(self.session, latest)
    step = self.session.run(self.global_step)
    if os.path.exists(history_path):
      with open(history_path) as handle:
        history = json.load(handle)
      history['steps'] = [s for s in history['steps'] if s[0] <= step]
      history['epochs'] = [e for e in history['epochs'] if e['step'] <= step]
      return history
    return fresh

  def evaluate(self, source=None):
    """Metrics of the evaluation net on source (default: validation)."""
    source = source or self.val_source
    with self.graph.as_default():
      result = self.evaluator.run(self.session, self._dataset(source, False),
                                  self.record.class_names)
    result.pop('confusion')
    return result

  def layer_gradient_norms(self, count=256):
    """{conv weight name: |d(loss)/d(weight)|} on the first training images
    (in pipeline order, without augmentation)."""
    with self.graph.as_default():
      data = inputs.make_dataset(
          self.train_source, self.spec.preprocessing, self.image_size, count,
          pixel_mean=self.record.pixel_mean).take(1)
      self.session.run(self.iterator.make_initializer(data))
    return self.session.run(self.gradient_norms)

  def _save(self, step, epoch, epoch_start):
    self.epoch.load(epoch, self.session)
    self.epoch_start.load(epoch_start, self.session)
    self.saver.save(self.session, os.path.join(
        self.model_dir, model_dir_lib.CHECKPOINT_NAME), global_step=step)

  def _save_best(self):
    """Writes best/ whole: into a temporary folder renamed over it."""
    temp = tempfile.mkdtemp(dir=self.model_dir, prefix='.best_')
    try:
      saver = tf.compat.v1.train.Saver(self.model_variables)
      saver.save(self.session, os.path.join(
          temp, model_dir_lib.CHECKPOINT_NAME), write_state=False)
      best = os.path.join(self.model_dir, model_dir_lib.BEST_DIR)
      if os.path.exists(best):
        old = best + '.old'
        os.replace(best, old)
        os.replace(temp, best)
        shutil.rmtree(old)
      else:
        os.replace(temp, best)
    except BaseException:
      shutil.rmtree(temp, ignore_errors=True)
      raise

  def train(self, resume=False, progress=True, log=print, on_step=None):
    """Trains until epochs or max_steps; returns the history dict.

    Args:
      resume: Continue from the latest checkpoint in model_dir.
      progress: Show a progress line on a terminal.
      log: Function for one line per epoch.
      on_step: Optional function(step) called after every step.
    """
    # Savers and summary writers work on the default graph.
    with self.graph.as_default():
      return self._train(resume, progress, log, on_step)

  def _train(self, resume, progress, log, on_step):
    os.makedirs(self.model_dir, exist_ok=True)
    history = self._start(resume)
    config = self.config
    step, epoch, epoch_start = (int(v) for v in self.session.run(
        [self.global_step, self.epoch, self.epoch_start]))
    if resume and step:
      log('resuming at epoch %d (step %d)' % (epoch + 1, step))
    writer = tf.compat.v1.summary.FileWriter(self.model_dir)
    while epoch < config.epochs and step < self.total_steps:
      skip = step - epoch_start
      self.session.run(self.iterator.make_initializer(
          self._dataset(self.train_source, True, epoch, skip)))
      shown = timing.Progress(self.steps_per_epoch, 'epoch %d/%d' % (
          epoch + 1, config.epochs)) if progress else None
      started, durations, losses, errors = time.time(), [], [], []
      while step < self.total_steps:
        begin = time.perf_counter()
        try:
          _, loss, error = self.session.run(
              [self.train_op, self.loss, self.error])
        except tf.errors.OutOfRangeError:
          break
        durations.append(time.perf_counter() - begin)
        step += 1
        losses.append(float(loss))
        errors.append(float(error))
        if not step % config.log_every:
          history['steps'].append([step, float(loss), float(error)])
          recent = durations[-config.log_every:]
          _scalars(writer, step, loss=loss, train_error=error,
                   images_per_second=config.batch_size * len(recent) /
                   max(sum(recent), 1e-9))
        if config.save_every_steps and not step % config.save_every_steps:
          self._save(step, epoch, epoch_start)
        if shown:
          shown.update(step - epoch_start, durations)
        if on_step:
          on_step(step)
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
      epoch += 1
      epoch_start = step
      record = {'epoch': epoch, 'step': step,
                'train_loss': float(np.mean(losses)) if losses else None,
                'train_error': float(np.mean(errors)) if errors else None,
                'learning_rate': float(self.session.run(self.learning_rate)),
                'seconds': time.time() - started,
                'images_per_second': (config.batch_size * len(durations) /
                                      max(sum(durations), 1e-9))}
      if self.val_source is not None:
        metrics = self.evaluate()
        record.update(val_accuracy=metrics['top1'], val_top5=metrics['top5'],
                      val_loss=metrics['loss'])
        self._track_best(metrics['top1'], record, log)
        _scalars(writer, step, val_accuracy=metrics['top1'],
                 val_top5=metrics['top5'], val_loss=metrics['loss'])
      _scalars(writer, step, learning_rate=record['learning_rate'])
      writer.flush()
      self._save(step, epoch, epoch_start)
      history['epochs'].append(record)
      history['skipped_files'] = [list(item) for item in self.skipped.items()]
      files.write_json(os.path.join(self.model_dir,
                                    model_dir_lib.HISTORY_NAME), history)
      log('epoch %d/%d: loss %.4f, train error %.4f%s, %.1f images/s '
          '(%.0f s)' % (epoch, config.epochs, record['train_loss'] or 0,
                        record['train_error'] or 0,
                        ', val accuracy %.4f' % record['val_accuracy']
                        if 'val_accuracy' in record else '',
                        record['images_per_second'], record['seconds']))
    writer.close()
    if self.skipped:
      log('skipped %d unreadable file(s); listed in %s' % (
          len(self.skipped), model_dir_lib.HISTORY_NAME))
    return history

  def _track_best(self, accuracy, record, log):
    """Saves best/ on a new best; scales the rate down on a plateau."""
    best, stale = self.session.run([self.best_accuracy, self.stale_epochs])
    if accuracy > best:
      self.best_accuracy.load(accuracy, self.session)
      self.stale_epochs.load(0, self.session)
      self._save_best()
      record['best'] = True
      return
    stale += 1
    patience = self.config.plateau_patience
    if patience and stale >= patience:
      scale = self.session.run(self.rate_scale) * self.config.plateau_factor
      self.rate_scale.load(scale, self.session)
      log('validation accuracy has not improved for %d epochs: learning '
          'rate x%g' % (stale, self.config.plateau_factor))
      stale = 0
    self.stale_epochs.load(stale, self.session)
