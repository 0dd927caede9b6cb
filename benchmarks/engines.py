"""Timed steps on inference engines other than TensorFlow: this project's
int8 net (OpenVINO + NNCF, as `resnet-v2 quantize` makes it) and the
comparators a CPU user would reach for, OpenVINO and ONNX Runtime, running
Keras's ResNet V2 (weights=None) at the same precision.

Each step holds its input batch in host memory (what these engines take)
and says which precision its convolutions really ran in.
"""

import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from benchmarks import steps
from resnet_v2.serve import openvino as openvino_engine

COMPARATORS = ('keras', 'openvino', 'onnxruntime')
# Batches of random images that int8 calibration sees (timing does not
# depend on the weights' values, so random nets and inputs are enough).
CALIBRATION_BATCHES = 2
ONNX_OPSET = 17
ORT_CALIBRATION_BATCH = 4


def versions(name):
  """The package version of a comparator, or None if not installed."""
  try:
    if name == 'keras':
      import keras  # pylint: disable=g-import-not-at-top
      return keras.__version__
    if name == 'openvino':
      ov, nncf = openvino_engine.require_openvino(with_nncf=True)
      return 'openvino %s, nncf %s' % (ov.get_version().split('-')[0],
                                       nncf.__version__)
    if name == 'onnxruntime':
      import onnxruntime  # pylint: disable=g-import-not-at-top
      import tf2onnx  # pylint: disable=g-import-not-at-top
      return 'onnxruntime %s, tf2onnx %s' % (onnxruntime.__version__,
                                             tf2onnx.__version__)
  except ImportError:
    return None
  raise ValueError('Unknown comparator %r.' % name)


def random_batch(batch_size, image_size, seed=0):
  return np.random.default_rng(seed).uniform(
      -1, 1, (batch_size, image_size, image_size, 3)).astype(np.float32)


def _calibration(batch_size, image_size):
  return [random_batch(batch_size, image_size, seed)
          for seed in range(1, CALIBRATION_BATCHES + 1)]


def keras_function(model, image_size):
  """Keras's ResNet V2 (weights=None) as a tf.function on NHWC images."""
  import keras  # pylint: disable=g-import-not-at-top
  net = getattr(keras.applications, steps.KERAS_NAMES[model])(
      weights=None, input_shape=(image_size, image_size, 3),
      classes=steps.NUM_CLASSES)

  @tf.function(input_signature=[tf.TensorSpec(
      [None, image_size, image_size, 3], tf.float32, name='images')])
  def serve(images):
    return {'probabilities': net(images, training=False)}
  return net, serve


def _openvino_model(net):
  """A Keras model as an OpenVINO model (through Keras's own SavedModel
  export, as OpenVINO's guide does it)."""
  ov = openvino_engine.require_openvino()
  temp = tempfile.mkdtemp(prefix='benchmark_openvino_')
  try:
    net.export(os.path.join(temp, 'saved_model'), format='tf_saved_model',
               verbose=False)
    return ov.convert_model(os.path.join(temp, 'saved_model'))
  finally:
    shutil.rmtree(temp, ignore_errors=True)


class OpenVINOStep:
  """One forward batch of an OpenVINO model on the CPU.

  Args:
    model: An `openvino.Model` (float; quantized here for int8).
    batch_size, image_size: The input.
    precision: 'fp32', 'bf16' (OpenVINO's inference precision hint) or
      'int8' (NNCF post-training quantization on random batches first).
    name: What the reports call it.
  """

  def __init__(self, model, batch_size, image_size, precision, name):
    if precision == 'int8':
      model = openvino_engine.quantize(
          model, _calibration(batch_size, image_size),
          CALIBRATION_BATCHES * batch_size)
    self.runner = openvino_engine.Runner(model, precision)
    self.images = random_batch(batch_size, image_size)
    self.precision, self.name = precision, name

  def __call__(self):
    self.runner(self.images)

  def effective_precision(self):
    return self.runner.effective_precision()

  def kernels(self):
    """The convolution kernels OpenVINO compiled (their ISA shows)."""
    return dict(self.runner.convolution_kernels())


def project_openvino_step(model, batch_size, image_size, precision):
  """This project's net on OpenVINO: converted as `serve.model.Model` does
  for --engine openvino (fp32, bf16), or in int8 as `resnet-v2 quantize`
  builds it."""
  # pylint: disable=g-import-not-at-top
  from resnet_v2.nets import module as tf2
  tf.random.set_seed(0)
  module = tf2.ResNetModule(model, steps.NUM_CLASSES)
  step = OpenVINOStep(openvino_engine.convert(module, image_size),
                      batch_size, image_size, precision,
                      'resnet_v2 openvino %s' % precision)
  step.flops_per_image = steps.forward_flops_per_image(model, image_size)
  return step


def keras_openvino_step(model, batch_size, image_size, precision):
  """Keras's ResNet V2 converted to OpenVINO, at precision."""
  net, _ = keras_function(model, image_size)
  return OpenVINOStep(_openvino_model(net), batch_size, image_size,
                      precision, 'openvino %s' % steps.KERAS_NAMES[model])


class OnnxRuntimeStep:
  """Keras's ResNet V2 through tf2onnx on ONNX Runtime's CPU provider; int8
  by ONNX Runtime's static quantization (QDQ, per-channel weights,
  calibrated on random batches)."""

  def __init__(self, model, batch_size, image_size, precision):
    # pylint: disable=g-import-not-at-top
    import onnxruntime
    import tf2onnx
    from onnxruntime import quantization
    if precision not in ('fp32', 'int8'):
      raise ValueError('ONNX Runtime on CPUs has no %s path.' % precision)
    net, serve = keras_function(model, image_size)
    self._temp = tempfile.mkdtemp(prefix='benchmark_onnx_')
    path = os.path.join(self._temp, 'model.onnx')
    tf2onnx.convert.from_function(serve, input_signature=serve.input_signature,
                                  opset=ONNX_OPSET, output_path=path)
    del net
    if precision == 'int8':
      prepared = os.path.join(self._temp, 'prepared.onnx')
      quantization.quant_pre_process(path, prepared,
                                     skip_symbolic_shape=True)
      # Small batches: ONNX Runtime's calibrator keeps every intermediate
      # tensor of every batch (two batches of 32 at 224x224 on a 152-layer
      # net ran a 24 GiB machine out of memory).
      batches = iter([{'images': b} for b in _calibration(
          ORT_CALIBRATION_BATCH, image_size)])

      class Reader(quantization.CalibrationDataReader):
        def get_next(self):
          return next(batches, None)
      path = os.path.join(self._temp, 'int8.onnx')
      quantization.quantize_static(
          prepared, path, Reader(), quant_format=quantization.QuantFormat.QDQ,
          per_channel=True, activation_type=quantization.QuantType.QUInt8,
          weight_type=quantization.QuantType.QInt8)
    options = onnxruntime.SessionOptions()
    # The graph ONNX Runtime really runs, to read its precision from.
    self._optimized = os.path.join(self._temp, 'optimized.onnx')
    options.optimized_model_filepath = self._optimized
    self.session = onnxruntime.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])
    self.images = random_batch(batch_size, image_size)
    self.precision = precision
    self.name = 'onnxruntime %s' % steps.KERAS_NAMES[model]

  def __call__(self):
    self.session.run(None, {'images': self.images})

  def effective_precision(self):
    """'int8' if the optimized graph convolves in int8, else 'fp32'."""
    import onnx  # pylint: disable=g-import-not-at-top
    kinds = {node.op_type for node in onnx.load(self._optimized).graph.node}
    return 'int8' if kinds & {'QLinearConv', 'ConvInteger'} else 'fp32'

  def close(self):
    shutil.rmtree(self._temp, ignore_errors=True)
