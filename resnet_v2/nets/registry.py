"""Every net the library builds, by one name, with its facts: plain data.

`NETWORKS[name]` (or `get_spec(name)` for any CIFAR depth) holds what every
other package needs to feed a net without building it: the image size, the
preprocessing, the classes and input size of its published checkpoint, its
variable scope. Nothing here imports TensorFlow, so the command line, the
input pipeline and the model dirs read it for free; `factory` builds the
nets.
"""

import collections
import re

NetSpec = collections.namedtuple('NetSpec', [
    'name', 'family', 'depth', 'image_size', 'preprocessing',
    'checkpoint_classes', 'scope', 'has_plain', 'checkpoint_image_size'])
NetSpec.__doc__ = """One registered net.

family: 'resnet_v2' or 'resnet_v1' (TF-Slim's ImageNet nets), 'cifar_v1'
  or 'cifar_v2' (He et al.'s CIFAR-10 nets).
depth: layers, e.g. 50 or 20.
image_size: the size it is trained and evaluated at by default.
preprocessing: a name from `data.preprocessing.SCHEMES`.
checkpoint_classes: classes of the published checkpoint (1001 for TF-Slim's
  ResNet v2, index 0 = background; 1000 for ResNet v1), or of the paper's
  data set (10 for the CIFAR nets).
scope: the variable scope of its variables, e.g. 'resnet_v2_50'.
has_plain: whether `plain=True` (no shortcuts) applies.
checkpoint_image_size: the size its published checkpoint was trained at
  (299 for TF-Slim's ResNet v2: Inception preprocessing), else image_size.
"""

# Layers per unit of the CIFAR nets: depth = k * n + 2 (v1 basic units: 6,
# v2 pre-activation bottlenecks: 9).
CIFAR_LAYERS_PER_UNIT = {1: 6, 2: 9}
_CIFAR_EXAMPLES = {1: '20, 32, 44, 56, 110', 2: '56, 110, 164'}


def cifar_units_per_stage(depth, version):
  """n such that depth = 6n + 2 (v1) or 9n + 2 (v2).

  Raises:
    ValueError: for another version or a depth not of that form.
  """
  if version not in CIFAR_LAYERS_PER_UNIT:
    raise ValueError('version must be 1 (basic units) or 2 (pre-activation '
                     'bottlenecks), got %r.' % (version,))
  per_unit = CIFAR_LAYERS_PER_UNIT[version]
  if (not isinstance(depth, int) or depth < per_unit + 2 or
      (depth - 2) % per_unit):
    raise ValueError('A v%d CIFAR ResNet has depth %dn + 2 (e.g. %s), got %r.'
                     % (version, per_unit, _CIFAR_EXAMPLES[version], depth))
  return (depth - 2) // per_unit


def _cifar_spec(depth, version):
  name = 'cifar_resnet_v%d_%d' % (version, depth)
  return NetSpec(name, 'cifar_v%d' % version, depth, 32, 'cifar', 10, name,
                 True, 32)


def _build_networks():
  networks = {}
  for depth in (50, 101, 152, 200):
    name = 'resnet_v2_%d' % depth
    networks[name] = NetSpec(name, 'resnet_v2', depth, 224, 'inception',
                             1001, name, False, 299)
    name = 'resnet_v1_%d' % depth
    networks[name] = NetSpec(name, 'resnet_v1', depth, 224, 'vgg', 1000,
                             name, True, 224)
  for version, depths in ((1, (20, 32, 44, 56, 110)), (2, (56, 110, 164))):
    for depth in depths:
      spec = _cifar_spec(depth, version)
      networks[spec.name] = spec
  return networks


NETWORKS = _build_networks()

_CIFAR_NAME = re.compile(r'^cifar_resnet_v([12])_(\d+)$')


def get_spec(name):
  """Returns the NetSpec of `name`.

  Besides `NETWORKS`, any CIFAR depth of the papers' form is a name:
  'cifar_resnet_v1_<6n+2>', 'cifar_resnet_v2_<9n+2>' (e.g. v1_8, v1_14).

  Raises:
    ValueError: for an unknown name, listing the known ones, or a CIFAR
      depth not of that form.
  """
  if name in NETWORKS:
    return NETWORKS[name]
  match = _CIFAR_NAME.match(name or '')
  if match:
    version, depth = int(match.group(1)), int(match.group(2))
    cifar_units_per_stage(depth, version)
    return _cifar_spec(depth, version)
  raise ValueError('Unknown model %r; choose from %s.' %
                   (name, ', '.join(sorted(NETWORKS))))


def default_image_size(model, checkpoint=None):
  """The input size to run a registered net at: with a checkpoint, what
  its published checkpoints were trained at (299 for an Inception-
  preprocessed net); else the net's own (224, or 32 for CIFAR nets)."""
  spec = get_spec(model)
  return spec.checkpoint_image_size if checkpoint else spec.image_size


Conventions = collections.namedtuple(
    'Conventions', ['batch_norm_epsilon', 'root_pooling', 'keras_names'])
Conventions.__doc__ = """The numbers a set of weights was trained with, where
two frameworks build the same ResNet V2 differently.

batch_norm_epsilon: added to the batch-norm variance.
root_pooling: pool1 (3x3/2 max) pads 'same' (TF-Slim: after only, never
  with zeros) or 'zero_pad' (Keras: one zero on every side, then VALID).
keras_names: Keras's applications of these depths ({registry name: the
  `keras.applications` class}), the nets the conventions apply to.
"""

# 'tf_slim' is every net's default; 'keras' is what Keras's ResNet50V2,
# ResNet101V2 and ResNet152V2 compute (and weights converted from them).
CONVENTIONS = {
    'tf_slim': Conventions(1e-5, 'same', {}),
    'keras': Conventions(1.001e-5, 'zero_pad', {
        'resnet_v2_50': 'ResNet50V2', 'resnet_v2_101': 'ResNet101V2',
        'resnet_v2_152': 'ResNet152V2'}),
}


def check_conventions(model, conventions):
  """Raises ValueError unless `model` can be built with `conventions`."""
  if conventions not in CONVENTIONS:
    raise ValueError('conventions must be one of %s, got %r.' % (
        ', '.join(sorted(CONVENTIONS)), conventions))
  names = CONVENTIONS[conventions].keras_names
  if conventions != 'tf_slim' and model not in names:
    raise ValueError('%s conventions apply to %s only, not %s.' % (
        conventions, ', '.join(sorted(names)), model))
