"""The transfer-learning example on scikit-learn's digits, small."""

import numpy as np
import pytest

pytest.importorskip('sklearn')
from examples import transfer_digits  # pylint: disable=g-import-not-at-top


def test_new_head_on_frozen_features_beats_chance(tmp_path):
  cache = tmp_path / 'digits.npz'
  train, test = transfer_digits.run(image_size=32, cache_path=str(cache),
                                    steps=150)
  assert test > 0.5, (train, test)  # chance is 0.1
  assert np.load(cache)['features'].shape == (1797, 2048)


def test_cached_features_are_reused(tmp_path, monkeypatch):
  cache = tmp_path / 'digits.npz'
  np.savez(cache, features=np.eye(1797, 16, dtype=np.float32))

  def no_net(*args, **kwargs):
    raise AssertionError('the backbone ran despite the cache')
  monkeypatch.setattr(transfer_digits.features.ImageModel, 'run', no_net)
  images, _ = transfer_digits.load_digits_images(32)
  model = transfer_digits.features.ImageModel('resnet_v2_50', image_size=32)
  pooled = transfer_digits.cached_features(model, images, 'global_pool',
                                           str(cache))
  assert pooled.shape == (1797, 16)
