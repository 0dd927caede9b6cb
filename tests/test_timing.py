"""The timing harness: statistics, burn-in, logging, progress, FLOP counts."""

import io
import re

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from benchmarks import timing

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


class FakeClock:
  """perf_counter stand-in: each step advances it by the next duration."""

  def __init__(self, monkeypatch):
    self.now = 0.0
    monkeypatch.setattr(timing.time, 'perf_counter', lambda: self.now)

  def step_taking(self, durations):
    durations = iter(durations)

    def step():
      self.now += next(durations)
    return step


def test_summarize_is_mean_and_population_sd():
  mean, sd = timing.summarize([1.0, 2.0, 3.0, 6.0])
  assert mean == 3.0
  assert sd == pytest.approx(np.sqrt(((4 + 1 + 0 + 9) / 4)))
  with pytest.raises(ValueError, match='at least one step'):
    timing.summarize([])


def test_burn_in_steps_are_run_but_not_timed(monkeypatch):
  clock = FakeClock(monkeypatch)
  stream = io.StringIO()
  durations = timing.time_steps(
      {'a': clock.step_taking([100.0, 100.0] + [float(i) for i in range(12)])},
      num_batches=12, num_steps_burn_in=2, stream=stream)
  assert durations == {'a': [float(i) for i in range(12)]}
  logged = re.findall(r'step (\d+), duration = ([\d.]+)', stream.getvalue())
  assert logged == [('0', '0.000'), ('10', '10.000')]


def test_steps_are_interleaved(monkeypatch):
  order = []
  timing.time_steps({'a': lambda: order.append('a'),
                     'b': lambda: order.append('b')},
                    num_batches=2, num_steps_burn_in=1, stream=io.StringIO())
  assert order == ['a', 'b'] * 3


def test_time_tensorflow_run_runs_burn_in_plus_batches(session, capsys):
  counter = tf.Variable(0)
  increment = counter.assign_add(1)
  session.run(counter.initializer)
  durations = timing.time_tensorflow_run(session, increment, 'count',
                                         num_batches=4, num_steps_burn_in=3)
  assert len(durations) == 4 and all(d > 0 for d in durations)
  assert session.run(counter) == 7
  summary = capsys.readouterr().out.strip().splitlines()[-1]
  mean, sd = timing.summarize(durations)
  assert re.fullmatch(r'\S+ \S+: count across 4 steps, %.3f \+/- %.3f sec / '
                      r'batch' % (mean, sd), summary)


def test_bad_counts_are_refused():
  with pytest.raises(ValueError, match='num_batches must be >= 1'):
    timing.time_steps({'a': lambda: None}, num_batches=0)
  with pytest.raises(ValueError, match='steps is empty'):
    timing.time_steps({})


class FakeTerminal(io.StringIO):

  def isatty(self):
    return True


def test_progress_shows_on_a_terminal_only():
  pipe, terminal = io.StringIO(), FakeTerminal()
  for stream in (pipe, terminal):
    progress = timing.Progress(2, 'run', stream)
    progress.update(1, [1.0])
    progress.update(2, [1.0, 2.0])
  assert pipe.getvalue() == ''
  assert '2/2 steps, mean 1.500 s' in terminal.getvalue()


def conv_flops(h, w, c_in, c_out, k=1):
  return 2 * h * w * c_out * k * k * c_in


def test_flops_of_a_tiny_net_by_hand(graph):
  blocks = [resnet_v2.Block('block1', resnet_v2.bottleneck, [(8, 2, 1)])]
  _, end_points = resnet_v2.resnet_v2(
      tf.zeros([1, 4, 4, 4]), blocks, num_classes=3, is_training=False,
      include_root_block=False, scope='t')
  expected = (conv_flops(4, 4, 4, 8)        # shortcut projection
              + conv_flops(4, 4, 4, 2)      # conv1
              + conv_flops(4, 4, 2, 2, 3)   # conv2
              + conv_flops(4, 4, 2, 8)      # conv3
              + 2 * 4 * 4 * 8               # biases of shortcut and conv3
              + 4 * 4 * 8                   # the residual sum
              + 4 * 4 * 8                   # global average pool
              + conv_flops(1, 1, 8, 3) + 3  # logits and their biases
              + 5 * 3)                      # softmax, as the profiler counts
  assert timing.graph_flops(graph, end_points['predictions']) == expected
  # The whole graph also holds initializers and weight-decay losses.
  assert timing.graph_flops(graph) > expected


def test_flops_of_resnet_v2_50_match_the_published_figure(graph):
  resnet_v2.resnet_v2_50(tf.zeros([1, 224, 224, 3]), num_classes=1000,
                         is_training=False)
  assert timing.graph_flops(graph) / 1e9 == pytest.approx(
      resnet_v2.NETS['resnet_v2_50'].gflops, abs=0.01)
