"""Evaluation: published checkpoints on TF-Slim ImageNet TFRecords (labels
1-based, 0 = background)."""

import json

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from resnet_v2 import cli
from nets_for_tests import write_checkpoint
from test_inputs import write_tfrecord


@pytest.mark.parametrize('classes, offset, expected', [
    (1001, None, [1, 2, 3]),      # background kept: labels as written
    (1000, None, [0, 1, 2]),      # 1-based records onto 1000 classes
])
def test_published_checkpoint_on_slim_tfrecords(tmp_path, capsys, classes,
                                                offset, expected):
  checkpoint = tmp_path / 'r50.ckpt'
  write_checkpoint(checkpoint, lambda x: resnet_v2.resnet_v2_50(
      x, num_classes=classes), np.random.default_rng(0))
  rng = np.random.default_rng(1)
  write_tfrecord(tmp_path / 'validation-00000-of-00001',
                 [(rng.integers(0, 255, (40, 36, 3), np.uint8), label)
                  for label in (1, 2, 3)])
  output = tmp_path / 'report'
  argv = ['eval', '--model', 'resnet_v2_50', '--checkpoint', str(checkpoint),
          '--image-size', '32', '--data', str(tmp_path / 'validation-*'),
          '--output', str(output)]
  assert cli.main(argv) == 0
  metrics = json.loads((output / 'metrics.json').read_text())
  assert metrics['count'] == 3
  assert [c['class'] for c in metrics['per_class']] == expected
  assert len(metrics['confusion']) == classes
  assert 'top-1' in capsys.readouterr().out


def test_eval_refuses_a_checkpoint_without_logits(tmp_path, capsys):
  checkpoint = tmp_path / 'features.ckpt'
  write_checkpoint(checkpoint, lambda x: resnet_v2.resnet_v2_50(x),
                   np.random.default_rng(0))
  folder = tmp_path / 'data'
  for name in ('a', 'b'):
    (folder / name).mkdir(parents=True)
    (folder / name / '1.png').write_bytes(tf.io.encode_png(
        np.zeros((8, 8, 3), np.uint8)).numpy())
  assert cli.main(['eval', '--model', 'resnet_v2_50', '--checkpoint',
                   str(checkpoint), '--data', str(folder)]) == 1
  assert 'has no resnet_v2_50/logits' in capsys.readouterr().err
