"""The nets as TF2 modules: eager, tf.function and tf.distribute, with
TF-Slim variable names.

`ResNetModule` creates a net's variables once, when it is made, under
whatever `tf.distribute` strategy scope is active then (mirrored variables
under MirroredStrategy or MultiWorkerMirroredStrategy, plain ones
otherwise). Each call builds the net's ops again, through the same builder
as the graph functions (`factory.get_network_fn`), in the calling
`tf.function` or replica context; a variable-scope getter hands the
builder the existing variables by their TF-Slim names
(`resnet_v2_50/conv1/weights`, ...), so slim checkpoints restore into them.

Calls take `training`: False runs batch norm on the moving statistics;
True on the batch's statistics (or the global batch's, with
`synchronized_batch_norm`) and updates the moving averages. The moving
averages are on-read synchronized: each replica updates its own copy and
reading them (to save, to evaluate) gives the mean over replicas, as Keras's
batch normalization does.
"""

import types

import tensorflow as tf
from tf_slim.ops import arg_scope as slim_arg_scope
from tf_slim.ops.arg_scope import arg_scope

from resnet_v2 import checkpoints
from resnet_v2.nets import factory
from resnet_v2.nets import layers
from resnet_v2.nets import registry
from resnet_v2.nets import resnet

# Statistics that each replica keeps for itself; read as their mean.
_ON_READ_SUFFIXES = ('/moving_mean', '/moving_variance')


def _arg_scope_regularizer(name):
  """The regularizer the active arg scope gives a convolution's weights.

  Slim's conv2d hands `weights_regularizer` to its layer, which applies it
  itself and never passes it to `get_variable`, so the getter reads it
  here. As in a graph, every `.../weights` variable of the nets (their
  convolutions and logits) gets it.
  """
  if not name.endswith('/weights'):
    return None
  current = slim_arg_scope.current_arg_scope()
  return current.get(slim_arg_scope.arg_scope_func_key(layers.conv2d),
                     {}).get('weights_regularizer')


class VariableStore:
  """Creates variables once and hands them back by name on later builds.

  Use `getter` as the `custom_getter` of a `tf.compat.v1.variable_scope`
  around graph-building code that calls `tf.compat.v1.get_variable`.
  """

  def __init__(self):
    self.variables = {}
    self.regularizers = {}
    self.creating = False

  def getter(self, getter, name, *args, **kwargs):
    """The custom getter: the existing variable, or (while creating) a new
    one made outside any function, in the active strategy's scope."""
    del getter, args
    if name in self.variables:
      return self.variables[name]
    if not self.creating:
      raise ValueError('The net asked for a variable %r it did not have when '
                       'it was made; build it with the same arguments.' %
                       name)
    shape = tf.TensorShape(kwargs['shape'])
    dtype = tf.as_dtype(kwargs.get('dtype') or tf.float32)
    initializer = kwargs.get('initializer')
    if initializer is None:
      initializer = tf.compat.v1.glorot_uniform_initializer()
    on_read = name.endswith(_ON_READ_SUFFIXES)
    with tf.init_scope():
      value = (initializer(shape.as_list(), dtype=dtype)
               if callable(initializer) else initializer)
      variable = tf.Variable(
          value, name=name, dtype=dtype,
          trainable=kwargs.get('trainable', True) and not on_read,
          synchronization=(tf.VariableSynchronization.ON_READ if on_read
                           else tf.VariableSynchronization.AUTO),
          aggregation=(tf.VariableAggregation.MEAN if on_read
                       else tf.VariableAggregation.NONE))
    self.variables[name] = variable
    regularizer = kwargs.get('regularizer') or _arg_scope_regularizer(name)
    if regularizer is not None:
      self.regularizers[name] = regularizer
    return variable


class ResNetModule(tf.Module):
  """A registered net as a `tf.Module`, trainable and distributable.

  Args:
    model: A registry name (`registry.NETWORKS`), e.g. 'resnet_v2_50'.
    num_classes: Logits to build, or None for features.
    scope: Variable scope; default the model's (as in the checkpoints).
      Another scope or NCHW: the published resnet_v2 depths only.
    data_format: 'NHWC' or 'NCHW'.
    name: Module name; default the model's.
    plain: No shortcuts (nets that have the option).
    weight_decay: L2 scale of the convolution weights
      (`regularization_loss`); default the net's.
    batch_norm_decay: Decay of the moving averages; default the net's.
    synchronized_batch_norm: In training, batch statistics over all
      replicas of a `tf.distribute` strategy.
    conventions: 'tf_slim', or 'keras' for weights from Keras's ResNet V2
      (`registry.CONVENTIONS`).

  Raises:
    ValueError: on an unknown model (and as the net raises).
  """

  def __init__(self, model='resnet_v2_50', num_classes=None, scope=None,
               data_format='NHWC', name=None, plain=False, weight_decay=None,
               batch_norm_decay=None, synchronized_batch_norm=False,
               conventions='tf_slim'):
    super().__init__(name=name or model)
    registry.get_spec(model)
    registry.check_conventions(model, conventions)
    self.conventions = conventions
    self._custom = scope is not None or data_format != 'NHWC'
    if self._custom and conventions != 'tf_slim':
      raise ValueError('scope and data_format cannot be changed for %s '
                       'conventions.' % conventions)
    if self._custom and model not in resnet.NETS:
      raise ValueError('scope and data_format can be changed for %s only, '
                       'not %r.' % (sorted(resnet.NETS), model))
    self.model, self.num_classes = model, num_classes
    self._scope, self._data_format, self._plain = scope, data_format, plain
    self._weight_decay, self._batch_norm_decay = (weight_decay,
                                                  batch_norm_decay)
    self._synchronized = synchronized_batch_norm
    self._store = VariableStore()
    channels_last = data_format == 'NHWC'
    self._spec = tf.TensorSpec([None, None, None, 3] if channels_last
                               else [None, 3, None, None], tf.float32)
    # Not tracked (a plain object): SavedModels get the caller's functions.
    self._functions = types.SimpleNamespace(by_mode={
        training: tf.function(lambda images, t=training: self._build(
            images, t), input_signature=[self._spec], autograph=False)
        for training in (False, True)})
    self._store.creating = True
    try:
      _, end_points = self._functions.by_mode[False].get_concrete_function(
          ).structured_outputs
    finally:
      self._store.creating = False
    # Tracked, so tf.train.Checkpoint and SavedModel see them.
    self.net_variables = list(self._store.variables.values())
    self.end_point_names = sorted(end_points)

  @property
  def variables_by_name(self):
    """{TF-Slim name: variable}, in creation order."""
    return dict(self._store.variables)

  @property
  def trainable_variables_by_name(self):
    """{TF-Slim name: variable} of the weights training changes."""
    return {name: v for name, v in self._store.variables.items()
            if v.trainable}

  def _build(self, images, training, update_moving_averages=True):
    """Builds the net's ops in the current graph; returns (net, points)."""
    graph = tf.compat.v1.get_default_graph()
    updates_before = len(graph.get_collection(
        tf.compat.v1.GraphKeys.UPDATE_OPS))
    with tf.compat.v1.variable_scope('', custom_getter=self._store.getter), \
        arg_scope([layers.batch_norm],
                            synchronized=self._synchronized):
      if self._custom:
        net, end_points = getattr(resnet, self.model)(
            images, num_classes=self.num_classes, is_training=training,
            scope=self._scope, spatial_squeeze=self.num_classes is not None,
            data_format=self._data_format)
      else:
        options = {}
        if self._weight_decay is not None:
          options['weight_decay'] = self._weight_decay
        if self._batch_norm_decay is not None:
          options['batch_norm_decay'] = self._batch_norm_decay
        net, end_points = factory.get_network_fn(
            self.model, self.num_classes, is_training=training,
            plain=self._plain, conventions=self.conventions,
            **options)(images)
    updates = graph.get_collection(
        tf.compat.v1.GraphKeys.UPDATE_OPS)[updates_before:]
    if updates and update_moving_averages:
      with tf.control_dependencies(updates):
        net = tf.identity(net)
    return net, end_points

  def __call__(self, images, training=False, update_moving_averages=True):
    """Runs the net: returns (net, {end point name: tensor}).

    Args:
      images: float [batch, height, width, 3] (NHWC) or [batch, 3, height,
        width] (NCHW).
      training: Python bool; True uses batch statistics and updates the
        moving averages.
      update_moving_averages: False leaves them as they are in training
        (inside a tf.function only).

    Raises:
      ValueError: on images that are not rank 4.
      TypeError: on a training flag that is not a Python bool.
    """
    if not isinstance(training, bool):
      raise TypeError('training must be a Python bool, got %r.' % (training,))
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape.rank != 4:
      raise ValueError('images must be rank 4 [batch, height, width, 3], got '
                       'shape %s.' % images.shape)
    if tf.inside_function():
      return self._build(images, training, update_moving_averages)
    return self._functions.by_mode[training](images)

  def regularization_loss(self):
    """The weight decay of the net's regularized variables (a scalar)."""
    losses = [regularizer(self._store.variables[name])
              for name, regularizer in self._store.regularizers.items()]
    losses = [loss for loss in losses if loss is not None]
    return tf.add_n(losses) if losses else tf.constant(0.0)

  def restore(self, checkpoint_path, scope_map=None, exclude=()):
    """Restores a TF-Slim checkpoint; see `checkpoints.restore_eager`."""
    return checkpoints.restore_eager(self.net_variables, checkpoint_path,
                                     scope_map, exclude)

