"""Training CIFAR-style ResNets from scratch, resumably.

One `Trainer` owns a graph with a training net (batch statistics, BN
updates) and an evaluation net sharing its variables. Each epoch it shuffles
and augments with a random generator seeded by (seed, epoch), so a run
resumed from the checkpoint of epoch k continues exactly as an uninterrupted
run would; a checkpoint is written at the end of every epoch (TensorFlow
updates its 'checkpoint' index only after the files are complete, so a kill
loses at most the epoch in progress).
"""

import collections
import json
import os
import time

import numpy as np
import tensorflow as tf

from resnet_v2 import cifar
from resnet_v2 import files
from resnet_v2.arg_scope import arg_scope
from resnet_v2.arg_scope import resnet_arg_scope
from resnet_v2 import timing

TrainConfig = collections.namedtuple('TrainConfig', [
    'depth', 'version', 'plain', 'epochs', 'batch_size', 'optimizer',
    'learning_rate', 'weight_decay', 'batch_norm_decay', 'augment', 'seed',
    'log_every'])
TrainConfig.__new__.__defaults__ = (20, 1, False, 10, 128, 'momentum', None,
                                    1e-4, 0.9, True, 0, 10)
TrainConfig.__doc__ = """What to train and how.

depth, version, plain: the net (see `cifar.cifar_resnet`).
optimizer: 'momentum' (SGD, momentum 0.9, learning rate 0.1 divided by 10
  at 50% and 75% of the epochs, as the papers' 32k/48k of 64k iterations) or
  'adam' (1e-3, x0.1, x0.01, x0.001, x0.0005 at 40/60/80/90% of the epochs,
  the Keras CIFAR-10 ResNet example's 80/120/160/180 of 200).
learning_rate: overrides the schedule's starting rate (the factors stay).
"""

OPTIMIZERS = ('momentum', 'adam')
CHECKPOINT_NAME = 'model.ckpt'
HISTORY_NAME = 'history.json'


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


def augment(images, rng, pad=4):
  """Zero-pads by `pad`, crops back at a random offset, flips half."""
  count, height, width, _ = images.shape
  padded = np.pad(images, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
  rows = rng.integers(0, 2 * pad + 1, count)
  cols = rng.integers(0, 2 * pad + 1, count)
  flips = rng.random(count) < 0.5
  out = np.empty_like(images)
  for i in range(count):
    crop = padded[i, rows[i]:rows[i] + height, cols[i]:cols[i] + width]
    out[i] = crop[:, ::-1] if flips[i] else crop
  return out


class Trainer:
  """Builds the nets for `dataset` and trains them into `model_dir`.

  Args:
    dataset: A `datasets.Dataset`.
    model_dir: Folder for checkpoints, history.json and TensorBoard events.
    config: A `TrainConfig`.

  Raises:
    ValueError: on a bad config or a batch larger than the training set.
  """

  def __init__(self, dataset, model_dir, config=TrainConfig()):
    if config.optimizer not in OPTIMIZERS:
      raise ValueError('optimizer must be one of %s, got %r.' %
                       (OPTIMIZERS, config.optimizer))
    if config.epochs < 1 or config.batch_size < 1:
      raise ValueError('epochs and batch_size must be >= 1.')
    cifar.units_per_stage(config.depth, config.version)
    self.data, self.model_dir, self.config = dataset, model_dir, config
    self.steps_per_epoch = len(dataset.train_labels) // config.batch_size
    if not self.steps_per_epoch:
      raise ValueError('batch_size %d is larger than the %d training images.'
                       % (config.batch_size, len(dataset.train_labels)))
    self.num_classes = len(dataset.class_names)
    self._build()

  def _build(self):
    config, shape = self.config, list(self.data.train_images.shape[1:])
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.compat.v1.set_random_seed(config.seed)
      self.images = tf.compat.v1.placeholder(tf.float32, [None] + shape,
                                             name='images')
      self.labels = tf.compat.v1.placeholder(tf.int64, [None], name='labels')
      mean = self.data.train_images.astype(np.float32).mean(0)
      self.data_mean = tf.Variable(mean, trainable=False, name='data_mean')
      inputs = (self.images - self.data_mean) / 255.0
      net_args = dict(depth=config.depth, version=config.version,
                      num_classes=self.num_classes, plain=config.plain,
                      scope='net')
      with arg_scope(resnet_arg_scope(
          weight_decay=config.weight_decay,
          batch_norm_decay=config.batch_norm_decay)):
        logits, _ = cifar.cifar_resnet(inputs, is_training=True, **net_args)
        self.eval_logits, _ = cifar.cifar_resnet(inputs, is_training=False,
                                                 reuse=True, **net_args)
      self.loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(
          self.labels, logits)
      total_loss = self.loss + tf.add_n(
          tf.compat.v1.losses.get_regularization_losses() or [0.0])
      self.error = 1.0 - tf.reduce_mean(tf.cast(
          tf.equal(tf.argmax(logits, -1), self.labels), tf.float32))
      self.global_step = tf.compat.v1.train.get_or_create_global_step()
      boundaries, rates = step_schedule(config.optimizer, config.epochs,
                                        config.learning_rate)
      self.learning_rate = tf.compat.v1.train.piecewise_constant(
          self.global_step, [b * self.steps_per_epoch for b in boundaries],
          rates)
      if config.optimizer == 'momentum':
        optimizer = tf.compat.v1.train.MomentumOptimizer(
            self.learning_rate, 0.9)
      else:
        optimizer = tf.compat.v1.train.AdamOptimizer(self.learning_rate)
      weights = [v for v in tf.compat.v1.trainable_variables()
                 if v.op.name.endswith('/weights')]
      self.gradient_norms = {
          v.op.name: tf.norm(g) for v, g in zip(
              weights, tf.gradients(self.loss, weights))}
      with tf.control_dependencies(
          tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)):
        self.train_op = optimizer.minimize(total_loss, self.global_step)
      self.summaries = tf.compat.v1.summary.merge([
          tf.compat.v1.summary.scalar('loss', self.loss),
          tf.compat.v1.summary.scalar('train_error', self.error),
          tf.compat.v1.summary.scalar('learning_rate', self.learning_rate)])
      self.saver = tf.compat.v1.train.Saver(max_to_keep=2)
      init = tf.compat.v1.global_variables_initializer()
    self.session = tf.compat.v1.Session(graph=self.graph)
    self.session.run(init)

  def _restore_or_start(self, resume):
    latest = tf.train.latest_checkpoint(self.model_dir)
    history_path = os.path.join(self.model_dir, HISTORY_NAME)
    if latest and not resume:
      raise ValueError('%s already holds checkpoints; pass --resume to '
                       'continue, or choose an empty --model-dir.' %
                       self.model_dir)
    if not latest:
      return {'config': self.config._asdict(), 'steps': [], 'epochs': []}
    self.saver.restore(self.session, latest)
    step = self.session.run(self.global_step)
    history = {'config': self.config._asdict(), 'steps': [], 'epochs': []}
    if os.path.exists(history_path):
      with open(history_path) as handle:
        history = json.load(handle)
      history['steps'] = [s for s in history['steps'] if s[0] <= step]
      history['epochs'] = [e for e in history['epochs'] if e['step'] <= step]
    return history

  def evaluate(self, images, labels, batch_size=500):
    """Accuracy of the evaluation net (moving statistics) on images."""
    correct = 0
    for start in range(0, len(labels), batch_size):
      logits = self.session.run(self.eval_logits, {
          self.images: images[start:start + batch_size]})
      correct += int(np.sum(np.argmax(logits, -1) ==
                            labels[start:start + batch_size]))
    return correct / len(labels)

  def layer_gradient_norms(self, count=256):
    """{conv weight name: L2 norm of d(loss)/d(weight)} on training images."""
    return self.session.run(self.gradient_norms, {
        self.images: self.data.train_images[:count],
        self.labels: self.data.train_labels[:count]})

  def train(self, resume=False, progress=True, log=print, on_step=None):
    """Trains until config.epochs; returns the history dict.

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
    history = self._restore_or_start(resume)
    config, data = self.config, self.data
    step = int(self.session.run(self.global_step))
    first_epoch = step // self.steps_per_epoch
    if resume and step:
      log('resuming at epoch %d (step %d)' % (first_epoch + 1, step))
    writer = tf.compat.v1.summary.FileWriter(self.model_dir)
    for epoch in range(first_epoch, config.epochs):
      rng = np.random.default_rng([config.seed, epoch])
      order = rng.permutation(len(data.train_labels))
      shown = timing.Progress(self.steps_per_epoch, 'epoch %d/%d' % (
          epoch + 1, config.epochs)) if progress else None
      started, durations, losses, errors = time.time(), [], [], []
      for index in range(self.steps_per_epoch):
        chosen = order[index * config.batch_size:
                       (index + 1) * config.batch_size]
        images = data.train_images[chosen]
        if config.augment:
          images = augment(images, rng)
        begin = time.perf_counter()
        # (The global step read in the same run may precede its increment,
        # so steps are counted here and checked at the end of the epoch.)
        _, loss, error, summary = self.session.run(
            [self.train_op, self.loss, self.error, self.summaries],
            {self.images: images, self.labels: data.train_labels[chosen]})
        durations.append(time.perf_counter() - begin)
        step += 1
        losses.append(float(loss))
        errors.append(float(error))
        if not step % config.log_every:
          history['steps'].append([int(step), float(loss), float(error)])
          writer.add_summary(summary, step)
        if shown:
          shown.update(index + 1, durations)
        if on_step:
          on_step(step)
      assert step == self.session.run(self.global_step), step
      accuracy = self.evaluate(data.test_images, data.test_labels)
      writer.add_summary(tf.compat.v1.Summary(value=[
          tf.compat.v1.Summary.Value(tag='test_accuracy',
                                     simple_value=accuracy)]), step)
      writer.flush()
      self.saver.save(self.session, os.path.join(self.model_dir,
                                                 CHECKPOINT_NAME),
                      global_step=step)
      history['epochs'].append({
          'epoch': epoch + 1, 'step': int(step),
          'train_loss': float(np.mean(losses)),
          'train_error': float(np.mean(errors)),
          'test_accuracy': accuracy, 'seconds': time.time() - started})
      files.write_json(os.path.join(self.model_dir, HISTORY_NAME), history)
      log('epoch %d/%d: loss %.4f, train error %.4f, test accuracy %.4f '
          '(%.0f s)' % (epoch + 1, config.epochs, np.mean(losses),
                        np.mean(errors), accuracy, time.time() - started))
    writer.close()
    return history
