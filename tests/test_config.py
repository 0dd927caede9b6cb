"""The typed training config and its learning-rate schedules."""

import dataclasses

import numpy as np
import pytest

from resnet_v2.train import config as config_lib

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def test_schedules():
  boundaries, rates = config_lib.step_schedule('momentum', 100)
  assert boundaries == [50, 75]
  assert rates == pytest.approx([0.1, 0.01, 0.001])
  boundaries, rates = config_lib.step_schedule('adam', 200)
  assert boundaries == [80, 120, 160, 180]
  assert rates == pytest.approx([1e-3, 1e-4, 1e-5, 1e-6, 5e-7])
  with pytest.raises(ValueError, match='optimizer must be one of'):
    config_lib.step_schedule('sgd', 10)
  cosine = config_lib.TrainConfig(schedule='cosine', learning_rate=1.0,
                                warmup_epochs=1, epochs=10)
  at = [float(config_lib.learning_rate_at(s, cosine, 10, 100))
        for s in (0, 9, 50, 99)]
  assert at[0] == pytest.approx(0.1 * 0.5 * (1 + 1.0), rel=1e-3)
  assert at[1] == pytest.approx(0.5 * (1 + np.cos(np.pi * 0.09)), rel=1e-3)
  assert at[2] == pytest.approx(0.5, rel=1e-3)
  assert at[3] < 0.01


def test_configs_change_by_name_and_keep_tuples():
  config = config_lib.TrainConfig(exclude=['a/*'], trainable=['b'])
  assert config.exclude == ('a/*',) and config.trainable == ('b',)
  longer = dataclasses.replace(config, epochs=3)
  assert (longer.epochs, longer.exclude, config.epochs) == (3, ('a/*',), 10)
  with pytest.raises(dataclasses.FrozenInstanceError):
    config.epochs = 4
  with pytest.raises(ValueError, match='schedule must be one of'):
    config_lib.check_config(dataclasses.replace(config, schedule='linear'))


def test_one_cycle_rises_from_a_25th_then_falls_to_almost_nothing():
  config = config_lib.TrainConfig(schedule='onecycle', learning_rate=0.2,
                                  epochs=10)
  total = 1000          # 10 epochs of 100 steps; 30% rising by default

  def at(step):
    return float(config_lib.learning_rate_at(step, config, 100, total))
  assert at(0) == pytest.approx(0.2 / 25, rel=1e-4)
  assert at(300) == pytest.approx(0.2, rel=1e-4)
  # Half-way up and half-way down: the cosine's midpoints.
  assert at(150) == pytest.approx((0.2 + 0.2 / 25) / 2, rel=1e-3)
  end = 0.2 / 25 / 1e4
  assert at(300 + 699 // 2) == pytest.approx((0.2 + end) / 2, rel=2e-2)
  assert at(999) == pytest.approx(end, rel=1e-3)
  rates = [at(s) for s in range(0, 1000, 50)]
  peak = rates.index(max(rates))
  assert all(a < b for a, b in zip(rates[:peak], rates[1:peak + 1]))
  assert all(a > b for a, b in zip(rates[peak:], rates[peak + 1:]))
  # warmup_epochs sets the rise.
  early = dataclasses.replace(config, warmup_epochs=1)
  assert float(config_lib.learning_rate_at(100, early, 100, total)) == (
      pytest.approx(0.2, rel=1e-4))


def test_recipe_settings_are_checked_naming_the_fix():
  config = config_lib.TrainConfig()
  for change, message in (({'ema': 1.0}, 'ema is a decay'),
                          ({'random_erasing': 1.5}, 'random_erasing is a '),
                          ({'mixup': -1}, 'mixup is the alpha'),
                          ({'cutmix': -0.5}, 'cutmix is the alpha'),
                          ({'tta': 'crops'}, 'tta must be one of'),
                          ({'nesterov': True, 'optimizer': 'adam'},
                           'nesterov applies to the momentum')):
    with pytest.raises(ValueError, match=message):
      config_lib.check_config(dataclasses.replace(config, **change))
  config_lib.check_config(dataclasses.replace(
      config, ema=0.999, random_erasing=0.5, mixup=0.2, cutmix=1.0,
      tta='flip', nesterov=True))
