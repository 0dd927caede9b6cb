"""One timed step of each implementation: this project's graph and Keras's
ResNet V2, built on the same input shape, and the facts reported with them."""

import os
import platform

import numpy as np
import tensorflow as tf

import resnet_v2
from benchmarks import timing
from resnet_v2 import cpu
from resnet_v2 import runtime

NUM_CLASSES = 1000
MODES = ('forward', 'forward-backward')
# Small, so that weights stay sane over a long benchmark.
SGD_LEARNING_RATE = 1e-4
KERAS_NAMES = {'resnet_v2_50': 'ResNet50V2', 'resnet_v2_101': 'ResNet101V2',
               'resnet_v2_152': 'ResNet152V2'}


def image_shape(batch_size, image_size, data_format):
  if data_format == 'NHWC':
    return [batch_size, image_size, image_size, 3]
  return [batch_size, 3, image_size, image_size]


class ProjectStep:
  """This project's net as a graph with its own session.

  Input is a non-trainable variable on the device (no host copy per step)
  unless `feed` is set, when a placeholder is fed from host memory.
  Forward runs in inference mode; forward-backward computes the softmax
  cross-entropy plus weight decay, the gradients of every trainable variable
  and applies them (plain SGD) with the batch-norm updates, as a training
  step does. Applying matters: grappler prunes gradients that only a
  tf.group waits for, and such a "step" computes nothing.
  """

  def __init__(self, model, batch_size, image_size, mode='forward',
               precision='fp32', device='cpu', data_format='NHWC',
               feed=False, config=None):
    self.graph = tf.Graph()
    shape = image_shape(batch_size, image_size, data_format)
    rng = np.random.default_rng(0)
    with self.graph.as_default(), tf.device('/%s:0' % device):
      if feed:
        images = tf.compat.v1.placeholder(tf.float32, shape, name='images')
        self.feed = {images: rng.uniform(-1, 1, shape).astype(np.float32)}
      else:
        images = tf.Variable(tf.random.uniform(shape, -1, 1), trainable=False,
                             name='images')
        self.feed = None
      training = mode == 'forward-backward'
      logits, end_points = getattr(resnet_v2, model)(
          images, num_classes=NUM_CLASSES, is_training=training,
          spatial_squeeze=True, data_format=data_format)
      if training:
        labels = tf.constant(rng.integers(0, NUM_CLASSES, batch_size))
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(
            labels, logits) + tf.add_n(tf.compat.v1.losses.get_regularization_losses())
        variables = tf.compat.v1.trainable_variables()
        gradients = tf.gradients(loss, variables)
        with tf.control_dependencies(tf.compat.v1.get_collection(
            tf.compat.v1.GraphKeys.UPDATE_OPS)):
          self.target = tf.compat.v1.train.GradientDescentOptimizer(
              SGD_LEARNING_RATE).apply_gradients(zip(gradients, variables))
      else:
        self.target = end_points['predictions']
      init = tf.compat.v1.global_variables_initializer()
    self.flops_per_image = timing.graph_flops(
        self.graph, self.target) / batch_size
    self.session = tf.compat.v1.Session(graph=self.graph, config=config)
    self.session.run(init)

  def __call__(self):
    self.session.run(self.target, feed_dict=self.feed)

  def effective_precision(self):
    """What the convolutions really run in (see runtime)."""
    return runtime.effective_precision(self.session, self.target, self.feed)

  def close(self):
    self.session.close()


class KerasStep:
  """keras.applications' ResNet V2 (weights=None) on a device-resident input,
  fp32, called through tf.function as Keras users run it fast."""

  def __init__(self, model, batch_size, image_size, mode='forward',
               device='cpu'):
    import keras  # pylint: disable=g-import-not-at-top
    if model not in KERAS_NAMES:
      raise ValueError('Keras has no %s; --compare keras works with %s.' %
                       (model, sorted(KERAS_NAMES)))
    with tf.device('/%s:0' % device):
      self.model = getattr(keras.applications, KERAS_NAMES[model])(
          weights=None, input_shape=(image_size, image_size, 3),
          classes=NUM_CLASSES)
      images = tf.Variable(
          tf.random.uniform([batch_size, image_size, image_size, 3], -1, 1),
          trainable=False)
      labels = tf.constant(
          np.random.default_rng(0).integers(0, NUM_CLASSES, batch_size))
    model_fn = self.model

    @tf.function
    def forward():
      return model_fn(images, training=False)

    @tf.function
    def forward_backward():
      with tf.GradientTape() as tape:
        probabilities = model_fn(images, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, probabilities))
        if model_fn.losses:
          loss += tf.add_n(model_fn.losses)
      gradients = tape.gradient(loss, model_fn.trainable_variables)
      # Applied (plain SGD), as in the project's step: gradients nothing
      # uses are pruned, and the step would time the forward pass only.
      for variable, gradient in zip(model_fn.trainable_variables, gradients):
        variable.assign_sub(SGD_LEARNING_RATE * gradient)
      return loss

    self._step = forward if mode == 'forward' else forward_backward
    self.name = KERAS_NAMES[model]

  def __call__(self):
    # .numpy() waits for the result (on GPUs the call returns before it).
    self._step().numpy()

  def close(self):
    pass


def forward_flops_per_image(model, image_size):
  """FLOPs of one image's forward pass of a resnet_v2 net (1000 classes),
  counted as ProjectStep counts them."""
  graph = tf.Graph()
  with graph.as_default():
    images = tf.compat.v1.placeholder(tf.float32,
                                      [1, image_size, image_size, 3])
    _, end_points = getattr(resnet_v2, model)(
        images, num_classes=NUM_CLASSES, is_training=False,
        spatial_squeeze=True)
  return timing.graph_flops(graph, end_points['predictions'])


def cpu_name():
  """The CPU's model name, from /proc/cpuinfo where there is one."""
  try:
    with open('/proc/cpuinfo') as cpuinfo:
      for line in cpuinfo:
        if line.startswith('model name'):
          return '%s (%d cores)' % (line.split(':', 1)[1].strip(),
                                    os.cpu_count())
  except OSError:
    pass
  return platform.processor() or platform.machine()


# The CPU features that decide which kernels run.
ISA_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16',
             'amx_bf16', 'amx_int8', 'avx_vnni')


def cpu_isa_flags():
  """Which of ISA_FLAGS this CPU has (None where flags cannot be read)."""
  flags = cpu.flags()
  return None if flags is None else [f for f in ISA_FLAGS if f in flags]


def device_name(device):
  """Names the CPU or first GPU the run used."""
  if device == 'gpu':
    gpus = tf.config.list_physical_devices('GPU')
    if gpus:
      return tf.config.experimental.get_device_details(gpus[0]).get(
          'device_name', gpus[0].name)
  return cpu_name()


def session_config(args):
  # int8 and --engine openvino run on OpenVINO; the TensorFlow sessions
  # around them run fp32.
  on_openvino = args.precision == 'int8' or getattr(args, 'engine',
                                                    None) == 'openvino'
  return runtime.session_config(
      precision='fp32' if on_openvino else args.precision,
      device=args.device,
      intra_op_threads=args.intra_threads, inter_op_threads=args.inter_threads,
      xla=args.xla, disabled_rewrites=args.disable_rewrite)
