"""benchmarks/train_profile.py: the FLOP count it divides by, and the op
profile it prints."""

import pytest
import tensorflow as tf

from benchmarks import train_profile


@pytest.mark.quick
def test_a_forward_image_of_resnet20_counts_its_multiply_adds_twice():
  # conv1 3->16; 6 convs 16->16 at full size; a strided 16->32 conv, its
  # 1x1 shortcut and 5 convs 32->32 at half size; the same again to 64 at
  # a quarter; the classifier. At 32x32: 40.6M multiply-adds (He et al.
  # 2016 quote 41M), so ~81 MFLOP; at 28x28, (28/32)^2 of that.
  def multiply_adds(size):
    half, quarter = -(-size // 2), -(-size // 4)
    return (size * size * 16 * 27 + 6 * size * size * 16 * 16 * 9 +
            half * half * 32 * (16 * 9 + 16 + 5 * 32 * 9) +
            quarter * quarter * 64 * (32 * 9 + 32 + 5 * 64 * 9) + 64 * 10)
  for size in (28, 32):
    assert train_profile.forward_flops('cifar_resnet_v1_20', size) == (
        pytest.approx(2 * multiply_adds(size), rel=0.01))


def test_the_op_profile_names_the_convolutions_of_a_step():
  kernel = tf.Variable(tf.random.normal([3, 3, 3, 8]))

  @tf.function
  def step(images, labels):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.nn.conv2d(images, kernel, 1, 'SAME'))
    kernel.assign_sub(0.1 * tape.gradient(loss, kernel))
    return loss, tf.cast(labels[0], tf.float32)
  times = train_profile.op_times(step, tf.random.normal([8, 16, 16, 3]),
                                 tf.constant([1]), count=2)
  assert any('Conv2D' in name for name in times)
  assert all(ms >= 0 for ms in times.values())
  # Op types only: the executor's span around inline kernels is not one.
  assert 'Process' not in times
