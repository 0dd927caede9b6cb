"""Shared fixtures: every graph-building test gets a fresh graph and session;
every in-process command line run is checked for TensorFlow's op text."""

import contextlib
import io
import re
import sys

import numpy as np
import pytest
import tensorflow as tf


@pytest.fixture
def graph():
  """A fresh default graph; eager execution stays on outside it."""
  with tf.Graph().as_default() as g:
    tf.compat.v1.set_random_seed(0)
    yield g


@pytest.fixture
def session(graph):
  with tf.compat.v1.Session(graph=graph) as sess:
    yield sess


@pytest.fixture
def rng():
  return np.random.default_rng(0)


# TensorFlow's op text, which must never reach a user of the command line.
OP_TEXT = re.compile(r'\{\{function_node|\[Op:[A-Za-z]|/job:localhost|'
                     r'\{\{node ')


class _Tee(io.TextIOBase):
  """Writes to two text streams."""

  def __init__(self, first, second):
    super().__init__()
    self._streams = (first, second)

  def write(self, text):
    for stream in self._streams:
      stream.write(text)
    return len(text)

  def flush(self):
    for stream in self._streams:
      stream.flush()


@pytest.fixture(autouse=True)
def command_line_errors_carry_no_op_text(monkeypatch):
  """Every in-process run of the command line in the suite is checked:
  nothing it prints to stderr carries TensorFlow's op text."""
  from resnet_v2 import cli  # pylint: disable=g-import-not-at-top
  real = cli.main

  def checked(argv=None):
    seen = io.StringIO()
    with contextlib.redirect_stderr(_Tee(sys.stderr, seen)):
      code = real(argv)
    assert not OP_TEXT.search(seen.getvalue()), (
        'TensorFlow op text reached the user: %s' % seen.getvalue()[-800:])
    return code
  monkeypatch.setattr(cli, 'main', checked)


# The files that take longest, longest first (from `pytest --durations=0`
# on a 2-core Zen 4): `-n auto --dist loadfile --no-loadscope-reorder`
# hands files to the two workers in this order, so the long ones start
# early and the many short ones fill in at the end, and both workers finish
# together (xdist's own reorder, by number of tests, sent the few-test,
# long files last).
LONGEST_FILES = (
    'test_benchmarks.py', 'test_training_faults.py', 'test_readme.py',
    'test_convert.py', 'test_distribute.py', 'test_experiments.py',
    'test_ray_distributor.py', 'test_weights.py', 'test_resnet.py',
    'test_train_speed.py', 'test_module.py', 'test_examples.py',
    'test_trainer.py', 'test_shards.py', 'test_quantize.py',
    'test_evaluate.py', 'test_onednn.py', 'test_model.py',
    'test_tf_slim_compat.py', 'test_service.py')


def pytest_collection_modifyitems(items):
  rank = {name: place for place, name in enumerate(LONGEST_FILES)}
  items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
