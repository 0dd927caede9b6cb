"""Augmentations of whole training batches, inside the training step's
graph: random erasing, mixup and cutmix.

Each takes the batch and a shape-[2] seed of stateless random ops (the
trainer derives it from the run's seed and the global step), so a resumed
run draws exactly what the interrupted one would have. Mixup and cutmix
return soft targets (one-hot rows mixed by the same weight as the images);
every function keeps the batch's shape and dtype.

- Random erasing: Zhong et al., "Random Erasing Data Augmentation", AAAI
  2020 (github.com/zhunzhong07/Random-Erasing): with probability p, a
  rectangle of 2-40% of the image, aspect 0.3-3.3, is set to the mean
  pixel (0 after the net's mean subtraction), as their CIFAR code does.
- Mixup: Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR
  2018: x = lam x_i + (1 - lam) x_j, y likewise, lam ~ Beta(alpha, alpha).
- CutMix: Yun et al., ICCV 2019: a box of x_j pasted into x_i, its area
  1 - lam, y mixed by the box's true area.
As timm does (timm.data.Mixup), one lam per batch, the partner of image i
is image batch-1-i (the batch reversed), and with both mixup and cutmix
on, each batch uses one of them, chosen with probability 1/2.
"""

import tensorflow as tf

ERASE_AREA = (0.02, 0.4)
ERASE_ASPECT = (0.3, 1 / 0.3)


def _seeds(seed, count):
  """count independent shape-[2] seeds from one."""
  return [tf.random.experimental.stateless_fold_in(seed, i)
          for i in range(count)]


def random_erasing(images, seed, probability=0.5, area=ERASE_AREA,
                   aspect=ERASE_ASPECT, value=0.0):
  """Sets one random rectangle of each chosen image to `value`.

  Args:
    images: float [batch, height, width, channels].
    seed: Shape [2] int seed.
    probability: Share of the images erased.
    area: Range of the rectangle's share of the image.
    aspect: Range of its height / width (drawn log-uniformly).
    value: What the rectangle is set to (0: the mean pixel, after the
      net's mean subtraction).

  Returns:
    The images, same shape and dtype. The rectangle is clipped to the
    image where its sides would not fit (the paper draws again instead).
  """
  shape = tf.shape(images)
  count, height, width = shape[0], shape[1], shape[2]
  draw, share, ratio, top, left = _seeds(seed, 5)
  chosen = tf.random.stateless_uniform([count], draw) < probability
  erased = tf.random.stateless_uniform([count], share, *area) * tf.cast(
      height * width, tf.float32)
  log_ratio = tf.random.stateless_uniform(
      [count], ratio, tf.math.log(aspect[0]), tf.math.log(aspect[1]))
  rows = tf.minimum(tf.cast(tf.round(tf.sqrt(erased * tf.exp(log_ratio))),
                            tf.int32), height)
  columns = tf.minimum(tf.cast(tf.round(tf.sqrt(erased / tf.exp(
      log_ratio))), tf.int32), width)
  first_row = tf.cast(tf.random.stateless_uniform([count], top) * tf.cast(
      height - rows + 1, tf.float32), tf.int32)
  first_column = tf.cast(tf.random.stateless_uniform([count], left) *
                         tf.cast(width - columns + 1, tf.float32), tf.int32)
  mask = _box_mask(height, width, first_row, first_column, rows, columns)
  mask = tf.logical_and(mask, chosen[:, None, None])[..., None]
  return tf.where(mask, tf.cast(value, images.dtype), images)


def _box_mask(height, width, top, left, rows, columns):
  """bool [batch, height, width]: inside each image's box."""
  inside_rows = tf.logical_and(tf.range(height)[None] >= top[:, None],
                               tf.range(height)[None] < (top + rows)[:, None])
  inside_columns = tf.logical_and(
      tf.range(width)[None] >= left[:, None],
      tf.range(width)[None] < (left + columns)[:, None])
  return tf.logical_and(inside_rows[:, :, None], inside_columns[:, None, :])


def _beta(seed, alpha):
  """One draw of Beta(alpha, alpha), from two Gamma draws."""
  first, second = _seeds(seed, 2)
  a = tf.random.stateless_gamma([], first, alpha)
  b = tf.random.stateless_gamma([], second, alpha)
  return a / (a + b)


def mixup(images, targets, seed, alpha):
  """Mixup of a batch with itself reversed.

  Args:
    images: float [batch, ...].
    targets: float [batch, classes] (one-hot or already soft).
    seed: Shape [2] int seed.
    alpha: Beta(alpha, alpha)'s parameter.

  Returns:
    (images, targets, lam).
  """
  lam = _beta(seed, alpha)
  mixed = lam * images + (1 - lam) * tf.reverse(images, [0])
  return mixed, lam * targets + (1 - lam) * tf.reverse(targets, [0]), lam


def cutmix(images, targets, seed, alpha):
  """CutMix of a batch with itself reversed: one box per batch (its
  centre uniform, its area 1 - lam, clipped at the edges), and targets
  mixed by the area actually pasted.

  Returns:
    (images, targets, lam): lam is the share of each image kept.
  """
  lam_seed, row_seed, column_seed = _seeds(seed, 3)
  lam = _beta(lam_seed, alpha)
  shape = tf.shape(images)
  height, width = shape[1], shape[2]
  side = tf.sqrt(1.0 - lam)
  rows = tf.cast(tf.cast(height, tf.float32) * side, tf.int32)
  columns = tf.cast(tf.cast(width, tf.float32) * side, tf.int32)
  centre_row = tf.random.stateless_uniform([], row_seed, 0, height,
                                           dtype=tf.int32)
  centre_column = tf.random.stateless_uniform([], column_seed, 0, width,
                                              dtype=tf.int32)
  top = tf.clip_by_value(centre_row - rows // 2, 0, height)
  bottom = tf.clip_by_value(centre_row + rows // 2, 0, height)
  left = tf.clip_by_value(centre_column - columns // 2, 0, width)
  right = tf.clip_by_value(centre_column + columns // 2, 0, width)
  mask = _box_mask(height, width, top[None], left[None], (bottom - top)[None],
                   (right - left)[None])[..., None]
  mixed = tf.where(mask, tf.reverse(images, [0]), images)
  kept = 1.0 - tf.cast((bottom - top) * (right - left), tf.float32) / tf.cast(
      height * width, tf.float32)
  return mixed, kept * targets + (1 - kept) * tf.reverse(targets, [0]), kept


def augment_batch(images, labels, num_classes, seed, random_erasing_share=0.0,
                  mixup_alpha=0.0, cutmix_alpha=0.0):
  """The training step's batch augmentations, as a config names them.

  Args:
    images: float [batch, height, width, channels].
    labels: int [batch].
    num_classes: Width of the targets.
    seed: Shape [2] int seed (the step's).
    random_erasing_share, mixup_alpha, cutmix_alpha: 0 is off.

  Returns:
    (images, targets float32 [batch, num_classes]).
  """
  erase_seed, choose_seed, mix_seed = _seeds(seed, 3)
  if random_erasing_share:
    images = random_erasing(images, erase_seed, random_erasing_share)
  targets = tf.one_hot(labels, num_classes)
  if mixup_alpha and cutmix_alpha:
    use_cutmix = tf.random.stateless_uniform([], choose_seed) < 0.5
    images, targets = tf.cond(
        use_cutmix,
        lambda: cutmix(images, targets, mix_seed, cutmix_alpha)[:2],
        lambda: mixup(images, targets, mix_seed, mixup_alpha)[:2])
  elif mixup_alpha:
    images, targets, _ = mixup(images, targets, mix_seed, mixup_alpha)
  elif cutmix_alpha:
    images, targets, _ = cutmix(images, targets, mix_seed, cutmix_alpha)
  return images, targets
