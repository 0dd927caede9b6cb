"""experiments/: the Fashion-MNIST run end to end on a small generated IDX
folder, and its Keras net is ours layer for layer."""

import json

import numpy as np

from benchmarks import twins
from experiments import fashion_mnist
from resnet_v2.nets import module as module_lib
from test_idx import write_split


def test_the_keras_net_has_our_nets_parameters():
  ours = module_lib.ResNetModule('cifar_resnet_v1_20', 10)
  theirs = twins.keras_cifar_resnet_v1(20, 10, 1e-4)
  shapes = sorted(tuple(v.shape) for v in ours.net_variables)
  keras_shapes = sorted(tuple(w.shape) for w in theirs.weights)
  # Conv kernels, BN gamma/beta/mean/variance, the classifier (Keras's
  # Dense kernel is ours without the 1x1 spatial dimensions).
  keras_shapes = sorted((1, 1) + s if len(s) == 2 else s
                        for s in keras_shapes)
  # 21 conv kernels, 21 batch norms, the classifier.
  assert shapes == keras_shapes and len(shapes) == 21 + 4 * 21 + 2


def test_fashion_mnist_experiment_end_to_end(tmp_path):
  data = tmp_path / 'idx'
  data.mkdir()
  write_split(data, 'train', 160, 0, size=28)
  write_split(data, 't10k', 40, 1, size=28, gz=False)
  out = tmp_path / 'out'
  # ResNet-8 (the recipe and the comparison are the same for any depth).
  fashion_mnist.main(['--data', str(data), '--model-dir',
                      str(tmp_path / 'run'), '--out', str(out), '--epochs',
                      '2', '--batch-size', '16', '--compare-epochs', '1',
                      '--model', 'cifar_resnet_v1_8',
                      '--recipe', '--schedule onecycle --ema 0.9 --tta flip '
                      '--random-erasing 0.5'])
  results = json.loads((out / 'results.json').read_text())
  assert [e['epoch'] for e in results['ours']] == [1, 2]
  assert '--ema 0.9' in results['train_command']
  assert 0 < results['time_to_accuracy_seconds'] <= results[
      'wall_seconds_this_command']
  assert set(results['validation_top1_by_weights_and_flips']) == {
      'trained weights, tta none', 'trained weights, tta flip',
      'average, tta none', 'average, tta flip'}
  assert results['test']['count'] == 40
  assert [c['name'] for c in results['test']['per_class']] == list(
      fashion_mnist.CLASS_NAMES)
  per_class = np.array([c['accuracy'] for c in results['test']['per_class']])
  assert np.isclose(per_class.mean(), results['test']['top1'])  # 4 each
  for run in ('ours', 'keras'):
    epochs = results['compare'][run]
    assert len(epochs) == 1 and epochs[0]['images_per_second'] > 0
    assert 0 <= epochs[0]['val_accuracy'] <= 1
  assert (out / 'curves.png').stat().st_size > 10000
  # A second call reuses the finished runs instead of training again.
  fashion_mnist.main(['--data', str(data), '--model-dir',
                      str(tmp_path / 'run'), '--out', str(out), '--epochs',
                      '2', '--batch-size', '16', '--compare-epochs', '0',
                      '--model', 'cifar_resnet_v1_8',
                      '--recipe', '--schedule onecycle --ema 0.9 --tta flip '
                      '--random-erasing 0.5'])
  again = json.loads((out / 'results.json').read_text())
  assert again['ours'] == results['ours']
  assert again['time_to_accuracy_seconds'] is None
