"""Small nets and checkpoints written with slim variable names, for tests."""

import numpy as np
import tensorflow as tf

import resnet_v2


def tiny_blocks():
  return [resnet_v2.resnet_v2_block('block1', 2, 2, 2),
          resnet_v2.resnet_v2_block('block2', 4, 1, 1)]


def tiny_net(images, num_classes=5, scope='tiny', **kwargs):
  return resnet_v2.resnet_v2(images, tiny_blocks(), num_classes=num_classes,
                             is_training=False, scope=scope,
                             spatial_squeeze=num_classes is not None, **kwargs)


def random_values(variables, rng):
  """{variable: random value}: He-scaled weights, gamma and moving variance
  in [0.5, 1.5] (batch norm needs them positive), the rest N(0, 0.2)."""
  values = {}
  for v in variables:
    shape = v.shape.as_list()
    if v.op.name.endswith(('gamma', 'moving_variance')):
      value = rng.uniform(0.5, 1.5, shape)
    elif v.op.name.endswith('weights'):
      value = rng.normal(0, np.sqrt(2.0 / max(1, np.prod(shape[:-1]))), shape)
    else:
      value = rng.normal(0, 0.2, shape)
    values[v] = value.astype(np.float32)
  return values


def randomize(session, rng, variables=None):
  """Loads random_values into the variables; returns {name: value}."""
  values = random_values(variables or tf.compat.v1.global_variables(), rng)
  # One run for all (what Variable.load does one variable at a time: a run
  # each took 0.1 s, 28 s for resnet_v2_50's 272 variables).
  session.run([v.initializer for v in values], {
      v.initializer.inputs[1]: value for v, value in values.items()})
  return {v.op.name: value for v, value in values.items()}


def write_checkpoint(path, build, rng, extra=None):
  """Builds a net with `build(images)`, randomizes it and saves it.

  Args:
    path: Checkpoint prefix to write.
    build: Function of a [None, 32, 32, 3] placeholder.
    rng: numpy Generator.
    extra: Optional function called in the graph before saving (e.g. to add
      training-state variables).

  Returns:
    {variable name: saved value}.
  """
  with tf.Graph().as_default():
    build(tf.compat.v1.placeholder(tf.float32, [None, 32, 32, 3]))
    if extra:
      extra()
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      values = randomize(session, rng)
      tf.compat.v1.train.Saver().save(session, str(path))
  return values


def seeded_checkpoint(folder, model='cifar_resnet_v1_20'):
  """A checkpoint of a registered net's seeded random weights, features
  only (no logits), written under folder; returns its prefix."""
  # pylint: disable=g-import-not-at-top
  from resnet_v2 import checkpoint_files
  from resnet_v2.nets import module as module_lib
  tf.random.set_seed(0)
  net = module_lib.ResNetModule(model, None)
  return checkpoint_files.save_by_name(net.variables_by_name,
                                       str(folder / 'net.ckpt'))
