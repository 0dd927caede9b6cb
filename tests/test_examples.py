"""The examples on scikit-learn's digits, small: transfer learning, the
experiments (degradation, fine-tuning, int8)."""

import json
import tempfile

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


def test_cached_features_are_reused_only_for_the_same_settings(
    tmp_path, monkeypatch):
  cache = tmp_path / 'digits.npz'
  np.savez(cache, features=np.eye(1797, 16, dtype=np.float32),
           settings=np.array('seed=0'))
  images, _ = transfer_digits.load_digits_images(32)
  model = transfer_digits.model_lib.Model.load(model='resnet_v2_50',
                                               image_size=32)
  real_run = model.run

  def no_net(*args, **kwargs):
    raise AssertionError('the backbone ran despite the cache')
  monkeypatch.setattr(model, 'run', no_net)
  pooled = transfer_digits.cached_features(model, images, 'global_pool',
                                           str(cache), 'seed=0')
  assert pooled.shape == (1797, 16)
  # Other settings (another seed, model or checkpoint): recomputed.
  monkeypatch.setattr(model, 'run', real_run)
  pooled = transfer_digits.cached_features(model, images, 'global_pool',
                                           str(cache), 'seed=1')
  assert pooled.shape == (1797, 2048)
  assert str(np.load(cache)['settings']) == 'seed=1'


def test_degradation_experiment_end_to_end(tmp_path):
  from examples import degradation  # pylint: disable=g-import-not-at-top
  train, test = degradation.digits_dataset(image_size=16)
  small = (train._replace(items=train.items[:128], labels=train.labels[:128]),
           test._replace(items=test.items[:64], labels=test.labels[:64]))
  results = degradation.run(small, depths=(8, 14), epochs=1, batch_size=32,
                            out=str(tmp_path), log=lambda line: None)
  assert sorted(results['nets']) == ['plain-14', 'plain-8', 'resnet-14',
                                     'resnet-8']
  plain, residual = results['nets']['plain-14'], results['nets']['resnet-14']
  # Every conv weight has a norm; the residual net has 2 projection convs.
  assert len(residual['gradient_norms_initial']) == len(
      plain['gradient_norms_initial']) + 2 == 14 + 2
  assert len(plain['steps']) == 4
  for name in ('training_error.png', 'gradient_norms.png', 'results.json'):
    assert (tmp_path / name).stat().st_size > 1000
  assert '| plain-14 |' in degradation.table(results)


def test_finetune_experiment_end_to_end(tmp_path, monkeypatch):
  from examples import finetune_digits  # pylint: disable=g-import-not-at-top
  scratch = tmp_path / 'scratch'
  scratch.mkdir()
  monkeypatch.setattr(tempfile, 'tempdir', str(scratch))
  results = finetune_digits.run(per_class=8, pretrain_epochs=1, epochs=2,
                                out=str(tmp_path), log=lambda line: None)
  # Its three model dirs are scratch: none is left behind (autograph's
  # own files land there too).
  assert not list(scratch.glob('finetune_digits_*'))
  assert sorted(results['runs']) == ['from checkpoint', 'from scratch']
  assert all(len(curve) == 2 for curve in results['runs'].values())
  assert 0 <= results['pretrain_val_accuracy'] <= 1
  assert (tmp_path / 'finetune_curves.png').stat().st_size > 1000
  assert json.loads((tmp_path / 'results.json').read_text())['per_class'] == 8


def test_int8_experiment_end_to_end(tmp_path):
  pytest.importorskip('openvino')
  pytest.importorskip('nncf')
  from examples import int8_digits  # pylint: disable=g-import-not-at-top
  results = int8_digits.run(model='cifar_resnet_v1_8', image_size=32,
                            epochs=1, batch_size=64, calibration_images=32,
                            out=str(tmp_path / 'out'),
                            work=str(tmp_path / 'work'),
                            log=lambda line: None)
  assert results['test_images'] == 359 and results['calibration_images'] == 32
  # Both top-1 figures come from eval over the same held-out digits.
  assert results['top1_drop_points'] == pytest.approx(
      100 * (results['top1_fp32'] - results['top1_int8']))
  assert results['quantization']['effective_precision'] == 'int8'
  assert results['quantization']['int8_vs_fp32']['images'] == 359
  written = json.loads((tmp_path / 'out' / 'results.json').read_text())
  assert written['top1_int8'] == results['top1_int8']
  assert (tmp_path / 'work' / 'int8' / 'openvino' / 'model.xml').exists()
