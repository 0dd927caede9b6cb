"""Training: any net, streamed data, fine-tuning, best/plateau, exact resume,
the model dir, and the train / eval / predict / export commands."""

import dataclasses
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2 import errors
from resnet_v2 import checkpoints
from resnet_v2 import cli
from resnet_v2 import lock as lock_lib
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import record as record_lib
from resnet_v2.data import sources
from resnet_v2.train import trainer as training


def synthetic(count=96, size=16, seed=0, classes=2):
  """Classes by which horizontal band is bright, with noise; (train, val)."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, classes, count)
  images = rng.integers(0, 60, (count, size, size, 3))
  band = size // classes
  for image, label in zip(images, labels):
    image[label * band:(label + 1) * band] += 150
  images = images.astype(np.uint8)
  names = ['band%d' % c for c in range(classes)]
  return (sources.arrays_source(images[:64], labels[:64], names, 'train'),
          sources.arrays_source(images[64:], labels[64:], names, 'val'))


CONFIG = training.TrainConfig(model='cifar_resnet_v1_8', image_size=16,
                              epochs=3, batch_size=16, learning_rate=0.05,
                              augment=False, log_every=1)


def quiet(line):
  del line


def weights(trainer):
  return {name: v.numpy() for name, v in trainer.model_variables.items()}


def test_loss_goes_down_and_bn_statistics_update(tmp_path):
  train, val = synthetic()
  trainer = training.Trainer(train, val, str(tmp_path), CONFIG)
  before = weights(trainer)
  started = time.time()
  history = trainer.train(progress=False, log=quiet)
  elapsed = time.time() - started
  # The epochs' wall clocks add up to the run (start-up and validation
  # included), and no epoch is faster by the wall than in its steps.
  walls = [e['wall_seconds'] for e in history['epochs']]
  assert 0.9 * elapsed <= sum(walls) <= elapsed
  for epoch in history['epochs']:
    assert epoch['wall_images_per_second'] == pytest.approx(
        64 // 16 * 16 / epoch['wall_seconds'])
    assert epoch['wall_images_per_second'] <= epoch['images_per_second']
  losses = [e['train_loss'] for e in history['epochs']]
  assert losses[-1] < losses[0]
  assert history['epochs'][-1]['val_accuracy'] > 0.8
  after = weights(trainer)
  moving = [n for n in before if n.endswith('moving_mean')]
  assert moving and all(not np.allclose(before[n], after[n]) for n in moving)
  assert len(history['steps']) == 3 * 4
  record = record_lib.Record.read(str(tmp_path))
  assert (record.model, record.num_classes, record.class_names) == (
      'cifar_resnet_v1_8', 2, ['band0', 'band1'])
  assert np.asarray(record.pixel_mean).shape == (16, 16, 3)
  assert model_dir_lib.best_checkpoint(str(tmp_path))


def test_resume_mid_epoch_continues_exactly(tmp_path):
  train, val = synthetic()
  # With the recipe: the weight average and the step-seeded batch
  # augmentations resume exactly too.
  config = dataclasses.replace(CONFIG, augment=True, save_every_steps=2,
                               ema=0.9, random_erasing=0.5, mixup=0.2,
                               cutmix=1.0, nesterov=True)
  straight = training.Trainer(train, val, str(tmp_path / 'straight'), config)
  straight.train(progress=False, log=quiet)

  resumed_dir = str(tmp_path / 'resumed')
  first = training.Trainer(train, val, resumed_dir, config)

  def kill(step):
    if step == first.steps_per_epoch + 3:
      raise KeyboardInterrupt
  with pytest.raises(KeyboardInterrupt):
    first.train(progress=False, log=quiet, on_step=kill)
  # The last whole checkpoint is the one of step 6 (every 2 steps).
  assert tf.train.latest_checkpoint(resumed_dir).endswith('model.ckpt-6')
  lines = []
  second = training.Trainer(train, val, resumed_dir, config)
  history = second.train(resume=True, progress=False, log=lines.append)
  assert 'on 1 replica(s) in sync' in lines[0]
  assert lines[1] == 'resuming at epoch 2 (step 6)'
  assert [e['epoch'] for e in history['epochs']] == [1, 2, 3]
  assert int(second.global_step.numpy()) == 3 * 4
  expected, got = weights(straight), weights(second)
  for name in expected:
    np.testing.assert_allclose(got[name], expected[name], rtol=1e-4,
                               atol=1e-5, err_msg=name)
  for name, shadow in straight.average.shadows.items():
    np.testing.assert_allclose(second.average.shadows[name].numpy(),
                               shadow.numpy(), rtol=1e-4, atol=1e-5,
                               err_msg=name)


def test_max_steps_stops_inside_an_epoch_and_keeps_its_place(tmp_path):
  train, val = synthetic()
  trainer = training.Trainer(train, val, str(tmp_path),
                             dataclasses.replace(CONFIG, max_steps=6))
  trainer.train(progress=False, log=quiet)
  assert tf.train.latest_checkpoint(str(tmp_path)).endswith('model.ckpt-6')
  assert [int(trainer.counters.epoch.numpy()),
          int(trainer.counters.epoch_start.numpy())] == [1, 4]


def test_existing_run_needs_resume_and_another_run_is_refused(tmp_path):
  train, val = synthetic()
  training.Trainer(train, val, str(tmp_path),
                   dataclasses.replace(CONFIG, epochs=1)).train(
                       progress=False, log=quiet)
  again = training.Trainer(train, val, str(tmp_path),
                           dataclasses.replace(CONFIG, epochs=1))
  with pytest.raises(ValueError, match='pass `resume`'):
    again.train(progress=False, log=quiet)
  with pytest.raises(ValueError, match="holds another run .model: "
                     "'cifar_resnet_v1_8' in the model dir, "
                     "'cifar_resnet_v1_14' now"):
    training.Trainer(train, val, str(tmp_path),
                     dataclasses.replace(CONFIG, model='cifar_resnet_v1_14'))


def test_history_and_tensorboard_events_are_written(tmp_path):
  train, val = synthetic()
  training.Trainer(train, val, str(tmp_path), dataclasses.replace(
      CONFIG, epochs=1)).train(progress=False, log=quiet)
  history = json.loads((tmp_path / 'history.json').read_text())
  assert history['epochs'][0]['step'] == 4
  assert history['epochs'][0]['images_per_second'] > 0
  events = [f for f in os.listdir(tmp_path) if f.startswith('events.out')]
  tags = {v.tag for e in tf.compat.v1.train.summary_iterator(
      str(tmp_path / events[0])) for v in e.summary.value}
  assert {'loss', 'train_error', 'learning_rate', 'val_accuracy',
          'images_per_second'} <= tags


def test_plateau_cuts_the_rate_and_best_keeps_the_best(tmp_path):
  train, val = synthetic()
  config = dataclasses.replace(CONFIG, learning_rate=1e-9,
                               schedule='constant', epochs=3,
                               plateau_patience=1, plateau_factor=0.1)
  history = training.Trainer(train, val, str(tmp_path), config).train(
      progress=False, log=quiet)
  rates = [e['learning_rate'] for e in history['epochs']]
  assert rates[0] == pytest.approx(1e-9)
  assert rates[2] == pytest.approx(1e-10)
  assert [e.get('best', False) for e in history['epochs']] == [
      True, False, False]


def test_fine_tuning_restores_all_but_the_head_and_trains_only_it(tmp_path):
  train, val = synthetic()
  training.Trainer(train, val, str(tmp_path / 'pre'),
                   dataclasses.replace(CONFIG, epochs=1)).train(
                       progress=False, log=quiet)
  pretrained = model_dir_lib.latest_checkpoint(str(tmp_path / 'pre'))
  train3, val3 = synthetic(classes=3, seed=1)
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match="exclude the logits"):
    training.Trainer(train3, val3, str(tmp_path / 'bad'), dataclasses.replace(
        CONFIG, checkpoint=pretrained)).train(progress=False, log=quiet)
  assert not os.path.exists(tmp_path / 'bad' / 'model.json')
  tuned = training.Trainer(train3, val3, str(tmp_path / 'tuned'),
                           dataclasses.replace(
                               CONFIG, epochs=1, checkpoint=pretrained,
                               exclude=('*/logits/*',),
                               trainable=('*/logits/*',),
                               freeze_batch_norm=True))
  history = tuned.train(progress=False, log=quiet)
  assert history['restored_from']['excluded'] == [
      'cifar_resnet_v1_8/logits/biases', 'cifar_resnet_v1_8/logits/weights']
  reader = tf.train.load_checkpoint(pretrained)
  for name, value in weights(tuned).items():
    if '/logits/' in name:
      assert value.shape[-1] == 3
    else:   # the body, batch norm included, is the pretrained one
      np.testing.assert_array_equal(value, reader.get_tensor(name))


def write_folder(root, classes=2, per_class=12, size=20, seed=0):
  rng = np.random.default_rng(seed)
  for label in range(classes):
    for index in range(per_class):
      image = rng.integers(0, 60, (size, size + index % 3, 3))
      image[:, label * 6:(label + 1) * 6] += 150
      path = root / ('class_%d' % label) / ('%02d.png' % index)
      path.parent.mkdir(parents=True, exist_ok=True)
      path.write_bytes(tf.io.encode_png(image.astype(np.uint8)).numpy())
  return root


def test_commands_train_eval_predict_export_on_one_model_dir(tmp_path,
                                                             capsys):
  data = write_folder(tmp_path / 'images')
  (data / 'class_1' / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n cut')
  run = str(tmp_path / 'run')
  assert cli.main(['train', '--model', 'cifar_resnet_v1_8', '--data',
                   str(data), '--image-size', '16', '--epochs', '2',
                   '--batch-size', '8', '--learning-rate', '0.05',
                   '--model-dir', run]) == 0
  assert 'validation accuracy' in capsys.readouterr().out
  history = json.loads((tmp_path / 'run' / 'history.json').read_text())
  assert [os.path.basename(p) for p, _ in history['skipped_files']] == [
      'broken.png']

  assert cli.main(['eval', '--model-dir', run, '--data', str(data)]) == 0
  metrics = json.loads((tmp_path / 'run' / 'eval' / 'metrics.json')
                       .read_text())
  assert metrics['count'] == 24
  assert [c['name'] for c in metrics['per_class']] == ['class_0', 'class_1']
  assert np.asarray(metrics['confusion']).sum() == 24
  assert (tmp_path / 'run' / 'eval' / 'confusion.png').exists()

  capsys.readouterr()
  image = str(data / 'class_0' / '00.png')
  assert cli.main(['predict', '--model-dir', run, image, '--top', '2']) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == image
  assert {line.split()[-1] for line in lines[1:]} == {'class_0', 'class_1'}

  exported = str(tmp_path / 'exported')
  assert cli.main(['export', '--model-dir', run, '--output', exported]) == 0
  # A fresh process that cannot import resnet_v2 serves it.
  script = '''if True:
      import sys
      sys.modules['resnet_v2'] = None
      import tensorflow as tf
      model = tf.saved_model.load(sys.argv[1])
      data = tf.io.read_file(sys.argv[2])
      out = model.signatures['serving_default'](
          image_bytes=tf.stack([data, data]))
      print(out['class_names'].numpy()[0].decode(), out['probabilities'].shape,
            out['features'].shape)
  '''
  done = subprocess.run([sys.executable, '-c', script, exported, image],
                        capture_output=True, text=True, check=True)
  name, rest = done.stdout.split(None, 1)
  assert name in ('class_0', 'class_1')
  assert rest.split() == ['(2,', '2)', '(2,', '64)']


@pytest.mark.parametrize('make, message', [
    (lambda root: root.mkdir(), 'neither class folders'),
    (lambda root: (root / 'one').mkdir(parents=True), 'at least two'),
])
def test_train_command_refuses_bad_data_before_building(tmp_path, capsys,
                                                        make, message):
  make(tmp_path / 'data')
  assert cli.main(['train', '--data', str(tmp_path / 'data'),
                   '--model-dir', str(tmp_path / 'run')]) == 1
  assert message in capsys.readouterr().err
  assert not (tmp_path / 'run').exists()


def test_commands_refuse_a_folder_that_is_not_a_model_dir(tmp_path, capsys):
  assert cli.main(['predict', '--model-dir', str(tmp_path), 'x.png']) == 1
  assert 'is not a model dir (no model.json)' in capsys.readouterr().err


def test_a_label_outside_the_classes_is_one_error_line(tmp_path, capsys):
  from test_inputs import write_tfrecord  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  records = [(rng.integers(0, 255, (16, 16, 3), np.uint8), label)
             for label in (0, 1, 0, 5)]
  write_tfrecord(tmp_path / 'train.tfrecord', records)
  write_tfrecord(tmp_path / 'val.tfrecord', records[:2])
  assert cli.main(['train', '--model', 'cifar_resnet_v1_8', '--data',
                   str(tmp_path / 'train.tfrecord'), '--val-data',
                   str(tmp_path / 'val.tfrecord'), '--num-classes', '2',
                   '--batch-size', '4', '--epochs', '1', '--image-size', '16',
                   '--model-dir', str(tmp_path / 'run')]) == 1
  error = capsys.readouterr().err.strip().splitlines()
  assert len(error) == 1 and 'is outside 0..1' in error[0]
  assert 'train.tfrecord' in error[0]


def test_resnet_v1_50_on_a_64x64_six_class_folder_with_adam(tmp_path):
  # The Coursera SIGNS setting: ResNet-50 v1, Adam, 64x64, 6 classes.
  data = write_folder(tmp_path / 'signs', classes=6, per_class=3, size=70)
  run = tmp_path / 'run'
  assert cli.main(['train', '--model', 'resnet_v1_50', '--data', str(data),
                   '--val-data', str(data), '--image-size', '64',
                   '--optimizer', 'adam', '--schedule', 'constant',
                   '--batch-size', '6', '--max-steps', '2', '--model-dir',
                   str(run)]) == 0
  record = record_lib.Record.read(str(run))
  assert (record.model, record.num_classes, record.image_size,
          record.preprocessing) == ('resnet_v1_50', 6, 64, 'vgg')
  assert tf.train.latest_checkpoint(str(run)).endswith('model.ckpt-2')


def test_a_diverging_run_stops_before_saving_non_finite_weights(tmp_path):
  train, val = synthetic()
  model_dir = str(tmp_path / 'run')
  config = dataclasses.replace(CONFIG, learning_rate=1e12,
                               save_every_steps=1, epochs=5)
  trainer = training.Trainer(train, val, model_dir, config)
  with pytest.raises(errors.TrainingDiverged, match=r'step (\d+): the loss '
                     r'is .* training diverged') as error:
    trainer.train(progress=False, log=quiet)
  stopped = int(error.value.args[0].split()[1].rstrip(':'))
  latest = model_dir_lib.latest_checkpoint(model_dir)
  assert latest and int(latest.rsplit('-', 1)[1]) == stopped - 1
  reader = tf.train.load_checkpoint(latest)
  for name in trainer.model_variables:
    assert np.isfinite(reader.get_tensor(name)).all(), name
  assert not os.path.exists(os.path.join(model_dir, lock_lib.LOCK_NAME))
  # A checkpoint holding non-finite weights (an older run's) is not resumed.
  values = {name: reader.get_tensor(name) for name in
            reader.get_variable_to_shape_map()}
  values['cifar_resnet_v1_8/conv1/weights'][0, 0, 0, 0] = np.nan
  bad = os.path.join(model_dir, 'model.ckpt-%d' % stopped)
  checkpoint_files.save_by_name({k: tf.constant(v) for k, v in values.items()},
                           bad)
  model_dir_lib.add_checkpoint(model_dir, bad)
  with pytest.raises(errors.TrainingDiverged, match='non-finite weights'):
    training.Trainer(train, val, model_dir, config).train(
        resume=True, progress=False, log=quiet)


def test_validation_and_resume_go_by_class_name(tmp_path):
  train, val = synthetic(classes=3)
  # Validation data with two of the three classes, in another numbering.
  keep = np.asarray(val.labels) > 0
  subset = sources.arrays_source(val.items[keep], np.asarray(val.labels)[keep]
                                - 1, ['band1', 'band2'], 'val')
  trainer = training.Trainer(train, subset, str(tmp_path / 'run'),
                             dataclasses.replace(CONFIG, epochs=1))
  assert sorted(set(trainer.val_source.labels.tolist())) == [1, 2]
  unknown = subset._replace(class_names=['band1', 'zebra'])
  with pytest.raises(ValueError, match=r"does not know: \['zebra'\]"):
    training.Trainer(train, unknown, str(tmp_path / 'other'), CONFIG)
  trainer.train(progress=False, log=quiet)
  renamed = train._replace(class_names=['band0', 'band1', 'kiwi'])
  with pytest.raises(ValueError, match=r"classes: \['band2'\] in the model "
                     r"dir, \['kiwi'\] now"):
    training.Trainer(renamed, None, str(tmp_path / 'run'), CONFIG)


def test_best_and_checkpoints_are_readable_by_other_users(tmp_path):
  train, val = synthetic()
  old_umask = os.umask(0o022)
  try:
    training.Trainer(train, val, str(tmp_path / 'run'),
                     dataclasses.replace(CONFIG, epochs=1)).train(
                         progress=False, log=quiet)
  finally:
    os.umask(old_umask)
  best = tmp_path / 'run' / model_dir_lib.BEST_DIR
  assert oct(best.stat().st_mode & 0o777) == oct(0o755)
