"""Training: loss goes down, BN updates, checkpoints, resume, bad data."""

import json
import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import cli
from resnet_v2 import datasets
from resnet_v2 import training


def synthetic(count=96, size=16, seed=0):
  """Two classes: bright top half or bright bottom half, with noise."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 2, count)
  images = rng.integers(0, 60, (count, size, size, 3))
  for image, label in zip(images, labels):
    half = slice(0, size // 2) if label else slice(size // 2, size)
    image[half] += 150
  images = images.astype(np.uint8)
  return datasets.Dataset(images[:64], labels[:64], images[64:], labels[64:],
                          ['bottom', 'top'])


CONFIG = training.TrainConfig(depth=8, version=1, epochs=3, batch_size=16,
                              learning_rate=0.05, augment=False, log_every=1)


def quiet(line):
  del line


def test_loss_goes_down_and_bn_statistics_update(tmp_path):
  trainer = training.Trainer(synthetic(), str(tmp_path), CONFIG)
  with trainer.graph.as_default():
    moving = [v for v in tf.compat.v1.global_variables()
              if v.op.name.endswith('moving_mean')]
  before = trainer.session.run(moving)
  history = trainer.train(progress=False, log=quiet)
  losses = [e['train_loss'] for e in history['epochs']]
  assert losses[-1] < losses[0]
  assert history['epochs'][-1]['test_accuracy'] > 0.8
  after = trainer.session.run(moving)
  assert all(not np.allclose(a, b) for a, b in zip(before, after))
  assert len(history['steps']) == 3 * 4


def test_checkpoint_restores_to_the_same_outputs(tmp_path):
  data = synthetic()
  trainer = training.Trainer(data, str(tmp_path), CONFIG._replace(epochs=1))
  trainer.train(progress=False, log=quiet)
  feed = {trainer.images: data.test_images}
  expected = trainer.session.run(trainer.eval_logits, feed)
  other = training.Trainer(data, str(tmp_path), CONFIG._replace(epochs=1))
  with other.graph.as_default():
    other.saver.restore(other.session,
                        tf.train.latest_checkpoint(str(tmp_path)))
  np.testing.assert_array_equal(
      other.session.run(other.eval_logits, {other.images: data.test_images}),
      expected)


def test_resume_after_a_kill_continues_where_it_stopped(tmp_path):
  data = synthetic()
  straight = training.Trainer(data, str(tmp_path / 'straight'), CONFIG)
  straight.train(progress=False, log=quiet)

  resumed_dir = str(tmp_path / 'resumed')
  first = training.Trainer(data, resumed_dir, CONFIG)

  def kill_in_epoch_two(step):
    if step == first.steps_per_epoch + 2:
      raise KeyboardInterrupt
  with pytest.raises(KeyboardInterrupt):
    first.train(progress=False, log=quiet, on_step=kill_in_epoch_two)
  # The epoch in progress is lost, the last checkpoint is whole.
  assert tf.train.latest_checkpoint(resumed_dir).endswith(
      'model.ckpt-%d' % first.steps_per_epoch)
  lines = []
  second = training.Trainer(data, resumed_dir, CONFIG)
  history = second.train(resume=True, progress=False, log=lines.append)
  assert lines[0] == 'resuming at epoch 2 (step 4)'
  assert [e['epoch'] for e in history['epochs']] == [1, 2, 3]
  assert second.session.run(second.global_step) == 3 * second.steps_per_epoch
  with straight.graph.as_default():
    names = [v.op.name for v in tf.compat.v1.trainable_variables()]
    a = straight.session.run(tf.compat.v1.trainable_variables())
  with second.graph.as_default():
    b = second.session.run(tf.compat.v1.trainable_variables())
  for name, x, y in zip(names, a, b):
    np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5, err_msg=name)


def test_existing_checkpoints_need_resume(tmp_path):
  trainer = training.Trainer(synthetic(), str(tmp_path),
                             CONFIG._replace(epochs=1))
  trainer.train(progress=False, log=quiet)
  again = training.Trainer(synthetic(), str(tmp_path),
                           CONFIG._replace(epochs=1))
  with pytest.raises(ValueError, match='pass --resume'):
    again.train(progress=False, log=quiet)


def test_history_and_tensorboard_events_are_written(tmp_path):
  training.Trainer(synthetic(), str(tmp_path),
                   CONFIG._replace(epochs=1)).train(progress=False, log=quiet)
  history = json.loads((tmp_path / 'history.json').read_text())
  assert history['epochs'][0]['step'] == 4
  events = [f for f in os.listdir(tmp_path) if f.startswith('events.out')]
  tags = {v.tag for e in tf.compat.v1.train.summary_iterator(
      str(tmp_path / events[0])) for v in e.summary.value}
  assert {'loss', 'train_error', 'learning_rate', 'test_accuracy'} <= tags


def test_step_schedules():
  boundaries, rates = training.step_schedule('momentum', 100)
  assert boundaries == [50, 75]
  assert rates == pytest.approx([0.1, 0.01, 0.001])
  boundaries, rates = training.step_schedule('adam', 200)
  assert boundaries == [80, 120, 160, 180]
  assert rates == pytest.approx([1e-3, 1e-4, 1e-5, 1e-6, 5e-7])
  with pytest.raises(ValueError, match='optimizer must be one of'):
    training.step_schedule('sgd', 10)


def test_augment_pads_crops_and_flips():
  images = np.arange(2 * 8 * 8 * 3, dtype=np.uint8).reshape(2, 8, 8, 3)
  out = training.augment(np.repeat(images, 50, 0), np.random.default_rng(0))
  assert out.shape == (100, 8, 8, 3)
  assert (out == 0).any()          # zero padding shows
  assert len({o.tobytes() for o in out}) > 20


def write_cifar(folder, count=10, bad=None):
  folder.mkdir()
  rng = np.random.default_rng(0)
  for name in datasets.CIFAR10_TRAIN_FILES + [datasets.CIFAR10_TEST_FILE]:
    batch = {b'data': rng.integers(0, 255, (count, 3072), np.uint8),
             b'labels': list(rng.integers(0, 10, count))}
    if name == bad:
      batch[b'data'] = batch[b'data'][:, :100]
    with open(folder / name, 'wb') as handle:
      pickle.dump(batch, handle)


def test_cifar10_batches_load(tmp_path):
  write_cifar(tmp_path / 'cifar')
  data = datasets.load_cifar10(str(tmp_path / 'cifar'))
  assert data.train_images.shape == (50, 32, 32, 3)
  assert data.test_images.shape == (10, 32, 32, 3)
  assert data.train_images.dtype == np.uint8 and len(data.class_names) == 10


@pytest.mark.parametrize('make, message', [
    (lambda p: None, 'does not exist'),
    (lambda p: p.mkdir(), r"lacks \['data_batch_1'"),
    (lambda p: write_cifar(p, bad='data_batch_3'),
     r'data_batch_3: expected data \[N, 3072\]'),
])
def test_bad_cifar_folders_are_named(tmp_path, make, message):
  make(tmp_path / 'cifar')
  with pytest.raises(ValueError, match=message):
    datasets.load_cifar10(str(tmp_path / 'cifar'))


def test_image_folders(tmp_path):
  for name in ('cats', 'dogs'):
    (tmp_path / 'ok' / name).mkdir(parents=True)
    for index in range(5):
      pixels = np.full((20, 24, 3), 40 * index, np.uint8)
      (tmp_path / 'ok' / name / ('%d.png' % index)).write_bytes(
          tf.io.encode_png(pixels).numpy())
  data = datasets.load_image_folder(str(tmp_path / 'ok'), image_size=16,
                                    test_fraction=0.2)
  assert data.class_names == ['cats', 'dogs']
  assert data.train_images.shape == (8, 16, 16, 3)
  assert len(data.test_labels) == 2
  (tmp_path / 'ok' / 'dogs' / 'bad.png').write_text('no')
  with pytest.raises(ValueError, match='unreadable files.*bad.png'):
    datasets.load_image_folder(str(tmp_path / 'ok'))
  (tmp_path / 'one' / 'cats').mkdir(parents=True)
  with pytest.raises(ValueError, match='at least two'):
    datasets.load_image_folder(str(tmp_path / 'one'))


def test_train_command_refuses_bad_data_before_building(tmp_path, capsys,
                                                        monkeypatch):
  def no_graph(*args, **kwargs):
    raise AssertionError('a trainer was built for bad data')
  monkeypatch.setattr(training, 'Trainer', no_graph)
  assert cli.main(['train', '--cifar10', str(tmp_path / 'missing'),
                   '--model-dir', str(tmp_path / 'model')]) == 1
  assert 'CIFAR-10 folder' in capsys.readouterr().err
  assert not (tmp_path / 'model').exists()


def test_train_command_trains_an_image_folder(tmp_path, capsys):
  data = synthetic(count=40)
  for label, name in enumerate(data.class_names):
    (tmp_path / 'images' / name).mkdir(parents=True)
  for index, (image, label) in enumerate(zip(data.train_images,
                                             data.train_labels)):
    (tmp_path / 'images' / data.class_names[label] / ('%d.png' % index)
    ).write_bytes(tf.io.encode_png(image).numpy())
  assert cli.main(['train', '--image-folder', str(tmp_path / 'images'),
                   '--image-size', '16', '--depth', '8', '--epochs', '1',
                   '--batch-size', '8', '--model-dir',
                   str(tmp_path / 'model')]) == 0
  assert 'test accuracy' in capsys.readouterr().out
  assert tf.train.latest_checkpoint(str(tmp_path / 'model'))
