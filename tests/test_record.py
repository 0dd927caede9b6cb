"""record: model.json read and written in one place, the weights a model
dir runs, and the checks that a model dir continues the same run."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import record as record_lib

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)

MODEL = 'cifar_resnet_v1_8'


def record(**fields):
  return record_lib.Record(**dict(dict(model=MODEL, num_classes=3,
                                       class_names=['a', 'b', 'c']), **fields))


def save(folder, name):
  """A one-variable checkpoint in folder, indexed when a step."""
  os.makedirs(folder, exist_ok=True)
  prefix = checkpoint_files.save_by_name({'w': tf.Variable([1.0])},
                                         os.path.join(folder, name))
  if os.path.basename(os.path.dirname(prefix)) != model_dir_lib.BEST_DIR:
    model_dir_lib.add_checkpoint(folder, prefix)
  return prefix


def test_model_json_round_trips_and_defaults_come_from_the_net(tmp_path):
  written = record(pixel_mean=[[[1.0, 2.0, 3.0]]])
  assert (written.image_size, written.preprocessing) == (32, 'cifar')
  written.write(str(tmp_path))
  with open(tmp_path / 'model.json') as handle:
    assert list(json.load(handle)) == list(record_lib.SAVED)
  read = record_lib.Record.read(str(tmp_path))
  assert read == written.replace(model_dir=str(tmp_path))


def test_model_dirs_written_before_int8_still_read_as_tensorflow(tmp_path):
  old = dict(model=MODEL, num_classes=2, class_names=None,
             image_size=16, preprocessing='cifar', labels_offset=0,
             plain=False, pixel_mean=None)
  (tmp_path / 'model.json').write_text(json.dumps(old))
  read = record_lib.Record.read(str(tmp_path))
  assert (read.engine, read.precision, read.conventions) == (
      'tensorflow', 'fp32', 'tf_slim')


def test_what_is_not_a_model_dir_is_named_with_the_fix(tmp_path):
  with pytest.raises(ValueError, match='is not a model dir.*resnet-v2 train'):
    record_lib.Record.read(str(tmp_path))
  (tmp_path / 'model.json').write_text('{"model": ')
  with pytest.raises(ValueError, match='model.json is unreadable'):
    record_lib.Record.read(str(tmp_path))
  (tmp_path / 'model.json').write_text('{"model": "%s"}' % MODEL)
  with pytest.raises(ValueError, match="lacks.*'num_classes'.*not written "
                     'by this version'):
    record_lib.Record.read(str(tmp_path))


def test_a_model_dir_runs_best_else_its_latest_checkpoint(tmp_path):
  folder = str(tmp_path)
  record().write(folder)
  with pytest.raises(ValueError, match='holds no checkpoint yet'):
    record_lib.Record.from_model_dir(folder)
  latest = save(folder, 'model.ckpt-2')
  assert record_lib.Record.from_model_dir(folder).checkpoint() == latest
  best = save(os.path.join(folder, 'best'), 'model.ckpt')
  opened = record_lib.Record.from_model_dir(folder, image_size=64)
  assert (opened.checkpoint(), opened.image_size) == (best, 64)
  # A checkpoint in a model dir (or its best/) keeps that run's
  # conventions; any other is TF-Slim's.
  record(conventions='keras').write(folder)
  assert record_lib.checkpoint_conventions(best) == 'keras'
  assert record_lib.checkpoint_conventions(latest) == 'keras'
  assert record_lib.checkpoint_conventions(None) == 'tf_slim'


def test_an_int8_model_dir_holds_no_checkpoint(tmp_path):
  folder = str(tmp_path)
  record(engine='openvino', precision='int8').write(folder)
  opened = record_lib.Record.from_model_dir(folder)
  assert opened.holds_openvino_model
  assert opened.weights == model_dir_lib.openvino_dir(folder)
  with pytest.raises(ValueError, match='int8 OpenVINO model, not a '
                     'TensorFlow checkpoint'):
    opened.checkpoint()
  with pytest.raises(ValueError, match='drop `image_size`=64'):
    record_lib.Record.from_model_dir(folder, image_size=64)


def test_another_run_is_named_by_every_setting_that_differs(tmp_path):
  old = record()
  record_lib.check_same_run(old, record(pixel_mean=[[[0.0]]]), 'run')
  with pytest.raises(ValueError) as raised:
    record_lib.check_same_run(old, record(
        num_classes=4, class_names=['a', 'b', 'c', 'd'], image_size=64),
        'run')
  message = str(raised.value)
  assert message.startswith('run holds another run (')
  for part in ('num_classes: 3 in the model dir, 4 now',
               'image_size: 32 in the model dir, 64 now',
               "classes: ['a', 'b', 'c'] in the model dir, ['d'] now"):
    assert part in message
  assert message.endswith('use another `model_dir`.')


def test_one_constructor_per_origin():
  with pytest.raises(ValueError, match='not neither'):
    record_lib.Record.open()
  with pytest.raises(ValueError, match='drop `model` and `checkpoint`'):
    record_lib.Record.open(model_dir='x', model=MODEL)
  random = record_lib.Record.open(model=MODEL, num_classes=5)
  assert (random.weights, random.num_classes, random.conventions) == (
      None, 5, 'tf_slim')
  assert np.isscalar(random.image_size)
