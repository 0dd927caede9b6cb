"""Every net the library builds, by one name, with its facts and defaults.

As tensorflow/models' `nets_factory`: `get_network_fn(name, num_classes,
weight_decay, is_training)` returns a function of images that builds the net
under its arg scope. `NETWORKS[name]` holds what later commands need to
feed it: the image size, the preprocessing and the classes of its published
checkpoint. Every entry is a call of the one builder, `nets.resnet`.
"""

import collections
import functools
import re

from tf_slim.ops.arg_scope import arg_scope

from resnet_v2 import cifar
from resnet_v2 import nets
from resnet_v2.arg_scope import resnet_arg_scope

NetSpec = collections.namedtuple('NetSpec', [
    'name', 'build', 'image_size', 'preprocessing', 'checkpoint_classes',
    'scope', 'has_plain'])
NetSpec.__doc__ = """One registered net.

build: fn(images, num_classes, is_training, plain, reuse) ->
  (logits [batch, num_classes] or features, end_points), built without an
  arg scope of its own (get_network_fn adds it).
image_size: the size it is trained and evaluated at by default.
preprocessing: a name from `preprocessing.SCHEMES`.
checkpoint_classes: classes of the published checkpoint (1001 for TF-Slim's
  ResNet v2, index 0 = background; 1000 for ResNet v1), or of the paper's
  data set (10 for the CIFAR nets).
scope: the variable scope of its variables, e.g. 'resnet_v2_50'.
has_plain: whether `plain=True` (no shortcuts) applies.
"""


def _imagenet_v2(depth, images, num_classes, is_training, plain, reuse):
  del plain  # refused by get_network_fn
  fn = getattr(nets, 'resnet_v2_%d' % depth)
  return fn(images, num_classes, is_training, reuse=reuse,
            spatial_squeeze=num_classes is not None)


def _imagenet_v1(depth, images, num_classes, is_training, plain, reuse):
  fn = getattr(nets, 'resnet_v1_%d' % depth)
  return fn(images, num_classes, is_training, reuse=reuse,
            spatial_squeeze=num_classes is not None, plain=plain)


def _cifar(depth, version, images, num_classes, is_training, plain, reuse):
  scope = 'cifar_resnet_v%d_%d' % (version, depth)
  return cifar.cifar_resnet(images, depth, version, num_classes,
                            is_training, plain=plain, reuse=reuse,
                            scope=scope)


def _build_networks():
  networks = {}
  for depth in (50, 101, 152, 200):
    name = 'resnet_v2_%d' % depth
    networks[name] = NetSpec(name, functools.partial(_imagenet_v2, depth),
                             224, 'inception', 1001, name, False)
    name = 'resnet_v1_%d' % depth
    networks[name] = NetSpec(name, functools.partial(_imagenet_v1, depth),
                             224, 'vgg', 1000, name, True)
  for version, depths in ((1, (20, 32, 44, 56, 110)), (2, (56, 110, 164))):
    for depth in depths:
      name = 'cifar_resnet_v%d_%d' % (version, depth)
      networks[name] = NetSpec(
          name, functools.partial(_cifar, depth, version), 32, 'cifar', 10,
          name, True)
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
  match = _CIFAR_NAME.match(name) if name not in NETWORKS else None
  if match:
    version, depth = int(match.group(1)), int(match.group(2))
    cifar.units_per_stage(depth, version)
    return NetSpec(name, functools.partial(_cifar, depth, version), 32,
                   'cifar', 10, name, True)
  if name not in NETWORKS:
    raise ValueError('Unknown model %r; choose from %s.' %
                     (name, ', '.join(sorted(NETWORKS))))
  return NETWORKS[name]


def get_network_fn(name, num_classes, weight_decay=0.0, is_training=False,
                   plain=False, batch_norm_decay=0.997):
  """Returns fn(images, reuse=None) -> (logits, end_points) for a net.

  Args:
    name: A key of `NETWORKS`.
    num_classes: Logits to build, or None for features.
    weight_decay: L2 weight decay of the convolutions.
    is_training: Python bool or bool tensor (batch statistics, BN updates).
    plain: No shortcuts (where the net has that option).
    batch_norm_decay: Decay of the batch-norm moving averages.

  Returns:
    The function, with `default_image_size` and `spec` attributes.

  Raises:
    ValueError: for an unknown name or plain=True on a net without it.
  """
  spec = get_spec(name)
  if plain and not spec.has_plain:
    raise ValueError('%s has no plain variant; plain=True works with %s.' %
                     (name, ', '.join(n for n, s in sorted(NETWORKS.items())
                                      if s.has_plain)))

  def network_fn(images, reuse=None):
    with arg_scope(resnet_arg_scope(weight_decay=weight_decay,
                                    batch_norm_decay=batch_norm_decay)):
      return spec.build(images, num_classes, is_training, plain, reuse)

  network_fn.default_image_size = spec.image_size
  network_fn.spec = spec
  return network_fn

