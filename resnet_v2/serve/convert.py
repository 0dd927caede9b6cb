"""Weights to and from Keras's ResNet50V2, ResNet101V2 and ResNet152V2.

Keras's nets are TF-Slim's resnet_v2_50/101/152 layer for layer (the same
pre-activation units, strides and biases, kernels in the same HWIO layout)
with two differences in numbers: batch-norm epsilon 1.001e-5 (TF-Slim 1e-5)
and the root max pool (Keras pads one zero on every side and pools VALID;
TF-Slim pools SAME). `from_keras` writes a model dir whose model.json
records `conventions`='keras', so every command builds the net as Keras
computes it; `to_keras` writes a `.keras` or `.weights.h5` file that
`keras.saving.load_model` or `keras.applications.ResNet50V2(weights=PATH,
classes=N)` loads.

Keras files are read with Keras's own loaders in safe mode: nothing in
them is run.
"""

import os

import numpy as np

from resnet_v2 import checkpoint_files
from resnet_v2 import files
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import record as record_lib
from resnet_v2.data import labels as labels_lib
from resnet_v2.nets import module as module_lib
from resnet_v2.nets import registry
from resnet_v2.nets import resnet

KERAS_SUFFIXES = ('.keras', '.weights.h5', '.h5')
# The logit added for TF-Slim's 'background' class (index 0 of 1001): no
# weights and a bias that never wins (softmax gives it ~e^-100).
BACKGROUND_BIAS = -100.0
_BN = ('gamma', 'beta', 'moving_mean', 'moving_variance')


def layer_map(model, num_classes=True):
  """[(Keras layer name, [TF-Slim variable names in `get_weights` order])]
  of a resnet_v2 net that Keras also has.

  Args:
    model: 'resnet_v2_50', 'resnet_v2_101' or 'resnet_v2_152'.
    num_classes: Whether the net has logits (Keras 'predictions').
  """
  registry.check_conventions(model, 'keras')
  scope = registry.get_spec(model).scope

  def batch_norm(prefix):
    return [prefix + '/' + name for name in _BN]
  pairs = [('conv1_conv', [scope + '/conv1/weights',
                           scope + '/conv1/biases'])]
  for block, units in enumerate(resnet.NETS[model].units_per_block):
    for unit in range(1, units + 1):
      keras_name = 'conv%d_block%d' % (block + 2, unit)
      slim = '%s/block%d/unit_%d/bottleneck_v2' % (scope, block + 1, unit)
      pairs.append((keras_name + '_preact_bn', batch_norm(slim + '/preact')))
      if unit == 1:
        pairs.append((keras_name + '_0_conv', [slim + '/shortcut/weights',
                                               slim + '/shortcut/biases']))
      for conv in (1, 2):
        pairs.append(('%s_%d_conv' % (keras_name, conv),
                      ['%s/conv%d/weights' % (slim, conv)]))
        pairs.append(('%s_%d_bn' % (keras_name, conv),
                      batch_norm('%s/conv%d/BatchNorm' % (slim, conv))))
      pairs.append((keras_name + '_3_conv', [slim + '/conv3/weights',
                                             slim + '/conv3/biases']))
  pairs.append(('post_bn', batch_norm(scope + '/postnorm')))
  if num_classes:
    pairs.append(('predictions', [scope + '/logits/weights',
                                  scope + '/logits/biases']))
  return pairs


def identify(layer_names):
  """The registry name of the Keras ResNet V2 with these layers.

  Raises:
    ValueError: if they are not ResNet50V2, ResNet101V2 or ResNet152V2.
  """
  names = set(layer_names)
  for model in registry.CONVENTIONS['keras'].keras_names:
    units = resnet.NETS[model].units_per_block
    wanted = {'conv1_conv', 'post_bn'} | {
        'conv%d_block%d_preact_bn' % (block + 2, count)
        for block, count in enumerate(units)}
    beyond = {'conv%d_block%d_preact_bn' % (block + 2, count + 1)
              for block, count in enumerate(units)}
    if wanted <= names and not beyond & names:
      return model
  raise ValueError('not a Keras ResNet50V2, ResNet101V2 or ResNet152V2 '
                   '(its layers are not named as keras.applications '
                   'names them, e.g. conv2_block1_preact_bn)')


def _check_keras_path(path):
  if not path.endswith(KERAS_SUFFIXES):
    raise ValueError('%s: give a Keras file ending in %s.' % (
        path, ', '.join(KERAS_SUFFIXES)))


def _weights_only_net(keras, path):
  """Builds the keras.applications net that a weights-only file fits."""
  import h5py  # pylint: disable=g-import-not-at-top
  with h5py.File(path, 'r') as handle:
    if 'layer_names' in handle.attrs:       # Keras 2's weights-only .h5
      names = [n.decode() if isinstance(n, bytes) else n
               for n in handle.attrs['layer_names']]
      has_top = 'predictions' in names
      classes = None
      if has_top:
        group = handle['predictions']
        kernel = group.attrs['weight_names'][0]
        classes = group[kernel.decode() if isinstance(kernel, bytes)
                        else kernel].shape[-1]
    else:                                   # Keras 3's .weights.h5
      # Layers are stored by kind and position (conv2d, conv2d_1, ...):
      # 1 root conv, 3 per unit and 4 shortcuts tell the depth.
      layers = list(handle['layers']) if 'layers' in handle else []
      convs = sum(1 for n in layers if n == 'conv2d' or (
          n.startswith('conv2d_') and n[7:].isdigit()))
      names = next((
          [name for name, _ in layer_map(model)]
          for model in registry.CONVENTIONS['keras'].keras_names
          if 3 * sum(resnet.NETS[model].units_per_block) + 5 == convs), [])
      has_top = 'dense' in layers
      classes = (handle['layers']['dense']['vars']['0'].shape[-1]
                 if has_top else None)
  model = identify(names)
  net = getattr(keras.applications,
                registry.CONVENTIONS['keras'].keras_names[model])(
                    weights=None, include_top=has_top, classes=classes or 1000,
                    input_shape=None if has_top else (None, None, 3))
  net.load_weights(path)
  return net


def load_keras(path):
  """Reads a Keras ResNet V2 file without running anything in it.

  Returns:
    (keras.Model, registry name).

  Raises:
    ValueError: naming the file, if it is not such a net.
  """
  _check_keras_path(path)
  if not os.path.isfile(path):
    raise ValueError('%s does not exist.' % path)
  import keras  # pylint: disable=g-import-not-at-top
  try:
    full = path.endswith('.keras') or (
        not path.endswith('.weights.h5') and _h5_holds_a_model(path))
    net = (keras.saving.load_model(path, compile=False, safe_mode=True)
           if full else _weights_only_net(keras, path))
    return net, identify([layer.name for layer in net.layers])
  except (ValueError, OSError, KeyError, TypeError) as error:
    raise ValueError('%s: %s' % (path, str(error).splitlines()[0])) from None


def _h5_holds_a_model(path):
  import h5py  # pylint: disable=g-import-not-at-top
  with h5py.File(path, 'r') as handle:
    return 'model_config' in handle.attrs


def keras_weights(net, model, background=False):
  """{TF-Slim name: array} of a Keras ResNet V2 net.

  Args:
    net: The keras.Model (`load_keras`).
    model: Its registry name.
    background: Add TF-Slim's 'background' logit at index 0 (1001 classes
      from Keras's 1000).
  """
  names = {layer.name for layer in net.layers}
  weights = {}
  for layer, slim_names in layer_map(model, 'predictions' in names):
    values = net.get_layer(layer).get_weights()
    weights.update(zip(slim_names, values))
  scope = registry.get_spec(model).scope
  if 'predictions' in names:
    kernel = weights[scope + '/logits/weights']
    bias = weights[scope + '/logits/biases']
    if background:
      kernel = np.concatenate([np.zeros_like(kernel[:, :1]), kernel], 1)
      bias = np.concatenate([[BACKGROUND_BIAS], bias]).astype(bias.dtype)
    weights[scope + '/logits/weights'] = kernel[None, None]
    weights[scope + '/logits/biases'] = bias
  return weights


def _class_names(num_classes):
  return (list(labels_lib.imagenet_class_names(num_classes))
          if num_classes in (1000, 1001) else None)


def from_keras(keras_path, output, background=False, overwrite=False):
  """Converts a Keras ResNet V2 file into a model dir with TF-Slim names.

  Args:
    keras_path: A `.keras`, `.h5` or `.weights.h5` file of
      `keras.applications.ResNet50V2` / `101V2` / `152V2` (any classes;
      without its top: features only).
    output: The model dir to write (whole or not at all).
    background: Add TF-Slim's background logit (1000 -> 1001 classes, as
      the published TF-Slim checkpoints).
    overwrite: Replace what is at output.

  Returns:
    The model dir's `Record`.

  Raises:
    ValueError: on a file that is not such a net (named).
    files.OutputError: if output may not be written.
  """
  files.check_output(output, overwrite, [keras_path])
  net, model = load_keras(keras_path)
  weights = keras_weights(net, model, background)
  logits = registry.get_spec(model).scope + '/logits/biases'
  num_classes = len(weights[logits]) if logits in weights else None
  if background and not num_classes:
    raise ValueError('%s has no classifier: `background` needs one.' %
                     keras_path)
  record = record_lib.Record.for_net(
      model, num_classes, _class_names(num_classes),
      image_size=net.input_shape[1], conventions='keras')

  def write(folder):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    prefix = os.path.join(folder, model_dir_lib.CHECKPOINT_NAME + '-0')
    checkpoint_files.save_by_name({name: tf.constant(value)
                              for name, value in weights.items()}, prefix)
    model_dir_lib.add_checkpoint(folder, prefix)
    record.write(folder)
  files.write_folder(output, write, prefix='.convert_', overwrite=overwrite,
                     inputs=[keras_path])
  return record


def to_keras(output, model_dir=None, model=None, checkpoint=None,
             overwrite=False):
  """Writes a resnet_v2_50/101/152 model dir or checkpoint as a Keras file.

  A 1001-class net whose first class is TF-Slim's 'background' becomes a
  1000-class Keras net (Keras's ImageNet numbering); any other keeps its
  classes.

  Args:
    output: The file: `.keras` (the whole net) or `.weights.h5`.
    model_dir: A model dir; or model and checkpoint instead.
    model, checkpoint: A registry name and a TF-Slim checkpoint prefix.
    overwrite: Replace an existing file.

  Returns:
    dict: model, keras (the application's name), classes, conventions (of
    the weights; 'tf_slim' ones compute slightly differently in Keras,
    which uses its own).

  Raises:
    ValueError: on a net Keras does not have, or an unknown suffix.
    files.OutputError: if output may not be written.
  """
  if not output.endswith(('.keras', '.weights.h5')):
    raise ValueError('%s: give a Keras file ending in .keras or '
                     '.weights.h5.' % output)
  if not (model_dir or checkpoint):
    raise ValueError('Give a model dir, or a net and its checkpoint.')
  record = record_lib.Record.open(model_dir, model, checkpoint)
  prefix = record.checkpoint()
  registry.check_conventions(record.model, 'keras')
  files.check_output(output, overwrite, [model_dir, prefix + '.index'])
  import keras  # pylint: disable=g-import-not-at-top
  pairs = layer_map(record.model, record.num_classes)
  # The net itself, restored (not `model.Model`, which reaches published
  # weights through `weights`, which converts Keras's files here).
  module = module_lib.ResNetModule(record.model, record.num_classes,
                                   plain=record.plain,
                                   conventions=record.conventions)
  module.restore(record.weights)
  held = module.variables_by_name
  values = {name: held[name].numpy() for _, names in pairs for name in names}
  classes = record.num_classes
  scope = registry.get_spec(record.model).scope
  if classes:
    kernel = values[scope + '/logits/weights'][0, 0]
    bias = values[scope + '/logits/biases']
    names = record.class_names or _class_names(classes)
    if classes == 1001 and names and names[0] == 'background':
      kernel, bias, classes = kernel[:, 1:], bias[1:], 1000
    values[scope + '/logits/weights'], values[scope + '/logits/biases'] = (
        kernel, bias)
  application = registry.CONVENTIONS['keras'].keras_names[record.model]
  net = getattr(keras.applications, application)(
      weights=None, include_top=bool(classes), classes=classes or 1000,
      input_shape=((record.image_size, record.image_size, 3) if classes
                   else (None, None, 3)))
  for layer, names in pairs:
    net.get_layer(layer).set_weights([values[name] for name in names])
  _save_keras(net, output)
  return {'model': record.model, 'keras': application, 'classes': classes,
          'conventions': record.conventions}


def _save_keras(net, output):
  """Saves through a temporary file of the same suffix beside output,
  renamed into place when whole."""
  folder = os.path.dirname(os.path.abspath(output))
  suffix = '.weights.h5' if output.endswith('.weights.h5') else '.keras'
  temporary = os.path.join(folder, '.tmp_%d_%s%s' % (
      os.getpid(), os.path.basename(output)[:-len(suffix)], suffix))
  try:
    if suffix == '.keras':
      net.save(temporary)
    else:
      net.save_weights(temporary)
    files.fsync_path(temporary)
    os.replace(temporary, output)
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)
