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
