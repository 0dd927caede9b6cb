"""One training step and one evaluation step of a net under a
`tf.distribute` strategy, and the optimizer that the steps update."""

import tensorflow as tf

from resnet_v2 import metrics
from resnet_v2.train import augment

# Optimizer slot names as TF-Slim's graph-mode Saver wrote them.
_SLOT_KEYS = {'momentum': 'Momentum', 'm': 'Adam', 'v': 'Adam_1'}


class Steps:
  """The step functions of a run.

  Args:
    module: The `nets.module.ResNetModule` trained.
    config: The run's `TrainConfig` (optimizer, precision, label smoothing,
      batch norm frozen or not).
    strategy: The `tf.distribute.Strategy`.
    num_classes: Logits of the net.
    global_batch, replicas: Images per step over all replicas; replicas.
    trained: The variables the optimizer updates.
    rate: Function () -> the learning rate now.
    global_step: The step variable the optimizer increments.
    average: A `ema.WeightAverage` updated after every step, or None.

  Attributes:
    train_step: tf.function(images, labels) -> (mean loss, mean error, sum
      of the replicas' gradient norms) of the global batch.
    eval_step: tf.function((images, labels)) -> the global batch's
      `metrics.batch_counts` (confusion matrix, top-5 hits, loss sum).
  """

  def __init__(self, module, config, strategy, num_classes, global_batch,
               replicas, trained, rate, global_step, average=None):
    self.module, self.config, self.strategy = module, config, strategy
    self.num_classes, self.global_batch = num_classes, global_batch
    self.replicas, self.trained, self.global_step = (replicas, trained,
                                                     global_step)
    self.average = average
    if config.optimizer == 'momentum':
      optimizer = tf.compat.v1.train.MomentumOptimizer(
          rate, 0.9, use_nesterov=config.nesterov)
    else:
      optimizer = tf.compat.v1.train.AdamOptimizer(rate)
    self._slot_owner = optimizer
    if config.precision == 'fp16':
      optimizer = tf.compat.v1.mixed_precision.MixedPrecisionLossScaleOptimizer(
          optimizer, 'dynamic')
    self.optimizer = optimizer
    # The slots exist before the first step, so that a resume can fill them.
    self._slot_owner._create_slots(trained)  # pylint: disable=protected-access
    # No autograph: the net is plain graph-building Python.
    # Batches are fetched in Python and passed in: a new iterator each
    # epoch would retrace the step (16 s for resnet_v2_50 in bf16).
    self.train_step = tf.function(self._distributed_step, autograph=False,
                                  reduce_retracing=True)
    self.eval_step = tf.function(self._distributed_eval, autograph=False,
                                 reduce_retracing=True)

  def optimizer_variables(self, model_variables):
    """{checkpoint name: variable} of the optimizer's state: slots under
    TF-Slim's names ('<variable>/Momentum'), the rest under 'optimizer/'.

    Args:
      model_variables: {TF-Slim name: variable} of the net.
    """
    names, slots = {}, set()
    by_id = {id(v): name for name, v in model_variables.items()}
    for slot_name in self._slot_owner.get_slot_names():
      for variable in self.trained:
        slot = self._slot_owner.get_slot(variable, slot_name)
        if slot is not None:
          names['%s/%s' % (by_id[id(variable)],
                           _SLOT_KEYS.get(slot_name, slot_name))] = slot
          slots.add(id(slot))
    for variable in self.optimizer.variables():
      if id(variable) not in slots and id(variable) not in by_id:
        names['optimizer/' + variable.name.split(':')[0]] = variable
    return names

  def _step_seed(self):
    """The seed of this step's augmentation on this replica: from the
    run's seed, the global step (restored on resume) and the replica."""
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    seed = tf.stack([tf.constant(self.config.seed, tf.int64),
                     tf.cast(self.global_step.read_value(), tf.int64)])
    return tf.random.experimental.stateless_fold_in(seed, replica)

  def _replica_step(self, images, labels):
    config = self.config
    images, targets = augment.augment_batch(
        images, labels, self.num_classes, self._step_seed(),
        config.random_erasing, config.mixup, config.cutmix)
    step_before = self.global_step.read_value()
    logits, _ = self.module(images, training=not config.freeze_batch_norm)
    logits = tf.cast(logits, tf.float32)
    # Soft targets (mixup, cutmix) and smoothing, in float32.
    per_example = tf.compat.v1.losses.softmax_cross_entropy(
        targets, logits, label_smoothing=config.label_smoothing,
        reduction=tf.compat.v1.losses.Reduction.NONE)
    # Sums over the global batch: the all-reduce of the gradients (a sum
    # over replicas) then gives the global batch's mean.
    loss = tf.reduce_sum(per_example) / float(self.global_batch)
    total = loss + self.module.regularization_loss() / float(self.replicas)
    gradients = self.optimizer.compute_gradients(total, self.trained)
    # Before the update, so a non-finite step is seen before any save.
    norm = tf.linalg.global_norm([g for g, _ in gradients if g is not None])
    self.optimizer.apply_gradients(gradients, global_step=self.global_step)
    if self.average is not None:
      self.average.update(step_before)
    errors = tf.reduce_sum(tf.cast(tf.not_equal(
        tf.argmax(logits, -1), labels), tf.float32))
    return tf.reduce_sum(per_example), errors, norm

  def _distributed_step(self, images, labels):
    """Returns the global batch's mean loss and error, and the sum over
    replicas of their gradient norms (finite only if every one is)."""
    loss_sum, errors, norms = self.strategy.run(self._replica_step,
                                                (images, labels))
    reduce = tf.distribute.ReduceOp.SUM
    return (self.strategy.reduce(reduce, loss_sum, None) / self.global_batch,
            self.strategy.reduce(reduce, errors, None) / self.global_batch,
            self.strategy.reduce(reduce, norms, None))

  def _replica_eval(self, images, labels):
    logits, _ = self.module(images, training=False)
    if self.config.tta == 'flip':
      mirrored, _ = self.module(tf.reverse(images, [2]), training=False)
      logits = metrics.flip_average(logits, mirrored)
    return metrics.batch_counts(logits, labels, self.num_classes)

  def _distributed_eval(self, batch):
    """The global batch's `metrics.batch_counts`, summed over replicas."""
    counts = self.strategy.run(self._replica_eval, batch)
    return {name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value,
                                       None)
            for name, value in counts.items()}


def layer_gradient_norms(module, images, labels, num_classes):
  """{conv weight name: |d(loss)/d(weight)|} on one batch, on one replica;
  the moving statistics are left as they are."""
  weights = {name: v for name, v in module.variables_by_name.items()
             if name.endswith('/weights') and v.trainable}

  @tf.function(autograph=False)
  def norms(images, labels):
    with tf.GradientTape() as tape:
      logits, _ = module(images, training=True, update_moving_averages=False)
      loss = tf.compat.v1.losses.softmax_cross_entropy(
          tf.one_hot(labels, num_classes), logits)
    gradients = tape.gradient(loss, list(weights.values()))
    return {name: tf.norm(g) for name, g in zip(weights, gradients)
            if g is not None}
  return {name: float(value) for name, value in norms(images, labels).items()}
