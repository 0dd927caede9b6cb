"""How to run the nets fast: session configuration for precision, threads
and TensorFlow's graph rewrites.

Precision is a rewrite of the graph, not a second way of building it: the
nets are built in float32 (so checkpoints are unchanged) and TensorFlow's
auto-mixed-precision pass runs the matrix work in bfloat16 (oneDNN, on CPUs)
or float16 (CUDA), keeping float32 where accuracy needs it.
"""

import os

import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2

PRECISIONS = ('fp32', 'bf16', 'fp16')
DEVICES = ('cpu', 'gpu')
_ON = rewriter_config_pb2.RewriterConfig.ON
_OFF = rewriter_config_pb2.RewriterConfig.OFF

# Grappler passes that `disabled_rewrites` may switch off, for experiments.
# (RewriterConfig field names; 'remapping' fuses conv + batch norm + ReLU.)
REWRITES = ('remapping', 'constant_folding', 'arithmetic_optimization',
            'layout_optimizer', 'dependency_optimization',
            'common_subgraph_elimination')


def available_device():
  """Returns 'gpu' when TensorFlow sees a GPU, else 'cpu'."""
  return 'gpu' if tf.config.list_physical_devices('GPU') else 'cpu'


def session_config(precision='fp32', device='cpu', intra_op_threads=0,
                   inter_op_threads=0, xla=False, disabled_rewrites=()):
  """Returns a `tf.compat.v1.ConfigProto` that runs a net as asked.

  Args:
    precision: 'fp32'; 'bf16' (oneDNN auto mixed precision, CPU); 'fp16'
      (CUDA auto mixed precision, GPU).
    device: 'cpu' or 'gpu'.
    intra_op_threads: Threads inside one op; 0 lets TensorFlow choose.
    inter_op_threads: Ops run at once; 0 lets TensorFlow choose.
    xla: If True, compile the graph with XLA (global JIT). On CPUs the
      session setting alone clusters nothing, so this also adds
      --tf_xla_cpu_global_jit to TF_XLA_FLAGS: process-wide, and read when
      the first session runs, so ask for it before then.
    disabled_rewrites: Names from `REWRITES` to switch off.

  Returns:
    A ConfigProto.

  Raises:
    ValueError: on an unknown or unsupported choice, naming the ones that
      work.
  """
  if precision not in PRECISIONS:
    raise ValueError('precision must be one of %s, got %r.' %
                     (PRECISIONS, precision))
  if device not in DEVICES:
    raise ValueError('device must be one of %s, got %r.' % (DEVICES, device))
  if precision == 'fp16' and device == 'cpu':
    raise ValueError('fp16 runs on GPUs only; on a CPU use bf16 (needs '
                     'AVX512_BF16 or AMX to be fast) or fp32.')
  if precision == 'bf16' and device == 'gpu':
    raise ValueError("TensorFlow's automatic bf16 rewrite is CPU-only; on a "
                     'GPU use fp16 (mixed precision) or fp32.')
  unknown = sorted(set(disabled_rewrites) - set(REWRITES))
  if unknown:
    raise ValueError('Unknown rewrites %s; choose from %s.' %
                     (unknown, REWRITES))
  for count, name in ((intra_op_threads, 'intra_op_threads'),
                      (inter_op_threads, 'inter_op_threads')):
    if not isinstance(count, int) or count < 0:
      raise ValueError('%s must be an int >= 0 (0 = TensorFlow chooses), got '
                       '%r.' % (name, count))
  config = tf.compat.v1.ConfigProto(
      intra_op_parallelism_threads=intra_op_threads,
      inter_op_parallelism_threads=inter_op_threads,
      allow_soft_placement=True)
  rewrites = config.graph_options.rewrite_options
  if precision == 'bf16':
    rewrites.auto_mixed_precision_onednn_bfloat16 = _ON
  elif precision == 'fp16':
    rewrites.auto_mixed_precision = _ON
  for name in disabled_rewrites:
    setattr(rewrites, name, _OFF)
  if xla:
    config.graph_options.optimizer_options.global_jit_level = (
        tf.compat.v1.OptimizerOptions.ON_1)
    if device == 'cpu':
      _enable_cpu_global_jit()
  return config


def _enable_cpu_global_jit():
  flags = os.environ.get('TF_XLA_FLAGS', '')
  if '--tf_xla_cpu_global_jit' not in flags:
    os.environ['TF_XLA_FLAGS'] = (flags + ' --tf_xla_cpu_global_jit').strip()
