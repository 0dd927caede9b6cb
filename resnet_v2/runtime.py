"""How to run the nets fast: session configuration for precision, threads
and TensorFlow's graph rewrites.

Precision is a rewrite of the graph, not a second way of building it: the
nets are built in float32 (so checkpoints are unchanged) and TensorFlow's
auto-mixed-precision pass runs the matrix work in bfloat16 (oneDNN, on CPUs)
or float16 (CUDA), keeping float32 where accuracy needs it.
"""

import os
import warnings

import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2
from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-direct-tensorflow-import

from resnet_v2 import cpu

PRECISIONS = ('fp32', 'bf16', 'fp16')
DEVICES = ('cpu', 'gpu')
_ON = rewriter_config_pb2.RewriterConfig.ON
_OFF = rewriter_config_pb2.RewriterConfig.OFF

# Grappler passes that `disabled_rewrites` may switch off, for experiments.
# (RewriterConfig field names; 'remapping' fuses conv + batch norm + ReLU.)
REWRITES = ('remapping', 'constant_folding', 'arithmetic_optimization',
            'layout_optimizer', 'dependency_optimization',
            'common_subgraph_elimination')


def onednn_enabled():
  """Whether TensorFlow runs its CPU ops with oneDNN in this process.

  TensorFlow decides when it loads: `TF_ENABLE_ONEDNN_OPTS=1` or `=0` in
  the environment, else on by default on CPUs with AVX-512 VNNI, BF16 or
  AMX, off on others (e.g. AVX2-only ones). It cannot change afterwards.
  """
  return bool(_pywrap_util_port.IsMklEnabled())


def onednn_runs_below_avx512():
  """Whether oneDNN is on but runs AVX2 (or older) kernels in this process.

  True on AVX2-only CPUs with TF_ENABLE_ONEDNN_OPTS=1, and where
  ONEDNN_MAX_CPU_ISA caps oneDNN below AVX-512. There oneDNN's convolution
  fused with inference batch norm (what grappler's remapper makes of
  Conv2D + FusedBatchNorm) is slow: 3.2x at batch 1, 4% at batch 32 on
  resnet_v2_152 (BENCHMARKS.md), so `layers.batch_norm` avoids it.
  """
  if not onednn_enabled():
    return False
  cap = os.environ.get('ONEDNN_MAX_CPU_ISA', 'ALL').upper()
  if cap != 'ALL' and not cap.startswith(('AVX512', 'AVX10')):
    return True
  flags = cpu.flags()
  return flags is not None and not all(f in flags for f in cpu.AVX512_CORE_FLAGS)


def runs_nchw_natively():
  """Whether this process can run NCHW convolutions as they are.

  TensorFlow's CPU convolutions without oneDNN take NHWC only (they fail on
  NCHW at run time); GPUs and oneDNN take both.
  """
  return onednn_enabled() or available_device() == 'gpu'


def platform_facts():
  """This process's `nets.platform.Facts`, as a dict: hand them to the nets
  with `nets.platform.use(runtime.platform_facts)`."""
  return {'nchw_native': runs_nchw_natively(),
          'fused_inference_batch_norm': not onednn_runs_below_avx512()}


def bf16_support():
  """How this process would run `precision='bf16'` on the CPU.

  Returns:
    (kind, reason): kind is 'native' (bf16 instructions), 'emulated' (oneDNN
    on plain AVX-512: correct, slower than fp32) or None (the rewrite would
    not run: fp32 would run instead); reason says why, naming what is
    missing and what to do.
  """
  if not onednn_enabled():
    return None, ('oneDNN is off in this process (TF_ENABLE_ONEDNN_OPTS=%s), '
                  "and TensorFlow's bf16 rewrite needs it; set "
                  'TF_ENABLE_ONEDNN_OPTS=1 before TensorFlow is imported' %
                  os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset; off by '
                                 'default on this CPU'))
  flags = cpu.flags()
  if flags is None:
    return 'native', 'CPU flags unknown; oneDNN decides'
  native = [f for f in cpu.BF16_FLAGS if f in flags]
  if native:
    return 'native', 'the CPU has %s' % ', '.join(native)
  missing = [f for f in cpu.AVX512_CORE_FLAGS if f not in flags]
  if not missing:
    return 'emulated', ('the CPU has AVX-512 but none of %s: oneDNN emulates '
                        'bf16, slower than fp32' % (cpu.BF16_FLAGS,))
  return None, ('the CPU has none of %s and lacks %s, so oneDNN cannot run '
                'bf16 here' % (cpu.BF16_FLAGS, ', '.join(missing)))


# CPU flags of int8 dot-product instructions (4x the fp32 multiply-add
# rate with VNNI; more with AMX).
INT8_FLAGS = ('avx512_vnni', 'avx_vnni', 'amx_int8')


def int8_support():
  """How int8 inference would run on this CPU.

  Returns:
    (kind, reason): kind 'native' (int8 dot-product instructions: VNNI or
    AMX) or 'without_vnni' (int8 runs on plain AVX2 / AVX-512 multiply-adds:
    correct, about half fp32's time instead of a quarter); reason names
    what the CPU has or lacks.
  """
  flags = cpu.flags()
  if flags is None:
    return 'native', 'CPU flags unknown; the engine decides'
  native = [f for f in INT8_FLAGS if f in flags]
  if native:
    return 'native', 'the CPU has %s' % ', '.join(native)
  return 'without_vnni', (
      'this CPU has none of %s (int8 dot products): int8 runs on plain '
      'multiply-adds, about 2x fp32 instead of 4x' % ', '.join(INT8_FLAGS))


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
      work; for bf16 where this process cannot run it (oneDNN off, or a CPU
      without AVX-512), saying why, rather than run fp32 labelled bf16.
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
  if precision == 'bf16':
    kind, reason = bf16_support()
    if kind is None:
      raise ValueError('bf16 cannot run here: %s. Use fp32.' % reason)
    if kind == 'emulated':
      warnings.warn('bf16 will be emulated: %s.' % reason, RuntimeWarning)
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


def check_bf16_training():
  """Refuses bf16 training where the CPU has no bf16 instructions: oneDNN
  would emulate it on AVX-512, slower than fp32 (inference only warns).

  Raises:
    ValueError: one line naming what the CPU lacks and the fix.
  """
  kind, reason = bf16_support()
  if kind != 'native':
    raise ValueError('bf16 training needs a CPU with bf16 instructions (%s): '
                     '%s. Train in fp32.' % (', '.join(cpu.BF16_FLAGS),
                                             reason))


def enable_precision(precision='fp32'):
  """Sets this process's tf.function graphs to run in `precision`.

  'bf16' and 'fp16' turn on grappler's automatic mixed precision (oneDNN
  bfloat16 on CPUs; CUDA float16 on GPUs), after the checks of
  `session_config`; 'fp32' turns both off.

  Raises:
    ValueError: as `session_config`, where the precision cannot run here.
  """
  session_config(precision, available_device() if precision != 'bf16'
                 else 'cpu')
  wanted = {'auto_mixed_precision_onednn_bfloat16': precision == 'bf16',
            'auto_mixed_precision': precision == 'fp16'}
  current = tf.config.optimizer.get_experimental_options()
  # Only what changes: setting any option rebuilds grappler's config, and
  # set before TensorFlow starts, it made a CIFAR net's training slower.
  changes = {name: on for name, on in wanted.items()
             if current.get(name, False) != on}
  if changes:
    tf.config.optimizer.set_experimental_options(changes)


def effective_precision(session, fetches, feed_dict=None):
  """Runs fetches once and reports the precision the convolutions ran in.

  The answer comes from the graphs the session really executed (after
  grappler's rewrites), so a bf16 or fp16 request that TensorFlow did not
  carry out reads 'fp32'.

  Returns:
    'bf16', 'fp16' or 'fp32'.
  """
  metadata = tf.compat.v1.RunMetadata()
  session.run(fetches, feed_dict, options=tf.compat.v1.RunOptions(
      output_partition_graphs=True), run_metadata=metadata)
  types = {node.attr['T'].type for graph in metadata.partition_graphs
           for node in graph.node if 'Conv2D' in node.op}
  if tf.bfloat16.as_datatype_enum in types:
    return 'bf16'
  if tf.float16.as_datatype_enum in types:
    return 'fp16'
  return 'fp32'


def _enable_cpu_global_jit():
  flags = os.environ.get('TF_XLA_FLAGS', '')
  if '--tf_xla_cpu_global_jit' not in flags:
    os.environ['TF_XLA_FLAGS'] = (flags + ' --tf_xla_cpu_global_jit').strip()
