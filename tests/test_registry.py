"""The net registry: every net by one name, with its facts."""

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2.nets import cifar
from resnet_v2.nets import factory
from resnet_v2.nets import registry

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def count_parameters():
  return sum(int(np.prod(v.shape)) for v in tf.compat.v1.trainable_variables())


@pytest.mark.parametrize('name, classes, parameters', [
    ('resnet_v2_50', 1001, 25570409),
    ('resnet_v1_50', 1000, 25557032),
])
def test_published_nets_build_with_their_checkpoint_layout(graph, name,
                                                           classes,
                                                           parameters):
  network_fn = factory.get_network_fn(name, classes)
  logits, end_points = network_fn(tf.zeros([1, 64, 64, 3]))
  assert logits.shape.as_list() == [1, classes]
  assert count_parameters() == parameters
  assert network_fn.default_image_size == 224
  assert network_fn.spec.checkpoint_classes == classes
  assert name + '/block4' in end_points


def test_every_registered_net_builds_by_name(graph, monkeypatch):
  # Every CIFAR name reaches the builder with its own depth, version and
  # scope; the smallest net of each version is built for real here (the
  # others differ only in units per stage: tests/test_cifar.py builds
  # depths 20, 56, 110 and 164). Building all 8 took ~2 minutes.
  calls, real = {}, cifar.cifar_resnet

  def builder(images, depth, version, num_classes, is_training, plain=False,
              reuse=None, scope=None):
    calls[scope] = (depth, version, num_classes)
    if (depth, version) in ((20, 1), (56, 2)):
      return real(images, depth, version, num_classes, is_training,
                  plain=plain, reuse=reuse, scope=scope)
    return tf.zeros([images.shape[0], num_classes]), {}
  monkeypatch.setattr(cifar, 'cifar_resnet', builder)
  for name, spec in sorted(registry.NETWORKS.items()):
    if spec.image_size != 32:
      continue   # the ImageNet nets are checked above
    logits, _ = factory.get_network_fn(name, 7, weight_decay=1e-4)(
        tf.zeros([2, 32, 32, 3]))
    assert logits.shape.as_list() == [2, 7], name
    depth, version = int(name.rsplit('_', 1)[1]), int(name[14])
    assert calls[spec.scope] == (depth, version, 7), name
  assert {v.op.name.split('/')[0] for v in tf.compat.v1.global_variables()
          } == {'cifar_resnet_v1_20', 'cifar_resnet_v2_56'}
  # Weight decay reached the convolutions.
  assert tf.compat.v1.losses.get_regularization_losses()


def test_plain_removes_shortcuts_where_it_applies(graph):
  factory.get_network_fn('cifar_resnet_v1_20', 10, plain=True)(
      tf.zeros([1, 32, 32, 3]))
  assert not [v for v in tf.compat.v1.global_variables()
              if 'shortcut' in v.name]
  with tf.Graph().as_default():
    factory.get_network_fn('cifar_resnet_v1_20', 10)(
        tf.zeros([1, 32, 32, 3]))
    assert [v for v in tf.compat.v1.global_variables()
            if 'shortcut' in v.name]
  with pytest.raises(ValueError, match='resnet_v2_50 has no plain variant'):
    factory.get_network_fn('resnet_v2_50', 10, plain=True)


def test_unknown_names_list_the_known_ones():
  with pytest.raises(ValueError, match='Unknown model .resnet_v3.*resnet_v2_50'):
    factory.get_network_fn('resnet_v3', 10)
  expected = {'resnet_v2_50', 'resnet_v2_101', 'resnet_v2_152',
              'resnet_v2_200', 'resnet_v1_50', 'resnet_v1_101',
              'resnet_v1_152', 'resnet_v1_200', 'cifar_resnet_v1_20',
              'cifar_resnet_v1_32', 'cifar_resnet_v1_44', 'cifar_resnet_v1_56',
              'cifar_resnet_v1_110', 'cifar_resnet_v2_56',
              'cifar_resnet_v2_110', 'cifar_resnet_v2_164'}
  assert set(registry.NETWORKS) == expected
