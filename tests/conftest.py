"""Shared fixtures: every graph-building test gets a fresh graph and session."""

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
