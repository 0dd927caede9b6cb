"""Batch augmentations of the training step: random erasing, mixup and
cutmix against their definitions."""

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2.train import augment

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)

SEED = tf.constant([3, 7], tf.int64)


def batch(count=8, size=12, channels=3, seed=0):
  rng = np.random.default_rng(seed)
  return tf.constant(rng.uniform(0.5, 1.5, (count, size, size, channels)),
                     tf.float32)


def test_random_erasing_sets_one_rectangle_of_the_chosen_images():
  images = batch(count=64)
  erased = augment.random_erasing(images, SEED, probability=0.5).numpy()
  assert erased.shape == images.shape and erased.dtype == np.float32
  changed = erased != images.numpy()
  touched = changed.reshape(64, -1).any(1)
  # About half the images, each a single axis-aligned rectangle of zeros
  # across all channels, of 2-40% of the image (clipped at the edges).
  assert 16 <= touched.sum() <= 48
  for image, mask in zip(erased[touched], changed[touched]):
    assert (image[mask] == 0).all()
    area = mask[..., 0]
    rows, columns = np.where(area.any(1))[0], np.where(area.any(0))[0]
    box = np.zeros_like(area)
    box[rows.min():rows.max() + 1, columns.min():columns.max() + 1] = True
    assert (area == box).all() and (mask == area[..., None]).all()
    assert area.sum() <= 0.4 * 144 + 12
  # Never, with probability 0; the same seed, the same rectangles.
  np.testing.assert_array_equal(
      augment.random_erasing(images, SEED, probability=0.0), images)
  np.testing.assert_array_equal(
      augment.random_erasing(images, SEED, probability=0.5), erased)


def test_mixup_mixes_images_and_targets_by_the_same_weight():
  images = batch()
  labels = tf.constant([0, 1, 2, 3, 0, 1, 2, 3])
  targets = tf.one_hot(labels, 4)
  mixed, mixed_targets, lam = augment.mixup(images, targets, SEED, 0.4)
  lam = float(lam)
  assert 0 < lam < 1
  partner = images.numpy()[::-1]
  np.testing.assert_allclose(mixed, lam * images.numpy() +
                             (1 - lam) * partner, rtol=1e-6)
  np.testing.assert_allclose(mixed_targets, lam * targets.numpy() + (
      1 - lam) * targets.numpy()[::-1], rtol=1e-6)
  np.testing.assert_allclose(mixed_targets.numpy().sum(1), 1, rtol=1e-6)


def test_cutmix_pastes_one_box_and_weighs_targets_by_its_area():
  images = batch(size=16)
  targets = tf.one_hot([0, 1, 2, 3, 0, 1, 2, 3], 4)
  mixed, mixed_targets, kept = augment.cutmix(images, targets, SEED, 1.0)
  mixed, kept = mixed.numpy(), float(kept)
  partner = images.numpy()[::-1]
  from_partner = (mixed == partner) & (mixed != images.numpy())
  area = from_partner[0, ..., 0]
  # The same box in every image, and the targets by its true area.
  assert (from_partner == area[None, ..., None]).all()
  assert kept == pytest.approx(1 - area.sum() / 256.0)
  assert ((mixed == images.numpy()) | from_partner).all()
  np.testing.assert_allclose(mixed_targets, kept * targets.numpy() + (
      1 - kept) * targets.numpy()[::-1], rtol=1e-6)


def test_augment_batch_keeps_labels_as_one_hot_when_nothing_mixes():
  images, labels = batch(), tf.constant([0, 1, 2, 3, 0, 1, 2, 3])
  out, targets = augment.augment_batch(images, labels, 5, SEED,
                                       random_erasing_share=1.0)
  assert out.shape == images.shape
  np.testing.assert_array_equal(targets, tf.one_hot(labels, 5))
  # Both on: each batch is mixed one way or the other; targets stay
  # distributions over the classes and mix only the batch's own labels.
  for step in range(6):
    seed = tf.constant([1, step], tf.int64)
    out, targets = augment.augment_batch(images, labels, 5, seed,
                                         mixup_alpha=0.2, cutmix_alpha=1.0)
    targets = targets.numpy()
    np.testing.assert_allclose(targets.sum(1), 1, rtol=1e-6)
    assert (targets[:, 4] == 0).all()
    primary = targets[np.arange(8), labels.numpy()]
    assert (primary >= 0).all() and out.shape == images.shape
