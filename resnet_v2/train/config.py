"""What to train and how: `TrainConfig`, a typed config with defaults by
name, and the learning-rate schedules it names."""

import dataclasses
import math
from typing import Optional, Tuple

import tensorflow as tf

from resnet_v2 import runtime
from resnet_v2.data import preprocessing
from resnet_v2.nets import registry


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """What to train and how.

model: a registry name; image_size: default the net's.
epochs, max_steps: stop after this many epochs, or steps if set (first).
batch_size: images per replica per step; or global_batch_size: images per
  step over all replicas (must divide by the replicas).
optimizer: 'momentum' (0.9) or 'adam'. learning_rate: the base rate
  (default 0.1 momentum, 1e-3 adam). nesterov: Nesterov momentum.
schedule: 'step' (momentum: /10 at 50% and 75% of the epochs, the papers';
  adam: x0.1, x0.01, x0.001, x0.0005 at 40/60/80/90%, the Keras CIFAR-10
  example's), 'cosine', 'onecycle' (Smith's one-cycle as PyTorch's
  OneCycleLR: from rate/25 up to the rate over warmup_epochs, default 30%
  of the run, then a cosine down to rate/25e4) or 'constant';
  warmup_epochs of linear warmup first.
label_smoothing, weight_decay, batch_norm_decay: as the names say.
ema: decay of an exponential moving average of the weights (0: off; e.g.
  0.999): validation, best/ and every command reading the model dir use
  the averaged weights (`train.ema`).
random_erasing: share of the training images with one rectangle erased
  (0: off; 0.5 in the paper). mixup, cutmix: alpha of the Beta
  distribution of the mixing weight (0: off; 0.2 and 1.0 are usual); both
  on: one or the other per batch (`train.augment`).
tta: 'flip' averages the validation's predictions over the image and its
  mirror image (the trainer's validation; `resnet-v2 eval --tta flip`).
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
precision: 'fp32', 'bf16' (oneDNN auto mixed precision, CPUs) or 'fp16'
  (CUDA auto mixed precision with dynamic loss scaling, GPUs).
sync_batch_norm: batch statistics over the global batch (all replicas).
labels_offset: subtracted from TFRecord labels. num_classes: for sources
  without class names (TFRecords without labels.txt or class texts).
max_pixels: larger images are skipped (named) without being decoded.
max_unreadable: the run stops once more than this share of the training
  data met so far (images, TFRecord records, damaged file tails counting
  one each) could not be read; every such item is named in history.json.

  Change one with `dataclasses.replace(config, epochs=3)`.
  """
  model: str = 'cifar_resnet_v1_20'
  image_size: Optional[int] = None
  epochs: int = 10
  max_steps: Optional[int] = None
  batch_size: int = 128
  optimizer: str = 'momentum'
  learning_rate: Optional[float] = None
  schedule: str = 'step'
  warmup_epochs: float = 0.0
  label_smoothing: float = 0.0
  nesterov: bool = False
  ema: float = 0.0
  random_erasing: float = 0.0
  mixup: float = 0.0
  cutmix: float = 0.0
  tta: str = 'none'
  weight_decay: float = 1e-4
  batch_norm_decay: float = 0.9
  freeze_batch_norm: bool = False
  plain: bool = False
  checkpoint: Optional[str] = None
  exclude: Tuple[str, ...] = ()
  trainable: Tuple[str, ...] = ()
  augment: bool = True
  seed: int = 0
  log_every: int = 10
  save_every_steps: int = 0
  plateau_patience: int = 0
  plateau_factor: float = 0.1
  precision: str = 'fp32'
  labels_offset: int = 0
  num_classes: Optional[int] = None
  sync_batch_norm: bool = False
  global_batch_size: Optional[int] = None
  max_pixels: int = preprocessing.MAX_IMAGE_PIXELS
  max_unreadable: float = 0.1

  def __post_init__(self):
    # Lists (from a command line or JSON) are kept as tuples.
    object.__setattr__(self, 'exclude', tuple(self.exclude))
    object.__setattr__(self, 'trainable', tuple(self.trainable))


OPTIMIZERS = ('momentum', 'adam')
SCHEDULES = ('step', 'cosine', 'onecycle', 'constant')
TTA = ('none', 'flip')
# PyTorch's OneCycleLR defaults: start at rate/25, end at rate/25/1e4,
# 30% of the steps rising.
ONECYCLE_DIV, ONECYCLE_FINAL_DIV, ONECYCLE_RISE = 25.0, 1e4, 0.3


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
    # rates[i] while step <= the i-th boundary (piecewise_constant's rule).
    index = tf.reduce_sum(tf.cast(step > tf.constant(
        [float(b * steps_per_epoch) for b in boundaries]), tf.int32))
    rate = tf.gather(tf.constant(rates, tf.float32), index)
  elif config.schedule == 'cosine':
    rate = rates[0] * 0.5 * (1 + tf.cos(math.pi * tf.minimum(
        step / float(max(total_steps, 1)), 1.0)))
  elif config.schedule == 'onecycle':
    return _one_cycle(step, rates[0], config, steps_per_epoch, total_steps)
  else:
    rate = tf.constant(rates[0], tf.float32)
  warmup = config.warmup_epochs * steps_per_epoch
  if warmup > 0:
    rate = rate * tf.minimum(1.0, (step + 1) / float(warmup))
  return rate


def _one_cycle(step, peak, config, steps_per_epoch, total_steps):
  """PyTorch's OneCycleLR (cosine annealing) at `step`."""
  rise = (config.warmup_epochs * steps_per_epoch if config.warmup_epochs
          else ONECYCLE_RISE * total_steps)
  rise = max(1.0, min(float(rise), total_steps - 1.0))
  start = peak / ONECYCLE_DIV
  end = start / ONECYCLE_FINAL_DIV

  def cosine(low, high, fraction):
    return low + (high - low) * 0.5 * (1 + tf.cos(math.pi * tf.clip_by_value(
        fraction, 0.0, 1.0)))
  return tf.where(step <= rise, cosine(peak, start, step / rise),
                  cosine(end, peak, (step - rise) / max(
                      total_steps - 1.0 - rise, 1.0)))


def check_config(config):
  """Raises ValueError on settings that cannot train, naming the fix."""
  registry.get_spec(config.model)
  for name, allowed in (('optimizer', OPTIMIZERS), ('schedule', SCHEDULES),
                        ('precision', runtime.PRECISIONS), ('tta', TTA)):
    if getattr(config, name) not in allowed:
      raise ValueError('%s must be one of %s, got %r.' %
                       (name, allowed, getattr(config, name)))
  if config.epochs < 1 or config.batch_size < 1:
    raise ValueError('epochs and batch_size must be >= 1.')
  if config.max_steps is not None and config.max_steps < 1:
    raise ValueError('max_steps must be >= 1, got %r.' % config.max_steps)
  if config.global_batch_size is not None and config.global_batch_size < 1:
    raise ValueError('global_batch_size must be >= 1, got %r.' %
                     config.global_batch_size)
  if not 0 <= config.max_unreadable <= 1:
    raise ValueError('max_unreadable must be a share in [0, 1], got %r.' %
                     config.max_unreadable)
  if not 0 <= config.label_smoothing < 1:
    raise ValueError('label_smoothing must be in [0, 1), got %r.' %
                     config.label_smoothing)
  if not 0 <= config.ema < 1:
    raise ValueError('ema is a decay in [0, 1) (0: off; e.g. 0.999), got '
                     '%r.' % config.ema)
  if not 0 <= config.random_erasing <= 1:
    raise ValueError('random_erasing is a share of the images in [0, 1], '
                     'got %r.' % config.random_erasing)
  for name in ('mixup', 'cutmix'):
    if getattr(config, name) < 0:
      raise ValueError('%s is the alpha of a Beta distribution, >= 0 (0: '
                       'off), got %r.' % (name, getattr(config, name)))
  if config.nesterov and config.optimizer != 'momentum':
    raise ValueError('nesterov applies to the momentum optimizer, not %r.' %
                     config.optimizer)
