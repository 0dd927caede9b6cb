"""A registered net by name, built under its arg scope.

As tensorflow/models' `nets_factory`: `get_network_fn(name, num_classes,
weight_decay, is_training)` returns a function of images that builds the
net. Every net is a call of the one builder (`resnet.resnet`), through
`resnet`'s ImageNet nets or `cifar.cifar_resnet`.
"""

from tf_slim.ops.arg_scope import arg_scope

from resnet_v2.nets import cifar
from resnet_v2.nets import registry
from resnet_v2.nets import resnet
from resnet_v2.nets.arg_scope import resnet_arg_scope


def _build(spec, images, num_classes, is_training, plain, reuse,
           root_pooling):
  """Builds the net of `spec` (no arg scope of its own)."""
  if spec.family.startswith('cifar_v'):
    return cifar.cifar_resnet(images, spec.depth, int(spec.family[-1]),
                              num_classes, is_training, plain=plain,
                              reuse=reuse, scope=spec.scope)
  options = ({'plain': plain} if spec.family == 'resnet_v1' else
             {'root_pooling': root_pooling})
  return getattr(resnet, spec.name)(
      images, num_classes, is_training, reuse=reuse,
      spatial_squeeze=num_classes is not None, **options)


def get_network_fn(name, num_classes, weight_decay=0.0, is_training=False,
                   plain=False, batch_norm_decay=0.997,
                   conventions='tf_slim'):
  """Returns fn(images, reuse=None) -> (logits, end_points) for a net.

  Args:
    name: A registered name (`registry.get_spec`).
    num_classes: Logits to build, or None for features.
    weight_decay: L2 weight decay of the convolutions.
    is_training: Python bool or bool tensor (batch statistics, BN updates).
    plain: No shortcuts (where the net has that option).
    batch_norm_decay: Decay of the batch-norm moving averages.
    conventions: A key of `registry.CONVENTIONS`: 'tf_slim', or 'keras'
      for weights from Keras's ResNet V2 (its batch-norm epsilon and root
      pooling).

  Returns:
    The function, with `default_image_size` and `spec` attributes.

  Raises:
    ValueError: for an unknown name or plain=True on a net without it.
  """
  spec = registry.get_spec(name)
  registry.check_conventions(name, conventions)
  facts = registry.CONVENTIONS[conventions]
  if plain and not spec.has_plain:
    raise ValueError('%s has no plain variant; plain=True works with %s.' %
                     (name, ', '.join(
                         n for n, s in sorted(registry.NETWORKS.items())
                         if s.has_plain)))

  def network_fn(images, reuse=None):
    with arg_scope(resnet_arg_scope(
        weight_decay=weight_decay, batch_norm_decay=batch_norm_decay,
        batch_norm_epsilon=facts.batch_norm_epsilon)):
      return _build(spec, images, num_classes, is_training, plain, reuse,
                    facts.root_pooling)

  network_fn.default_image_size = spec.image_size
  network_fn.spec = spec
  return network_fn
