"""batch_norm: slim's names, statistics, updates and errors."""

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from resnet_v2 import cpu
from resnet_v2 import runtime
from resnet_v2.nets import layers
from resnet_v2.nets import platform
from test_normalize import numpy_normalize
from test_normalize import variable

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)

GraphKeys = tf.compat.v1.GraphKeys


def names(collection):
  return sorted(v.op.name for v in tf.compat.v1.get_collection(collection))


def test_variables_are_named_and_collected_as_slim(graph):
  x = tf.zeros([2, 4, 4, 3])
  layers.batch_norm(x, scale=True)
  assert names(GraphKeys.GLOBAL_VARIABLES) == [
      'BatchNorm/beta', 'BatchNorm/gamma', 'BatchNorm/moving_mean',
      'BatchNorm/moving_variance']
  assert names(GraphKeys.TRAINABLE_VARIABLES) == ['BatchNorm/beta',
                                                  'BatchNorm/gamma']
  assert names(GraphKeys.MODEL_VARIABLES) == names(GraphKeys.GLOBAL_VARIABLES)


def test_center_and_scale_switch_beta_and_gamma(graph):
  layers.batch_norm(tf.zeros([2, 3]), center=False, scale=False, scope='bn')
  assert names(GraphKeys.GLOBAL_VARIABLES) == ['bn/moving_mean',
                                               'bn/moving_variance']


def test_updates_collections_none_updates_in_place(session, rng):
  x = rng.normal(1.0, 1.0, size=(8, 3, 3, 2)).astype(np.float32)
  y = layers.batch_norm(tf.constant(x), decay=0.5, updates_collections=None)
  assert not tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)
  moving_mean = variable('moving_mean')
  session.run(tf.compat.v1.global_variables_initializer())
  session.run(y)
  np.testing.assert_allclose(session.run(moving_mean), 0.5 * x.mean((0, 1, 2)),
                             rtol=1e-5)


def test_normalizer_fn_of_conv2d_under_arg_scope(graph):
  with resnet_v2.arg_scope([layers.conv2d], normalizer_fn=layers.batch_norm), \
      resnet_v2.arg_scope([layers.batch_norm], scale=True, decay=0.9):
    layers.conv2d(tf.zeros([1, 4, 4, 2]), 3, [1, 1], scope='conv')
  assert names(GraphKeys.GLOBAL_VARIABLES) == [
      'conv/BatchNorm/beta', 'conv/BatchNorm/gamma', 'conv/BatchNorm/moving_mean',
      'conv/BatchNorm/moving_variance', 'conv/weights']


def test_reuse_shares_variables(graph):
  x = tf.zeros([1, 2, 2, 3])
  layers.batch_norm(x, scope='bn')
  layers.batch_norm(x, scope='bn', reuse=True)
  assert len(tf.compat.v1.global_variables()) == 3
  with pytest.raises(ValueError, match='already exists'):
    layers.batch_norm(x, scope='bn')


def test_variables_collections_and_trainable(graph):
  layers.batch_norm(tf.zeros([1, 3]), variables_collections={'beta': ['b']},
                    trainable=False)
  assert names('b') == ['BatchNorm/beta']
  assert not tf.compat.v1.trainable_variables()


def test_bfloat16_inputs_keep_float32_variables(session, rng):
  x = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
  y = layers.batch_norm(tf.cast(x, tf.bfloat16))
  assert y.dtype == tf.bfloat16
  assert all(v.dtype.base_dtype == tf.float32
             for v in tf.compat.v1.global_variables())
  session.run(tf.compat.v1.global_variables_initializer())
  expected = numpy_normalize(x, x.mean((0, 1, 2)), x.var((0, 1, 2)), 0, 1, 1e-3)
  np.testing.assert_allclose(session.run(tf.cast(y, tf.float32)), expected,
                             atol=0.05)


@pytest.mark.parametrize('inputs, error, message', [
    (lambda: tf.zeros([2, 3], tf.int32), TypeError, 'floating-point'),
    (lambda: tf.compat.v1.placeholder(tf.float32, [2, 2, 2, None]),
     ValueError, 'known channel dimension'),
    (lambda: tf.compat.v1.placeholder(tf.float32), ValueError, 'known rank'),
    (lambda: tf.zeros([3]), ValueError, 'rank >= 2'),
])
def test_bad_inputs_are_refused(graph, inputs, error, message):
  with pytest.raises(error, match=message):
    layers.batch_norm(inputs())


def test_bad_data_format_is_refused(graph):
  with pytest.raises(ValueError, match='data_format'):
    layers.batch_norm(tf.zeros([1, 2, 2, 3]), data_format='CHWN')


@pytest.mark.onednn
@pytest.mark.parametrize('padding', ['VALID', 'SAME'])
def test_max_pool2d_nchw_pools_what_nhwc_pools(session, rng, padding):
  images = rng.normal(size=(2, 9, 7, 3)).astype(np.float32)
  nhwc = layers.max_pool2d(images, [3, 3], stride=2, padding=padding)
  nchw = layers.max_pool2d(images.transpose(0, 3, 1, 2), [3, 3], stride=2,
                           padding=padding, data_format='NCHW')
  grad = tf.gradients(tf.reduce_sum(nchw * nchw), nchw)[0]
  a, b, _ = session.run([nhwc, nchw, grad])
  np.testing.assert_array_equal(a, b.transpose(0, 2, 3, 1))
  assert nhwc.op.name.endswith('MaxPool2D/MaxPool')


def test_max_pool2d_names_its_end_point(graph):
  collection = 'points'
  layers.max_pool2d(tf.zeros([1, 4, 4, 1]), [2, 2], scope='pool1',
                    outputs_collections=collection)
  assert [t.aliases for t in tf.compat.v1.get_collection(collection)] == [
      ['pool1']]
  with pytest.raises(ValueError, match='data_format must be one of'):
    layers.max_pool2d(tf.zeros([1, 4, 4, 1]), [2, 2], data_format='HWNC')


def _fused_ops(graph):
  return [op for op in graph.get_operations()
          if op.type.startswith('FusedBatchNorm')]


@pytest.mark.parametrize('slow_fusion', [False, True])
def test_default_fusion_avoids_onednn_avx2_conv_bn_fusion(
    session, rng, slow_fusion):
  # The machine's facts are handed in (`nets.platform`), never probed.
  platform.use(platform.Facts(nchw_native=False,
                              fused_inference_batch_norm=not slow_fusion))
  try:
    _check_default_fusion(session, rng, slow_fusion)
  finally:
    platform.use(runtime.platform_facts)


def _check_default_fusion(session, rng, slow_fusion):
  images = rng.normal(size=(2, 5, 5, 3)).astype(np.float32)
  default = layers.batch_norm(images, is_training=False, scale=True,
                              scope='default')
  fused_ops = len(_fused_ops(session.graph))
  reference = layers.batch_norm(images, is_training=False, scale=True,
                                fused=True, scope='reference')
  layers.batch_norm(images, is_training=True, scope='training')
  # Inference is unfused exactly where oneDNN's fusion is slow; training
  # always uses the fused kernel.
  assert fused_ops == (0 if slow_fusion else 1)
  assert len(_fused_ops(session.graph)) == fused_ops + 2
  session.run(tf.compat.v1.global_variables_initializer())
  for name in ('moving_mean', 'moving_variance', 'beta', 'gamma'):
    value = rng.uniform(0.5, 1.5, 3).astype(np.float32)
    variable('default/' + name).load(value, session)
    variable('reference/' + name).load(value, session)
  a, b = session.run([default, reference])
  np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_onednn_below_avx512_reads_flags_and_isa_cap(monkeypatch):
  monkeypatch.setattr(runtime, 'onednn_enabled', lambda: True)
  monkeypatch.delenv('ONEDNN_MAX_CPU_ISA', raising=False)
  monkeypatch.setattr(cpu, 'flags', lambda: {'avx2', 'fma'})
  assert runtime.onednn_runs_below_avx512()
  monkeypatch.setattr(cpu, 'flags', lambda: set(
      cpu.AVX512_CORE_FLAGS))
  assert not runtime.onednn_runs_below_avx512()
  monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX2')
  assert runtime.onednn_runs_below_avx512()
  monkeypatch.setattr(runtime, 'onednn_enabled', lambda: False)
  assert not runtime.onednn_runs_below_avx512()
  monkeypatch.setattr(runtime, 'onednn_enabled', lambda: True)
  monkeypatch.setattr(runtime, 'available_device', lambda: 'cpu')
  assert runtime.platform_facts() == {'nchw_native': True,
                                      'fused_inference_batch_norm': False}


def test_nets_build_portably_until_told_the_machine():
  platform.use(None)
  try:
    assert platform.facts() == platform.PORTABLE
    asked = []
    platform.use(lambda: asked.append(1) or {
        'nchw_native': True, 'fused_inference_batch_norm': False})
    assert not asked   # asked only when a graph needs a fact
    assert platform.facts().nchw_native and platform.facts().nchw_native
    assert asked == [1]
  finally:
    platform.use(runtime.platform_facts)
