"""Exporting nets for serving: a model dir as a SavedModel that decodes
images itself, OpenVINO or ONNX (`export`); a graph's net as a SavedModel or
a frozen inference GraphDef (`export_saved_model`, `export_frozen_graph`)."""

import os

import tensorflow as tf

from resnet_v2 import errors
from resnet_v2 import files
from resnet_v2.serve import shards


def export_saved_model(module, path, image_size, end_points=('global_pool',),
                       overwrite=False):
  """Saves a `ResNetModule` with a serving signature.

  The 'serving_default' signature takes `images` [batch, image_size,
  image_size, 3] float32 (preprocessed) and returns `probabilities` (when
  the module has logits) and each chosen end point, under `shards.key`
  names. `tf.saved_model.load(path)` runs it in any TF2 process.

  Args:
    module: A `resnet_v2.nets.module.ResNetModule`.
    path: Directory to create; an earlier export is replaced whole, any
      other existing folder only with overwrite.
    image_size: Height and width of the serving input.
    end_points: End point names to serve besides the probabilities.
    overwrite: Replace whatever is at path.

  Raises:
    ValueError: on unknown end_points.
    files.OutputError: if path may not be written.
  """
  unknown = [n for n in end_points if n not in module.end_point_names]
  if unknown:
    raise ValueError('Unknown end_points %s; the module has e.g. %s.' %
                     (unknown, module.end_point_names[:5]))

  @tf.function(input_signature=[tf.TensorSpec(
      [None, image_size, image_size, 3], tf.float32, name='images')])
  def serve(images):
    _, points = module(images)
    outputs = {shards.key(n): points[n] for n in end_points}
    if module.num_classes is not None:
      outputs['probabilities'] = points['predictions']
    return outputs

  module.serve = serve
  _save_atomically(module, path, {'serving_default': serve}, overwrite)


def _save_atomically(module, path, signatures, overwrite=False, inputs=()):
  """tf.saved_model.save into a temporary folder swapped in whole
  (`files.write_folder`)."""
  files.write_folder(path, lambda temp: tf.saved_model.save(
      module, temp, signatures=signatures), prefix='.saved_model_',
                     overwrite=overwrite, inputs=inputs)


FORMATS = ('saved_model', 'openvino', 'onnx')
ONNX_OPSET = 17


def export(model_dir, path, export_format=None, overwrite=False,
           max_pixels=None):
  """Exports a model dir in one of FORMATS.

  'saved_model': see `_export_saved_model_of`. 'openvino': model.xml/.bin (int8
  for an int8 model dir, else float32) and model.json; 'onnx': model.onnx
  (float32, by tf2onnx) and model.json. Both take `images` float32
  [batch, size, size, 3], preprocessed as model.json says (as the
  SavedModel's 'serving_images'), and return `logits`, `probabilities` and
  `features` (the pooled features).

  Args:
    model_dir: A trained (or int8) model dir.
    path: Folder to write: new, empty, or an earlier export (replaced
      whole); anything else only with overwrite; never the model dir, a
      folder holding it or one inside it. Checked before any work.
    export_format: One of FORMATS; default 'openvino' for an int8 model
      dir, else 'saved_model'.
    overwrite: Replace whatever (else) is at path.
    max_pixels: The SavedModel's image_bytes signature refuses larger
      images; default `preprocessing.MAX_IMAGE_PIXELS`.

  Returns:
    The format written.

  Raises:
    ValueError: on an unknown format, or one the model dir cannot give.
    files.OutputError: if path may not be written.
    errors.MissingDependencyError: without the format's package.
  """
  # pylint: disable=g-import-not-at-top
  from resnet_v2 import record as record_lib
  from resnet_v2.serve import model as model_lib
  from resnet_v2.serve import openvino as openvino_engine
  record = record_lib.Record.from_model_dir(model_dir)
  files.check_output(path, overwrite, [model_dir])
  int8 = record.holds_openvino_model
  export_format = export_format or ('openvino' if int8 else 'saved_model')
  if export_format not in FORMATS:
    raise ValueError('Unknown export format %r; choose from %s.' %
                     (export_format, ', '.join(FORMATS)))
  if int8 and export_format != 'openvino':
    raise ValueError('%s is an int8 OpenVINO model dir: it exports as '
                     '`export_format`=openvino only. For a %s, export the float '
                     'model dir it was quantized from.' % (model_dir,
                                                          export_format))
  if export_format == 'openvino':
    openvino_engine.require_openvino()
  net = model_lib.Model(record, engine=(
      'openvino' if export_format == 'openvino' else 'tensorflow'))
  if export_format == 'saved_model':
    _export_saved_model_of(net, path, overwrite, max_pixels, [model_dir])
    return export_format

  def write(temp):
    if export_format == 'openvino':
      # An int8 model holds every end point; the export serves the three.
      openvino_engine.save(openvino_engine.only_outputs(
          net.openvino_model, openvino_engine.OUTPUTS), temp)
    else:
      _write_onnx(net.module, record.image_size,
                  os.path.join(temp, 'model.onnx'))
    record.write(temp)
  files.write_folder(path, write, prefix='.export_', overwrite=overwrite,
                     inputs=[model_dir])
  return export_format


def _write_onnx(module, image_size, path):
  """The net's serving function as ONNX (tf2onnx), float32."""
  # pylint: disable=g-import-not-at-top
  from resnet_v2.serve import openvino as openvino_engine
  tf2onnx = errors.require('tf2onnx', 'onnx', 'ONNX export needs')
  errors.require('tf2onnx.convert', 'onnx', 'ONNX export needs')
  serve = openvino_engine.serving_function(module, image_size)
  tf2onnx.convert.from_function(
      serve, input_signature=serve.input_signature, opset=ONNX_OPSET,
      output_path=path)


def _export_saved_model_of(net, path, overwrite, max_pixels, inputs):
  """Writes a `model.Model`'s net as a SavedModel that serves by itself.

  Signatures (no resnet_v2 needed to serve them):
    'serving_default': `image_bytes` string [batch], encoded JPEG, PNG,
      GIF or BMP; decoding and the net's preprocessing run in the graph.
    'serving_images': `images` float32 [batch, size, size, 3], already
      preprocessed as the input pipeline does.
  Both return `classes` int64 [batch], `class_names` string [batch],
  `probabilities` [batch, num_classes] and `features` (the pooled features)
  [batch, channels]. An encoded image of more than max_pixels (default
  `preprocessing.MAX_IMAGE_PIXELS`) pixels is refused before decoding
  (InvalidArgument), so a client cannot make the server decode gigabytes.

  Raises:
    files.OutputError: if path may not be written (see `export`).
  """
  from resnet_v2.data import preprocessing  # pylint: disable=g-import-not-at-top
  record, module = net.record, net.module
  max_pixels = max_pixels or preprocessing.MAX_IMAGE_PIXELS
  size, scheme = record.image_size, preprocessing.SCHEMES[
      record.preprocessing]
  mean = tf.constant(record.pixel_mean if record.pixel_mean is not None
                     else 0.0, tf.float32)
  names = tf.constant(record.class_names or
                      [str(i) for i in range(record.num_classes)])

  def outputs(images):
    logits, points = module(images)
    classes = tf.argmax(logits, -1)
    return {'classes': classes, 'class_names': tf.gather(names, classes),
            'probabilities': tf.nn.softmax(logits),
            'features': tf.squeeze(points['global_pool'], [1, 2])}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string,
                                              name='image_bytes')])
  def serve_bytes(image_bytes):
    images = tf.map_fn(
        lambda data: scheme(preprocessing.decode_image(data, max_pixels),
                            size, size) - mean, image_bytes, fn_output_signature=tf.TensorSpec(
            [size, size, 3], tf.float32))
    return outputs(images)

  @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3],
                                              tf.float32, name='images')])
  def serve_images(images):
    return outputs(images)

  module.serve_bytes, module.serve_images = serve_bytes, serve_images
  module.class_names = tf.Variable(names, trainable=False)
  _save_atomically(module, path, {'serving_default': serve_bytes,
                                  'serving_images': serve_images},
                   overwrite, inputs)


def export_frozen_graph(session, output_tensors, path):
  """Writes an inference GraphDef with the variables folded to constants.

  Args:
    session: Session holding the net's graph and restored variables.
    output_tensors: Tensors the frozen graph must compute.
    path: Output .pb file, written atomically.

  Returns:
    The names of the output nodes (to fetch as '<name>:0').
  """
  names = [t.op.name for t in output_tensors]
  frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
      session, session.graph.as_graph_def(), names)
  frozen = tf.compat.v1.graph_util.remove_training_nodes(frozen)
  with files.atomic_write(path) as out:
    out.write(frozen.SerializeToString())
  return names
