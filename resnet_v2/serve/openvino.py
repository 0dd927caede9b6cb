"""The int8 engine: OpenVINO runs the nets, NNCF quantizes them.

Chosen by measurement among the real engines (BENCHMARKS.md, "int8"): on a
Zen 4 CPU (VNNI) resnet_v2_152 at batch 32 ran int8 in 0.85 s with OpenVINO
+ NNCF, 1.37 s with Intel Neural Compressor's TensorFlow int8 graph and
1.44 s with ONNX Runtime's static quantization.

A net goes from its TF2 module (`nets.module.ResNetModule`) to an OpenVINO model
through a SavedModel of one serving function (`convert`): preprocessed
images [batch, size, size, 3] in; `logits`, `probabilities` and `features`
(the pooled features [batch, channels]) out, and any other end points asked
for, each an output named as the end point (`resnet_v2_50/block3`).
`quantize` calibrates it on images (post-training static quantization:
per-channel symmetric int8 weights, int8 activations, with NNCF's fast
bias correction). `Runner`
compiles a model for the CPU and runs batches; `effective_precision` reads
what the compiled convolutions really run in.

openvino and nncf are optional (`pip install 'resnet_v2[int8]'`); every
entry point says so in one line when they are missing.
"""

import collections
import os
import shutil
import tempfile

import numpy as np

from resnet_v2 import errors
from resnet_v2 import runtime

OUTPUTS = ('logits', 'probabilities', 'features')
# The net's end points those are, which every model computes.
END_POINTS = ('global_pool', 'logits', 'predictions')
_OUTPUT_OF = {'global_pool': 'features', 'logits': 'logits',
              'predictions': 'probabilities'}
MODEL_FILE = 'model.xml'
# The convolution precisions a compiled model can report, by name.
_PRECISION_NAMES = {'u8': 'int8', 'i8': 'int8', 'f32': 'fp32', 'bf16': 'bf16',
                    'f16': 'fp16'}
HINTS = {'fp32': 'f32', 'bf16': 'bf16'}


def require_openvino(with_nncf=False):
  """Imports openvino (and nncf); returns the module(s).

  Raises:
    errors.MissingDependencyError: naming what to install.
  """
  names = ['openvino'] + (['nncf'] if with_nncf else [])
  modules = [errors.require(name, 'int8', 'int8 and OpenVINO need')
             for name in names]
  return modules[0] if len(modules) == 1 else tuple(modules)


def _extra_key(index):
  """The serving function's output key of the index-th extra end point
  (renamed to the end point's own name in the OpenVINO model)."""
  return 'end_point_%d' % index


def serving_function(module, image_size, end_points=()):
  """The tf.function that `convert` turns into an OpenVINO model: OUTPUTS,
  and end_points (names of the module's end points) as they are."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if module.num_classes is None:
    raise ValueError('%s has no logits (num_classes=None); int8 and OpenVINO '
                     'export need a classifier.' % module.model)

  @tf.function(input_signature=[tf.TensorSpec(
      [None, image_size, image_size, 3], tf.float32, name='images')])
  def serve(images):
    logits, points = module(images)
    outputs = {'logits': logits, 'probabilities': tf.nn.softmax(logits),
               'features': tf.squeeze(points['global_pool'], [1, 2])}
    outputs.update((_extra_key(i), points[name])
                   for i, name in enumerate(end_points))
    return outputs
  return serve


def convert(module, image_size, end_points=()):
  """A `nets.module.ResNetModule` (weights restored) as an OpenVINO model.

  Args:
    module: The net, with num_classes set.
    image_size: Height and width of the (preprocessed) input.
    end_points: Names of more of the module's end points to output, e.g.
      'resnet_v2_50/block3'.

  Returns:
    An `openvino.Model` with input 'images' [?, size, size, 3] float32 and
    outputs OUTPUTS and end_points (named so), in float32.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  ov = require_openvino()
  end_points = [n for n in dict.fromkeys(end_points) if n not in END_POINTS]
  serve = serving_function(module, image_size, end_points)
  temp = tempfile.mkdtemp(prefix='resnet_v2_convert_')
  try:
    holder = tf.Module()
    holder.net, holder.serve = module, serve
    tf.saved_model.save(holder, temp, signatures={'serving_default': serve})
    model = ov.convert_model(temp)
  finally:
    shutil.rmtree(temp, ignore_errors=True)
  # An output may carry several names: OpenVINO gives end points that are
  # one tensor (a block and its last unit, the logits) one output.
  for output in model.outputs:
    output.get_tensor().set_names({
        end_points[int(name.split('_')[-1])]
        if name.startswith('end_point_') else name
        for name in output.get_names()
        if name in OUTPUTS or name.startswith('end_point_')})
  names = sorted(output_names(model))
  expected = sorted(OUTPUTS + tuple(end_points))
  if names != expected:
    raise RuntimeError('OpenVINO converted outputs %s, expected %s.' %
                       (names, expected))
  return model


def output_names(model):
  """The names an OpenVINO model (or compiled model) outputs, in order;
  one output may carry several."""
  names = []
  for output in model.outputs:
    names.extend(n for n in sorted(output.get_names()) if n not in names)
  return names


def only_outputs(model, names):
  """A copy of model that outputs only `names` (OUTPUTS and end point
  names): the compiler then prunes what they do not need, so a model
  quantized with every end point runs as fast as one with three.

  Raises:
    ValueError: on a name the model does not output.
  """
  have = output_names(model)
  missing = [n for n in names if n not in have]
  if missing:
    raise ValueError('The OpenVINO model does not output %s.' % missing)
  model, kept = model.clone(), set()
  for result in list(model.get_results()):
    given = set(result.output(0).get_names())
    if given & set(names) and not given <= kept:
      kept |= given
      # Only the names asked: an export's outputs are named as documented.
      result.output(0).get_tensor().set_names(given & set(names))
    else:
      model.remove_result(result)
  return model


def end_points_of(names):
  """The net's end points that outputs `names` give."""
  return list(END_POINTS) + [n for n in names if n not in OUTPUTS]


def end_point_outputs(names):
  """The model outputs that give end points `names`."""
  return [_OUTPUT_OF.get(n, n) for n in names]


def quantize(model, batches, num_images):
  """Post-training static int8 quantization of an OpenVINO model by NNCF.

  Args:
    model: An `openvino.Model` from `convert`.
    batches: An iterable (iterated once per statistics pass) of float32
      image batches [batch, size, size, 3], preprocessed as the net's input.
    num_images: Images the statistics use (at most what batches yield).

  Returns:
    The quantized `openvino.Model`: int8 convolutions and matmuls with
    per-channel weight scales.
  """
  _, nncf = require_openvino(with_nncf=True)
  # NNCF counts dataset items; items of one image each make that images.
  dataset = nncf.Dataset(_Images(batches))
  return nncf.quantize(model, dataset, subset_size=num_images,
                       preset=nncf.QuantizationPreset.PERFORMANCE)


class _Images:
  """Re-iterable single-image items [1, size, size, 3] from batches."""

  def __init__(self, batches):
    self._batches = batches

  def __iter__(self):
    for batch in self._batches:
      for image in np.asarray(batch):
        yield image[None]


def save(model, folder):
  """Writes folder/model.xml and model.bin (weights as they are)."""
  ov = require_openvino()
  os.makedirs(folder, exist_ok=True)
  ov.save_model(model, os.path.join(folder, MODEL_FILE),
                compress_to_fp16=False)


def load(folder):
  """Reads the model that `save` wrote into folder.

  Raises:
    ValueError: if folder holds none.
  """
  ov = require_openvino()
  path = os.path.join(folder, MODEL_FILE)
  if not os.path.isfile(path):
    raise ValueError('%s holds no OpenVINO model (%s).' % (folder, MODEL_FILE))
  return ov.Core().read_model(path)


def int8_note():
  """None on CPUs with int8 dot-product instructions, else a one-line note
  naming what is missing (int8 still runs, without the speedup)."""
  kind, reason = runtime.int8_support()
  return None if kind == 'native' else reason


class Runner:
  """A compiled OpenVINO model on the CPU that runs batches.

  Args:
    model: An `openvino.Model`, or a folder that `save` wrote.
    precision: For float models, 'fp32' or 'bf16' (OpenVINO's inference
      precision hint); int8 models run their quantized ops in int8 and the
      rest in fp32 (so int8 is the only approximation).
    config: Extra OpenVINO compile properties.
    outputs: The output names to compile (`only_outputs`); default all
      (int8: `OUTPUTS`).

  Raises:
    ValueError: on an unknown precision, or outputs the model lacks.
  """

  def __init__(self, model, precision='fp32', config=None, outputs=None):
    ov = require_openvino()
    if precision not in HINTS and precision != 'int8':
      raise ValueError('precision must be one of %s or int8, got %r.' %
                       (sorted(HINTS), precision))
    if isinstance(model, str):
      model = load(model)
    if outputs is None and precision == 'int8':
      # An int8 model holds every end point; compiled with all of them,
      # OpenVINO 2026.4 gave zeros for `features` and `logits` here (the
      # same model compiled with the outputs asked is right): compile those.
      outputs = [n for n in OUTPUTS if n in output_names(model)] or None
    if outputs is not None:
      model = only_outputs(model, outputs)
    properties = {'INFERENCE_PRECISION_HINT': HINTS.get(precision, 'f32')}
    properties.update(config or {})
    self.compiled = ov.Core().compile_model(model, 'CPU', properties)
    self._request = self.compiled.create_infer_request()
    self._outputs = [(sorted(o.get_names()), o)
                     for o in self.compiled.outputs]
    self.output_names = output_names(self.compiled)

  def __call__(self, images, outputs=None):
    """Runs one batch: {output name: numpy array} of the outputs named
    (default all); only those are copied out of the request."""
    results = self._request.infer({0: np.asarray(images, np.float32)})
    out = {}
    for names, output in self._outputs:
      wanted = [n for n in names
                if n not in out and (outputs is None or n in outputs)]
      if wanted:     # one copy for the names of one output
        out.update(dict.fromkeys(wanted, np.array(results[output])))
    return out

  @property
  def end_point_names(self):
    """The net's end points this compiled model computes: 'global_pool',
    'logits', 'predictions', and the others it outputs."""
    return end_points_of(self.output_names)

  def end_points(self, images, names=None):
    """Runs one batch: {end point name: numpy array}, named as the net's
    end points ('logits', 'predictions', 'global_pool' [batch, 1, 1, C],
    and the others the model outputs); only `names` (default all)."""
    names = self.end_point_names if names is None else list(names)
    out = self(images, set(end_point_outputs(names)))
    points = {n: out[_OUTPUT_OF.get(n, n)] for n in names}
    if 'global_pool' in points:
      points['global_pool'] = points['global_pool'][:, None, None, :]
    return points

  def _convolutions(self, key):
    counts = collections.Counter()
    for op in self.compiled.get_runtime_model().get_ops():
      info = op.get_rt_info()
      layer = str(info['layerType'].astype(str)) if 'layerType' in info \
          else op.get_type_name()
      if layer == 'Convolution' and key in info:
        counts[str(info[key].astype(str))] += 1
    return counts

  def convolution_precisions(self):
    """Counter of the precisions the compiled convolutions run in."""
    return self._convolutions('runtimePrecision')

  def convolution_kernels(self):
    """Counter of the kernels they run (e.g. 'brgconv_avx512_core_vnni_1x1'
    or 'jit_avx2_I8': the instructions really used)."""
    return self._convolutions('primitiveType')

  def effective_precision(self):
    """'int8', 'bf16' or 'fp32': what most of the convolutions ran in.

    Read off the compiled model, so a quantization that did not take (or
    a bf16 hint the CPU cannot honour) shows as what really runs.
    """
    counts = self.convolution_precisions()
    if not counts:
      return 'fp32'
    kind = counts.most_common(1)[0][0]
    return _PRECISION_NAMES.get(kind, kind)
