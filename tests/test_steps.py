"""The training and evaluation steps: bf16 against fp32, bf16 refused
where the CPU cannot run it, Nesterov momentum, and flip test-time
augmentation against averaging by hand."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import cli
from resnet_v2 import metrics
from resnet_v2 import runtime
from resnet_v2.nets import module as tf2
from resnet_v2.train import trainer as training
from tests import test_trainer

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)

# An AVX-512 CPU without any bf16 instruction (oneDNN would emulate bf16).
AVX512_ONLY = frozenset({'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl',
                         'avx512dq'})


def loss_and_gradients(precision, images, labels):
  """One step's loss and gradients of a seeded net, in a fresh tf.function
  traced under `precision` (the rewrite applies to graphs made after it is
  turned on)."""
  tf.random.set_seed(0)
  module = tf2.ResNetModule('cifar_resnet_v1_8', 10)
  variables = list(module.trainable_variables_by_name.values())

  def step(images, labels):
    with tf.GradientTape() as tape:
      logits, _ = module(images, training=True, update_moving_averages=False)
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels, tf.cast(logits, tf.float32)))
    return loss, tape.gradient(loss, variables)
  runtime.enable_precision(precision)
  try:
    loss, gradients = tf.function(step, autograph=False)(images, labels)
  finally:
    runtime.enable_precision('fp32')
  return float(loss), [g.numpy() for g in gradients], variables


@pytest.mark.skipif(runtime.bf16_support()[0] != 'native',
                    reason='no native bf16 here: %s' %
                    runtime.bf16_support()[1])
def test_a_bf16_step_agrees_with_fp32_within_bf16s_precision():
  rng = np.random.default_rng(0)
  images = tf.constant(rng.uniform(-1, 1, (32, 16, 16, 3)), tf.float32)
  labels = tf.constant(rng.integers(0, 10, 32))
  loss32, grads32, variables = loss_and_gradients('fp32', images, labels)
  loss16, grads16, _ = loss_and_gradients('bf16', images, labels)
  # Variables stay float32; the loss is computed in float32.
  assert all(v.dtype == tf.float32 for v in variables)
  assert not all(np.array_equal(a, b) for a, b in zip(grads32, grads16))
  # bf16 keeps 8 bits of mantissa (relative step 2**-8 = 0.4%), and the
  # rounding adds up through the layers. Stated tolerance: the loss within
  # 1%; the whole gradient within 15% of fp32's by norm (cosine > 0.99);
  # every layer's gradient pointing the same way (cosine > 0.95).
  assert loss16 == pytest.approx(loss32, rel=1e-2)

  def cosine(a, b):
    return np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30)
  for a, b in zip(grads32, grads16):
    assert cosine(a, b) > 0.95
  whole32 = np.concatenate([g.ravel() for g in grads32])
  whole16 = np.concatenate([g.ravel() for g in grads16])
  assert cosine(whole32, whole16) > 0.99
  assert np.linalg.norm(whole32 - whole16) <= 0.15 * np.linalg.norm(whole32)


def test_bf16_training_is_refused_in_one_line_without_bf16(tmp_path,
                                                           monkeypatch,
                                                           capsys):
  monkeypatch.setattr(runtime.cpu, 'flags', lambda: AVX512_ONLY)
  train, val = test_trainer.synthetic()
  config = dataclasses.replace(test_trainer.CONFIG, precision='bf16')
  with pytest.raises(ValueError, match='bf16 training needs a CPU with bf16 '
                     'instructions .*Train in fp32'):
    training.Trainer(train, val, str(tmp_path / 'run'), config)
  data = tmp_path / 'data'
  for name in ('a', 'b'):
    (data / name).mkdir(parents=True)
    for index in range(2):
      (data / name / ('%d.png' % index)).write_bytes(tf.io.encode_png(
          np.zeros([8, 8, 3], np.uint8)).numpy())
  assert cli.main(['train', '--data', str(data), '--precision', 'bf16',
                   '--model', 'cifar_resnet_v1_8', '--image-size', '8',
                   '--batch-size', '1', '--model-dir',
                   str(tmp_path / 'run')]) == 1
  error = capsys.readouterr().err.strip().splitlines()
  assert len(error) == 1 and 'bf16 training needs' in error[0]


def test_nesterov_updates_by_the_look_ahead_rule(tmp_path):
  train, val = test_trainer.synthetic()
  plain = training.Trainer(train, val, str(tmp_path / 'a'), test_trainer.CONFIG)
  nesterov = training.Trainer(train, val, str(tmp_path / 'b'),
                              dataclasses.replace(test_trainer.CONFIG,
                                                  nesterov=True))
  assert not plain.steps.optimizer._use_nesterov  # pylint: disable=protected-access
  assert nesterov.steps.optimizer._use_nesterov  # pylint: disable=protected-access
  # One variable, two steps of a fixed gradient g: plain momentum moves by
  # lr*g then lr*(1.9 g); Nesterov by lr*1.9 g then lr*2.71 g.
  variable = tf.Variable([1.0])
  optimizer = nesterov.steps.optimizer.__class__(0.1, 0.9, use_nesterov=True)
  for _ in range(2):
    optimizer.apply_gradients([(tf.constant([1.0]), variable)])
  assert float(variable[0]) == pytest.approx(1.0 - 0.1 * (1.9 + 2.71))


def test_flip_tta_equals_averaging_the_two_predictions_by_hand(tmp_path):
  train, val = test_trainer.synthetic()
  config = dataclasses.replace(test_trainer.CONFIG, epochs=1, tta='flip')
  trainer = training.Trainer(train, val, str(tmp_path), config)
  trainer.train(progress=False, log=test_trainer.quiet)
  images, labels = next(iter(trainer._dataset(val, False)))  # pylint: disable=protected-access
  counts = trainer.eval_step((images, labels))
  logits, _ = trainer.module(images, training=False)
  mirrored, _ = trainer.module(images[:, :, ::-1], training=False)
  averaged = (tf.nn.softmax(logits) + tf.nn.softmax(mirrored)).numpy() / 2
  expected_loss = -np.log(averaged[np.arange(len(labels)), labels]).sum()
  assert float(counts['loss']) == pytest.approx(expected_loss, rel=1e-5)
  predicted = averaged.argmax(1)
  assert int(np.trace(counts['confusion'].numpy())) == int(
      (predicted == labels.numpy()).sum())
  # metrics.flip_average on numpy too (eval's path).
  np.testing.assert_allclose(
      np.exp(metrics.flip_average(logits.numpy(), mirrored.numpy())),
      averaged, rtol=1e-5)
