"""serve.openvino: the same net on OpenVINO (fp32 to TensorFlow's
rounding, any end point), bf16 only where the CPU runs it, and what int8
would run on this CPU."""

import numpy as np
import pytest

from resnet_v2 import cpu
from resnet_v2 import runtime
from resnet_v2.serve import model as model_lib
from resnet_v2.serve import openvino as openvino_engine
from test_model import CLASSES
from test_model import trained  # noqa: F401 (a fixture)

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def test_openvino_runs_the_same_net_in_fp32(trained):
  pytest.importorskip('openvino')
  path, _, images = trained
  reference = model_lib.Model.load(path).run(images, ['logits'])['logits']
  net = model_lib.Model.load(path, engine='openvino')
  assert net.engine == 'openvino'
  logits = net.run(images, ['logits'])['logits']
  scale = np.abs(reference).max()
  assert np.abs(logits - reference).max() <= 1e-4 * scale
  # Any end point of the net, as TensorFlow computes it: the model is
  # converted again with the ones asked for as outputs too.
  tensorflow = model_lib.Model.load(path)
  assert net.end_point_names == tensorflow.end_point_names
  inner = [n for n in net.end_point_names if n.endswith((
      '/block2', '/block1/unit_1/basic_v1/conv2'))]
  assert len(inner) == 2, net.end_point_names
  asked = inner + ['logits']
  points = net.run(images, asked)
  expected = tensorflow.run(images, asked)
  assert sorted(points) == sorted(asked)
  for name in asked:
    assert points[name].shape == expected[name].shape, name
    np.testing.assert_allclose(points[name], expected[name], rtol=1e-4,
                               atol=1e-4 * np.abs(expected[name]).max())
  assert net.runner.end_point_names[3:] == inner
  # A later run asking fewer gets (and copies out) only those.
  assert list(net.run(images, ['global_pool'])) == ['global_pool']
  assert list(net.runner(images, {'logits'})) == ['logits']
  # A model of many outputs compiled with some (an int8 model holds every
  # end point): the others are pruned, the kept ones unchanged.
  model = openvino_engine.convert(tensorflow.module, tensorflow.image_size,
                                  inner)
  pruned = openvino_engine.Runner(model, outputs=['features', inner[1]])
  assert sorted(pruned.output_names) == sorted(['features', inner[1]])
  whole = openvino_engine.Runner(model)(images)
  for name, array in pruned(images).items():
    np.testing.assert_allclose(array, whole[name], rtol=1e-5, atol=1e-6)
  assert len(openvino_engine.output_names(model)) == 5
  with pytest.raises(ValueError, match='does not output'):
    openvino_engine.only_outputs(model, ['features', 'nothing'])


def test_bf16_runs_only_where_the_cpu_runs_it(trained):
  pytest.importorskip('openvino')
  path, _, images = trained
  try:
    net = model_lib.Model.load(path, engine='openvino', precision='bf16')
  except ValueError as error:
    # A CPU without bf16 instructions: refused, never reported as bf16.
    assert 'compiled the convolutions in fp32' in str(error)
    assert '`precision`=fp32' in str(error)
  else:
    assert net.runner.effective_precision() == 'bf16'
    assert net.run(images, ['logits'])['logits'].shape == (4, CLASSES)


@pytest.mark.parametrize('flags, kind', [
    ({'avx2', 'fma', 'avx512f', 'avx512_vnni'}, 'native'),
    ({'avx2', 'fma', 'avx_vnni'}, 'native'),
    ({'avx2', 'fma'}, 'without_vnni'),
])
def test_int8_support_names_the_missing_instructions(monkeypatch, flags,
                                                     kind):
  monkeypatch.setattr(cpu, 'flags', lambda: frozenset(flags))
  found, reason = runtime.int8_support()
  assert found == kind
  if kind == 'without_vnni':
    assert 'avx512_vnni' in reason and 'about 2x fp32 instead of 4x' in reason
    assert openvino_engine.int8_note() == reason
  else:
    assert openvino_engine.int8_note() is None


def test_a_folder_without_a_model_is_named(tmp_path):
  pytest.importorskip('openvino')
  with pytest.raises(ValueError, match='holds no OpenVINO model'):
    openvino_engine.load(str(tmp_path))
