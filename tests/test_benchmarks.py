"""The benchmark command on tiny runs: JSON schema, arithmetic, errors, plot."""

import json

import numpy as np
import tensorflow as tf

import pytest

from benchmarks import children
from benchmarks import cli
from benchmarks import plot
from resnet_v2 import runtime

TINY = ['--model', 'resnet_v2_50', '--batch-size', '2', '--image-size', '32',
        '--num-batches', '3', '--burn-in', '1']
FIELDS = {'model', 'batch_size', 'image_size', 'mode', 'precision', 'device',
          'device_name', 'data_format', 'tensorflow', 'step_times_s', 'mean_s',
          'std_s', 'images_per_s', 'flops_per_image', 'achieved_gflops',
          'peak_rss_bytes', 'threads', 'xla', 'feed', 'effective_precision',
          'onednn', 'cpu_flags'}


def run_cli(tmp_path, *extra):
  path = tmp_path / 'result.json'
  assert cli.main(TINY + ['--json', str(path)] + list(extra)) == 0
  assert not [p for p in tmp_path.iterdir() if p.name.startswith('.tmp_')]
  return json.loads(path.read_text())


def test_json_holds_the_schema_and_consistent_numbers(tmp_path, capsys):
  result = run_cli(tmp_path, '--no-memory', '--threads', '2:1')
  assert FIELDS <= set(result)
  assert (result['model'], result['batch_size'], result['image_size']) == (
      'resnet_v2_50', 2, 32)
  assert (result['mode'], result['precision'], result['device']) == (
      'forward', 'fp32', 'cpu')
  assert result['threads'] == [2, 1]
  assert result['command'].startswith('python -m benchmarks --model '
                                      'resnet_v2_50')
  times = result['step_times_s']
  assert len(times) == 3
  assert result['mean_s'] == pytest.approx(sum(times) / 3)
  assert result['images_per_s'] == pytest.approx(2 / result['mean_s'])
  assert result['achieved_gflops'] == pytest.approx(
      result['flops_per_image'] * 2 / result['mean_s'] / 1e9)
  # resnet_v2_50 at 32x32 is (32/224)^2 of its 224x224 cost, roughly.
  assert 0.1e9 < result['flops_per_image'] < 0.2e9
  assert result['peak_rss_bytes'] is None
  assert result['effective_precision'] == 'fp32'
  assert result['onednn'] == runtime.onednn_enabled()
  out = capsys.readouterr().out
  assert 'across 3 steps' in out and 'GFLOP/s achieved' in out


def test_compare_keras_and_peak_memory(tmp_path, capsys):
  result = run_cli(tmp_path, '--compare', 'keras')
  keras = result['keras']
  assert keras['model'] == 'ResNet50V2' and len(keras['step_times_s']) == 3
  assert result['ratio_to_keras'] == pytest.approx(
      result['mean_s'] / keras['mean_s'])
  # Fresh processes that loaded TensorFlow and a net: hundreds of MB.
  assert result['peak_rss_bytes'] > 200e6 and keras['peak_rss_bytes'] > 200e6
  assert 'resnet_v2 / keras = ' in capsys.readouterr().out


def test_forward_backward_counts_the_backward_pass(tmp_path):
  forward = run_cli(tmp_path, '--no-memory')
  training = run_cli(tmp_path, '--no-memory', '--mode', 'forward-backward')
  # Gradients with respect to inputs and weights: about 3x the forward cost.
  assert 2.5 < training['flops_per_image'] / forward['flops_per_image'] < 3.5


@pytest.mark.parametrize('argv, message', [
    (['--threads', 'two'], 'INTRA or INTRA:INTER'),
    (['--image-size', '16'], 'at least 32'),
    (['--precision', 'fp16', '--device', 'cpu'], 'fp16 runs on GPUs only'),
    (['--model', 'resnet_v2_200', '--compare', 'keras'], 'Keras has no'),
    (['--num-batches', '0'], 'integer >= 1'),
    (['x.json'], 'only read with --plot'),
    (['--batch-sizes', '1,x'], 'comma-separated list'),
    (['--sweep-plot', 'a.png'], '--sweep-plot needs --batch-sizes'),
    (['--compare', 'keras,tensorrt'], 'comma-separated list of keras, '
     'openvino, onnxruntime'),
    (['--precision', 'int8', '--mode', 'forward-backward'],
     '--engine openvino time the forward pass'),
    (['--engine', 'openvino', '--mode', 'forward-backward'],
     'drop --mode, --device'),
    (['--engine', 'tensorflow', '--precision', 'int8'], 'int8 runs on '
     'OpenVINO'),
])
def test_bad_arguments_exit_with_a_message(argv, message, capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(argv)
  assert exit_info.value.code == 2
  assert message in capsys.readouterr().err


def test_plot_draws_a_png_from_results(tmp_path):
  pytest.importorskip('matplotlib')
  result = {'model': 'resnet_v2_152', 'mode': 'forward', 'precision': 'bf16',
            'batch_size': 32, 'image_size': 224, 'mean_s': 2.0, 'std_s': 0.1,
            'keras': {'mean_s': 3.7, 'std_s': 0.1}}
  paths = []
  for index in range(2):
    paths.append(tmp_path / ('r%d.json' % index))
    paths[-1].write_text(json.dumps(result))
  png = tmp_path / 'out.png'
  assert cli.main(['--plot', str(png)] + [str(p) for p in paths]) == 0
  assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_plot_refuses_files_that_are_not_results(tmp_path):
  bad = tmp_path / 'bad.json'
  bad.write_text('{"model": "x"}')
  with pytest.raises(ValueError, match='no mean_s'):
    plot.load_results([str(bad)])
  with pytest.raises(ValueError, match='not a readable JSON'):
    plot.load_results([str(tmp_path / 'missing.json')])


def weights_after_steps(step, variables_of, count=2):
  before = [np.array(v) for v in variables_of(step)]
  for _ in range(count):
    step()
  after = [np.array(v) for v in variables_of(step)]
  return sum(not np.array_equal(a, b) for a, b in zip(before, after)), len(
      before)


def test_forward_backward_steps_really_train_every_weight():
  # A step whose gradients nothing uses is pruned by grappler and computes
  # nothing: both implementations must change every trainable weight.
  from benchmarks import steps  # pylint: disable=g-import-not-at-top
  ours = steps.ProjectStep('resnet_v2_50', 2, 32, 'forward-backward')

  def our_weights(step):
    with step.graph.as_default():
      return step.session.run(tf.compat.v1.trainable_variables())
  changed, total = weights_after_steps(ours, our_weights)
  assert changed == total
  keras = steps.KerasStep('resnet_v2_50', 2, 32, 'forward-backward')
  changed, total = weights_after_steps(
      keras, lambda step: [v.numpy() for v in step.model.trainable_variables])
  assert changed == total


def test_onednn_best_runs_both_settings_and_keeps_each_best(tmp_path, capsys):
  result = run_cli(tmp_path, '--onednn', 'best', '--compare', 'keras',
                   '--no-memory')
  runs = result['runs']
  assert sorted(r['onednn'] for r in runs) == [False, True]
  assert result['mean_s'] == min(r['mean_s'] for r in runs)
  assert result['keras']['mean_s'] == min(r['keras_mean_s'] for r in runs)
  assert result['ratio_to_keras'] == pytest.approx(
      result['mean_s'] / result['keras']['mean_s'])
  assert '--onednn best' in result['command']
  assert 'TF_ENABLE_ONEDNN_OPTS=0' in capsys.readouterr().out


def test_batch_size_sweep_writes_rows_and_a_plot(tmp_path):
  pytest.importorskip('matplotlib')
  png = tmp_path / 'sweep.png'
  result = run_cli(tmp_path, '--batch-sizes', '1,3', '--no-memory',
                   '--sweep-plot', str(png))
  assert [row['batch_size'] for row in result['sweep']] == [1, 3]
  assert all(len(row['step_times_s']) == 3 for row in result['sweep'])
  assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_strip_options_drops_options_and_their_values():
  argv = ['--model', 'm', '--onednn', 'best', '--json=x.json', '--xla']
  assert children.strip_options(argv, ('--onednn', '--json')) == [
      '--model', 'm', '--xla']


def test_a_refused_setting_is_skipped_and_recorded():
  results = [None, {'mean_s': 2.0, 'onednn': True, 'batch_size': 1,
                    'model': 'm'}]
  best = children.best_of(results)
  assert best['runs'] == [{'onednn': True, 'mean_s': 2.0,
                           'keras_mean_s': None}]
  with pytest.raises(RuntimeError, match='no oneDNN setting'):
    children.best_of([None])


def test_int8_against_openvino_with_a_missing_comparator_skipped(
    tmp_path, capsys, monkeypatch):
  pytest.importorskip('openvino')
  pytest.importorskip('nncf')
  from benchmarks import engines  # pylint: disable=g-import-not-at-top
  real_versions = engines.versions
  monkeypatch.setattr(engines, 'versions', lambda name: None if name == (
      'onnxruntime') else real_versions(name))
  result = run_cli(tmp_path, '--no-memory', '--precision', 'int8',
                   '--compare', 'openvino,onnxruntime')
  # What ran, read off the compiled models: int8 convolutions, both.
  assert (result['precision'], result['effective_precision'],
          result['engine']) == ('int8', 'int8', 'openvino')
  openvino = result['comparators']['openvino']
  assert (openvino['model'], openvino['effective_precision']) == (
      'ResNet50V2', 'int8')
  assert openvino['ratio'] == pytest.approx(result['mean_s'] /
                                            openvino['mean_s'])
  assert result['skipped_comparators'] == {
      'onnxruntime': "not installed: pip install 'resnet_v2[onnx]'"}
  assert result['versions']['openvino'].startswith('openvino ')
  assert 0.1e9 < result['flops_per_image'] < 0.2e9
  out = capsys.readouterr().out
  assert 'skipped onnxruntime: not installed' in out
  assert 'resnet_v2 / openvino = ' in out


def test_our_net_on_openvino_in_fp32(tmp_path):
  pytest.importorskip('openvino')
  result = run_cli(tmp_path, '--no-memory', '--engine', 'openvino')
  assert (result['engine'], result['precision'],
          result['effective_precision']) == ('openvino', 'fp32', 'fp32')
  assert result['versions']['openvino'].startswith('openvino ')
  assert len(result['step_times_s']) == 3 and result['mean_s'] > 0
