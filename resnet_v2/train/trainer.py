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

import contextlib
import dataclasses
import os

import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2 import checkpoints
from resnet_v2 import errors
from resnet_v2 import files
from resnet_v2 import metrics
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import record as record_lib
from resnet_v2 import runtime
from resnet_v2 import train as train_package
from resnet_v2.data import inputs
from resnet_v2.data import sources
from resnet_v2.nets import module as tf2
from resnet_v2.nets import platform
from resnet_v2.nets import registry
from resnet_v2.train import checkpointing
from resnet_v2.train import distribute
from resnet_v2.train import ema
from resnet_v2.train import steps as steps_lib
from resnet_v2.train import finetune
from resnet_v2.train import loop
from resnet_v2.train.config import check_config
from resnet_v2.train.config import learning_rate_at
from resnet_v2.train.config import TrainConfig

# Nets are built for this machine (`nets.platform`).
platform.use(runtime.platform_facts)


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
        sources.kind_of(s).path_is_input], holding=False)
    model_dir_lib.check_trainable_dir(model_dir)
    train_source, val_source, class_names, num_classes = (
        sources.training_classes(train_source, val_source,
                                 config.num_classes, config.labels_offset))
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
    if config.precision == 'bf16':
      runtime.check_bf16_training()
    runtime.enable_precision(config.precision)
    self.skipped = inputs.SkippedFiles()
    # The net computes what its starting weights were trained for.
    self.conventions = record_lib.checkpoint_conventions(config.checkpoint)
    registry.check_conventions(config.model, self.conventions)
    self.record = self._record(class_names)
    with self.strategy.scope():
      self._build()

  def _record(self, class_names):
    """The model dir's record; reuses a resumed run's pixel mean."""
    pixel_mean = None
    path = os.path.join(self.model_dir, model_dir_lib.RECORD_NAME)
    existing = (record_lib.Record.read(self.model_dir)
                if os.path.exists(path) else None)
    record = record_lib.Record.for_net(
        self.config.model, self.num_classes, class_names, self.image_size,
        self.conventions, labels_offset=self.config.labels_offset,
        plain=self.config.plain)
    if existing:
      record_lib.check_same_run(existing, record, self.model_dir)
      pixel_mean = existing.pixel_mean
    elif self.spec.preprocessing == 'cifar':
      pixel_mean = inputs.pixel_mean(self.train_source, 'cifar',
                                     self.image_size).tolist()
    return record.replace(pixel_mean=pixel_mean)

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
    self.counters = checkpointing.Counters.create()
    self.global_step = self.counters.global_step
    self.trained = self._trained_variables()
    self.average = None
    if config.ema:
      trained = {id(v) for v in self.trained}
      self.average = ema.WeightAverage(
          {name: v for name, v in self.model_variables.items()
           if id(v) in trained}, config.ema)

    def rate():
      return self.counters.rate_scale * float(
          self.rate_factor) * learning_rate_at(
          self.global_step, config, self.steps_per_epoch, self.total_steps)
    self.learning_rate = tf.function(rate, autograph=False)
    self.steps = steps_lib.Steps(
        self.module, config, self.strategy, self.num_classes,
        self.global_batch, self.replicas, self.trained, rate,
        self.global_step, self.average)
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
    names.update(self.counters.by_name())
    names.update(self.steps.optimizer_variables(self.model_variables))
    if self.average is not None:
      # The averages under the net's names, the trained weights apart.
      names.update(self.average.checkpoint_names())
    return names

  def train(self, resume=False, progress=None, log=print, on_step=None):
    """Trains until epochs or max_steps (`loop.EpochLoop.run`, whose
    arguments these are); returns the history dict."""
    return loop.EpochLoop(self._run_parts()).run(resume, progress, log,
                                                 on_step)

  def _run_parts(self):
    """The `loop.RunParts` of this run."""
    heading = ('training %s on %d replica(s) in sync (%d worker(s)): global '
               'batch %d, learning rate x%d; oneDNN %s (%s)' % (
                   self.config.model, self.replicas, self.role.num_workers,
                   self.global_batch, self.rate_factor,
                   'on' if runtime.onednn_enabled() else 'off',
                   train_package.ONEDNN_CHOICE))
    return loop.RunParts(
        config=self.config, model_dir=self.model_dir,
        strategy=self.strategy, role=self.role, heading=heading,
        global_batch=self.global_batch,
        steps_per_epoch=self.steps_per_epoch, total_steps=self.total_steps,
        skipped=self.skipped, counters=self.counters,
        model_variables=self.model_variables, train_step=self.train_step,
        learning_rate=self.learning_rate,
        training_batches=lambda epoch, skip: self._dataset(
            self.train_source, True, epoch, skip),
        validates=self.val_source is not None, evaluate=self._evaluate,
        averaged_weights=self.averaged_weights, save=self._save,
        start=self._start)

  # -- evaluation -----------------------------------------------------------

  def averaged_weights(self):
    """A context in which the net holds the weights to evaluate: the
    moving average (`ema`), or the trained weights where there is none."""
    return (self.average.swapped() if self.average is not None
            else contextlib.nullcontext())

  def evaluate(self, source=None):
    """`metrics.Tally.result()` of the net on source (default: validation),
    with the moving batch-norm statistics and the averaged weights (`ema`),
    over flips too with `tta`: top1, top5, loss, count, per_class,
    confusion."""
    with self.averaged_weights():
      return self._evaluate(source)

  def _evaluate(self, source=None):
    """`evaluate` with the weights the net holds now."""
    source = source or self.val_source
    tally = metrics.Tally(self.num_classes, self.record.class_names)
    for batch in inputs.iterate(self._dataset(source, False)):
      tally.add(self.eval_step(batch))
    if not tally.count:
      raise ValueError('%s gave no readable image to evaluate.' %
                       source.path)
    return tally.result()

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
    self.counters.epoch.assign(epoch)
    self.counters.epoch_start.assign(epoch_start)
    checkpointing.save_step(self.state_variables(), self.model_dir,
                            self.role, step)

  def _start(self, resume, log=print):
    """Restores a resumed run or initializes a new one; returns history."""
    if resume:
      latest = checkpointing.whole_latest(self.model_dir, self.role, log)
    else:
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
      if self.average is not None:
        self.average.reset()
      if self.role.is_chief:
        self.record.write(self.model_dir)
      return fresh
    checkpoint_files.read_by_name(latest, self.state_variables())
    bad = [name for name, v in self.model_variables.items()
           if not bool(tf.reduce_all(tf.math.is_finite(v)))]
    if bad:
      raise errors.TrainingDiverged(
          '%s holds non-finite weights (%d variables, e.g. %s): it was '
          'written by a diverged run. Delete it (and its line in %s) to '
          'resume from the one before.' % (
              latest, len(bad), bad[0], os.path.join(self.model_dir,
                                                     'checkpoint')))
    return checkpointing.resumed_history(
        self.model_dir, int(self.global_step.numpy()), fresh)
