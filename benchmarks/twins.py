"""Our nets written again in the frameworks we measure against: Keras and
PyTorch, layer for layer, for the side-by-side benchmarks and experiments.

- `keras_cifar_resnet_v1`, `torch_cifar_resnet_v1`: our
  cifar_resnet_v1_<depth> (He et al. 2016's CIFAR ResNet: a 3x3 conv of 16
  with BN and ReLU; 3 stages of (depth - 2) / 6 basic units of 16, 32, 64
  channels; a strided 1x1 conv + BN shortcut where the width changes;
  global average pool; a biased classifier).
- `torch_resnet_v2_50`: resnet_v2_50 (full pre-activation bottlenecks of
  3, 4, 6, 3 units, stride in each block's last unit as TF-Slim's; the
  final BN + ReLU; a 1x1 classifier). Keras's own ResNet50V2 is the Keras
  twin of that one.
PyTorch is optional: `torch_*` import it when called.
"""


def keras_cifar_resnet_v1(depth, num_classes, weight_decay, momentum=0.9,
                          epsilon=1e-5):
  """cifar_resnet_v1_<depth> in Keras. Strided convs pad 1 on every side
  then VALID, as TF-Slim's `conv2d_same`; L2 on every kernel as TF-Slim's
  (weight_decay/2 * sum w^2)."""
  import keras  # pylint: disable=g-import-not-at-top
  layers = keras.layers
  decay = keras.regularizers.L2(weight_decay / 2)

  def conv(x, filters, size, stride):
    if stride > 1:
      x = layers.ZeroPadding2D((size - 1) // 2)(x)
    return layers.Conv2D(filters, size, stride,
                         'valid' if stride > 1 else 'same', use_bias=False,
                         kernel_initializer='he_normal',
                         kernel_regularizer=decay)(x)

  def bn(x):
    return layers.BatchNormalization(momentum=momentum, epsilon=epsilon)(x)

  units = (depth - 2) // 6
  inputs = keras.Input([None, None, 3])
  x = layers.ReLU()(bn(conv(inputs, 16, 3, 1)))
  channels = 16
  for stage, width in enumerate((16, 32, 64)):
    for unit in range(units):
      stride = 2 if stage and not unit else 1
      residual = layers.ReLU()(bn(conv(x, width, 3, stride)))
      residual = bn(conv(residual, width, 3, 1))
      shortcut = x
      if width != channels:
        shortcut = bn(layers.Conv2D(width, 1, stride, use_bias=False,
                                    kernel_initializer='he_normal',
                                    kernel_regularizer=decay)(x))
      x = layers.ReLU()(layers.Add()([shortcut, residual]))
      channels = width
  x = layers.GlobalAveragePooling2D()(x)
  outputs = layers.Dense(num_classes, kernel_initializer='he_normal',
                         kernel_regularizer=decay)(x)
  return keras.Model(inputs, outputs)


def torch_cifar_resnet_v1(depth, num_classes):
  """cifar_resnet_v1_<depth> in PyTorch (BN momentum 0.1 = TF's decay
  0.9; epsilon 1e-5)."""
  from torch import nn  # pylint: disable=g-import-not-at-top

  class Unit(nn.Module):

    def __init__(self, channels, width, stride):
      super().__init__()
      self.residual = nn.Sequential(
          nn.Conv2d(channels, width, 3, stride, 1, bias=False),
          nn.BatchNorm2d(width), nn.ReLU(inplace=True),
          nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width))
      self.shortcut = (nn.Identity() if channels == width else nn.Sequential(
          nn.Conv2d(channels, width, 1, stride, bias=False),
          nn.BatchNorm2d(width)))
      self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
      return self.relu(self.shortcut(x) + self.residual(x))

  units, layers, channels = (depth - 2) // 6, [], 16
  for stage, width in enumerate((16, 32, 64)):
    for unit in range(units):
      layers.append(Unit(channels, width, 2 if stage and not unit else 1))
      channels = width
  return nn.Sequential(
      nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16),
      nn.ReLU(inplace=True), *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
      nn.Linear(64, num_classes))


def torch_resnet_v2_50(num_classes):
  """resnet_v2_50 in PyTorch: pre-activation bottlenecks, TF-Slim's
  layout (the stride in each block's last unit)."""
  from torch import nn  # pylint: disable=g-import-not-at-top

  class Bottleneck(nn.Module):

    def __init__(self, channels, depth, bottleneck, stride):
      super().__init__()
      self.preact = nn.Sequential(nn.BatchNorm2d(channels),
                                  nn.ReLU(inplace=True))
      self.shortcut = (
          nn.Conv2d(channels, depth, 1, stride) if channels != depth else
          nn.MaxPool2d(1, stride) if stride > 1 else nn.Identity())
      self.residual = nn.Sequential(
          nn.Conv2d(channels, bottleneck, 1, bias=False),
          nn.BatchNorm2d(bottleneck), nn.ReLU(inplace=True),
          nn.Conv2d(bottleneck, bottleneck, 3, stride, 1, bias=False),
          nn.BatchNorm2d(bottleneck), nn.ReLU(inplace=True),
          nn.Conv2d(bottleneck, depth, 1))
      self.projects = channels != depth

    def forward(self, x):
      preact = self.preact(x)
      shortcut = self.shortcut(preact if self.projects else x)
      return shortcut + self.residual(preact)

  layers, channels = [], 64
  for bottleneck, units, stride in ((64, 3, 2), (128, 4, 2), (256, 6, 2),
                                    (512, 3, 1)):
    for unit in range(units):
      layers.append(Bottleneck(channels, bottleneck * 4, bottleneck,
                               stride if unit == units - 1 else 1))
      channels = bottleneck * 4
  return nn.Sequential(
      nn.Conv2d(3, 64, 7, 2, 3), nn.MaxPool2d(3, 2, 1), *layers,
      nn.BatchNorm2d(2048), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
      nn.Flatten(), nn.Linear(2048, num_classes))
