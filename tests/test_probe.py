"""Linear and k-NN probes of labelled features folders."""

import numpy as np
import pytest

from features_for_tests import write_folder
from resnet_v2.search import probe

pytestmark = pytest.mark.quick


def blobs(count, seed, classes=4, dims=16, spread=0.5):
  centers = np.random.default_rng(0).normal(size=(classes, dims)) * 2
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, classes, count)
  return (centers[labels] + spread * rng.normal(size=(count, dims))).astype(
      np.float32), labels


def test_separable_features_probe_near_perfect_and_noise_at_chance(tmp_path):
  train, train_labels = blobs(400, 1)
  test, test_labels = blobs(200, 2)
  write_folder(tmp_path / 'train', [train[:200], train[200:]],
               labels=train_labels)
  write_folder(tmp_path / 'test', [test], labels=test_labels)
  results = probe.probe(str(tmp_path / 'train'), str(tmp_path / 'test'))
  assert results['global_pool']['logistic']['top1'] >= 0.97
  assert results['global_pool']['knn']['top1'] >= 0.97
  shuffled = np.random.default_rng(3).permutation(test_labels)
  write_folder(tmp_path / 'noise', [test], labels=shuffled)
  noise = probe.probe(str(tmp_path / 'train'), str(tmp_path / 'noise'))
  assert noise['global_pool']['logistic']['top1'] < 0.45


def test_knn_is_dinos_weighted_vote():
  train = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [-1, 0]],
                   np.float32)
  labels = np.array([0, 0, 1, 1, 2])
  test = np.array([[1, 0.05], [0.05, 1], [-1, 0.2]], np.float32)
  unit = train / np.linalg.norm(train, axis=1, keepdims=True)
  queries = test / np.linalg.norm(test, axis=1, keepdims=True)
  votes = np.zeros([3, 3])
  for q in range(3):
    similarity = unit @ queries[q]
    for row in np.argsort(-similarity)[:3]:
      votes[q, labels[row]] += np.exp(similarity[row] / 0.07)
  expected = votes.argmax(1)
  for wrong_truth in (expected, (expected + 1) % 3):
    result = probe.knn(train, labels, test, wrong_truth, k=3)
    assert result['top1'] == pytest.approx(
        np.mean(expected == wrong_truth))


def test_the_strength_is_chosen_on_validation_not_on_test():
  train, train_labels = blobs(300, 1, spread=2.0)
  test, test_labels = blobs(100, 2, spread=2.0)
  first = probe.logistic(train, train_labels, test, test_labels)
  moved = probe.logistic(train, train_labels, test, (test_labels + 1) % 4)
  assert first['C'] == moved['C']
  assert first['C'] in [c for g in probe.C_GRID
                        for c in (g, g / np.sqrt(10), g * np.sqrt(10))]


def test_unlabelled_features_are_refused_naming_the_fix(tmp_path):
  train, _ = blobs(40, 1)
  write_folder(tmp_path / 'a', [train])
  write_folder(tmp_path / 'b', [train], labels=np.zeros(40, int))
  with pytest.raises(ValueError, match='40 of the 40 images .* no label'):
    probe.probe(str(tmp_path / 'a'), str(tmp_path / 'b'))
  with pytest.raises(ValueError, match='unknown probe svm'):
    probe.probe(str(tmp_path / 'b'), str(tmp_path / 'b'), methods=['svm'])
