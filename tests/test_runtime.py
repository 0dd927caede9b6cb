"""Session configs, and bf16 features that agree with fp32 ones."""

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from resnet_v2 import cpu
from resnet_v2 import runtime
from nets_for_tests import random_values

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


@pytest.mark.onednn
@pytest.mark.skipif(runtime.bf16_support()[0] is None,
                    reason='bf16 cannot run here: %s' %
                    runtime.bf16_support()[1])
def test_bf16_config_turns_the_onednn_rewrite_on():
  rewrites = runtime.session_config('bf16').graph_options.rewrite_options
  assert rewrites.auto_mixed_precision_onednn_bfloat16 == runtime._ON
  assert runtime.session_config('fp32').graph_options.rewrite_options == (
      tf.compat.v1.ConfigProto().graph_options.rewrite_options)


def test_options_reach_the_config():
  config = runtime.session_config(intra_op_threads=2, inter_op_threads=1,
                                  xla=True, disabled_rewrites=['remapping'])
  assert config.intra_op_parallelism_threads == 2
  assert config.inter_op_parallelism_threads == 1
  assert config.graph_options.rewrite_options.remapping == runtime._OFF
  assert config.graph_options.optimizer_options.global_jit_level == (
      tf.compat.v1.OptimizerOptions.ON_1)


@pytest.mark.parametrize('kwargs, message', [
    ({'precision': 'fp8'}, 'precision must be one of'),
    ({'device': 'tpu'}, 'device must be one of'),
    ({'precision': 'fp16', 'device': 'cpu'}, 'fp16 runs on GPUs only'),
    ({'precision': 'bf16', 'device': 'gpu'}, 'CPU-only'),
    ({'disabled_rewrites': ['nope']}, 'Unknown rewrites'),
    ({'intra_op_threads': -1}, 'intra_op_threads must be an int >= 0'),
])
def test_bad_choices_are_refused(kwargs, message):
  with pytest.raises(ValueError, match=message):
    runtime.session_config(**kwargs)


def run_with(config, graph, fetch, values):
  """Runs fetch in a new session of config, with the variables set to values.

  Returns:
    (fetched value, the graph the session actually ran, as GraphDefs).
  """
  options = tf.compat.v1.RunOptions(output_partition_graphs=True)
  metadata = tf.compat.v1.RunMetadata()
  with tf.compat.v1.Session(graph=graph, config=config) as session:
    for variable, value in values.items():
      variable.load(value, session)
    result = session.run(fetch, options=options, run_metadata=metadata)
  return result, metadata.partition_graphs


def bf16_missing():
  kind, reason = runtime.bf16_support()
  return None if kind else reason


@pytest.mark.onednn
@pytest.mark.skipif(bf16_missing() is not None,
                    reason='bf16 cannot run here: %s' % bf16_missing())
def test_bf16_features_agree_with_fp32(rng):
  graph = tf.Graph()
  with graph.as_default():
    images = tf.constant(rng.uniform(-1, 1, (4, 64, 64, 3)), tf.float32)
    blocks = [resnet_v2.resnet_v2_block('block1', 8, 2, 2),
              resnet_v2.resnet_v2_block('block2', 16, 2, 1)]
    features, _ = resnet_v2.resnet_v2(images, blocks, is_training=False,
                                      spatial_squeeze=True)
    values = random_values(tf.compat.v1.global_variables(), rng)
  fp32, fp32_graphs = run_with(runtime.session_config('fp32'), graph,
                               features, values)
  bf16, bf16_graphs = run_with(runtime.session_config('bf16'), graph,
                               features, values)

  def bf16_convolutions(graph_defs):
    return sum(1 for g in graph_defs for node in g.node
               if 'Conv2D' in node.op and node.attr['T'].type == tf.bfloat16)
  # The rewrite really ran the convolutions in bf16 ...
  assert bf16_convolutions(fp32_graphs) == 0
  assert bf16_convolutions(bf16_graphs) > 0
  assert not np.array_equal(fp32, bf16)
  with tf.compat.v1.Session(graph=graph,
                            config=runtime.session_config('bf16')) as sess:
    for variable, value in values.items():
      variable.load(value, sess)
    assert runtime.effective_precision(sess, features) == 'bf16'
  # ... and the features still point the same way.
  cosine = np.sum(fp32 * bf16, -1) / (
      np.linalg.norm(fp32, axis=-1) * np.linalg.norm(bf16, axis=-1))
  assert cosine.min() >= 0.999, cosine


def test_xla_really_compiles_on_cpu():
  # A fresh process: TF_XLA_FLAGS is read once, at the first session.
  import subprocess, sys, textwrap  # pylint: disable=g-import-not-at-top,multiple-imports
  script = textwrap.dedent('''
      import tensorflow as tf
      import resnet_v2
      from resnet_v2 import runtime
      graph = tf.Graph()
      with graph.as_default():
        blocks = [resnet_v2.resnet_v2_block('block1', 2, 2, 1)]
        y, _ = resnet_v2.resnet_v2(tf.random.uniform([2, 32, 32, 3]), blocks,
                                   num_classes=3, is_training=False)
        init = tf.compat.v1.global_variables_initializer()
      metadata = tf.compat.v1.RunMetadata()
      with tf.compat.v1.Session(graph=graph,
                                config=runtime.session_config(xla=True)) as s:
        s.run(init)
        s.run(y, options=tf.compat.v1.RunOptions(output_partition_graphs=True),
              run_metadata=metadata)
      print(sum(n.op.startswith('_Xla') for g in metadata.partition_graphs
                for n in g.node))
  ''')
  done = subprocess.run([sys.executable, '-c', script], capture_output=True,
                        text=True, check=True)
  assert int(done.stdout.split()[-1]) > 0


@pytest.mark.onednn
@pytest.mark.skipif(bf16_missing() is None,
                    reason='bf16 runs here; refusal is for machines without')
def test_bf16_is_refused_where_it_cannot_run():
  with pytest.raises(ValueError, match='bf16 cannot run here: .*Use fp32'):
    runtime.session_config('bf16')


def test_bf16_without_onednn_is_refused_naming_the_switch():
  # A fresh process: oneDNN is chosen when TensorFlow loads.
  import subprocess, sys, os  # pylint: disable=g-import-not-at-top,multiple-imports
  script = ('from resnet_v2 import runtime\n'
            'try:\n  runtime.session_config("bf16")\n'
            'except ValueError as e:\n  print(e)\n')
  done = subprocess.run([sys.executable, '-c', script], capture_output=True,
                        text=True, check=True,
                        env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS='0'))
  assert 'oneDNN is off' in done.stdout
  assert 'TF_ENABLE_ONEDNN_OPTS=1' in done.stdout


def test_fp32_graph_reports_fp32(graph):
  x = tf.random.uniform([1, 8, 8, 3])
  y = tf.nn.conv2d(x, tf.ones([3, 3, 3, 2]), 1, 'SAME')
  with tf.compat.v1.Session(graph=graph) as sess:
    assert runtime.effective_precision(sess, y) == 'fp32'


def test_bf16_support_follows_the_cpu_flags(monkeypatch):
  monkeypatch.setattr(runtime, 'onednn_enabled', lambda: True)
  for flags, kind in [({'avx2', 'fma'}, None),
                      ({'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'},
                       'emulated'),
                      ({'avx512f', 'avx512_bf16'}, 'native')]:
    monkeypatch.setattr(cpu, 'flags', lambda flags=flags: flags)
    assert runtime.bf16_support()[0] == kind, flags
  monkeypatch.setattr(cpu, 'flags', lambda: {'avx2'})
  assert 'avx512f' in runtime.bf16_support()[1]
  monkeypatch.setattr(runtime, 'onednn_enabled', lambda: False)
  assert runtime.bf16_support()[0] is None
