"""Transfer learning on a real dataset that needs no download.

Freezes a resnet_v2 backbone, caches its pooled features of scikit-learn's
bundled handwritten digits (1797 8x8 images, upsampled and tiled to 3
channels) to an .npz, and trains a new softmax head on them.

  python -m examples.transfer_digits [--checkpoint resnet_v2_50.ckpt]

Without a checkpoint the backbone has random weights (said loudly): the head
then learns from random convolutional features, a baseline, not ImageNet
transfer.
"""

import argparse
import os
import sys

import numpy as np
import tensorflow as tf

from resnet_v2.serve import features
from resnet_v2.serve import model as model_lib

NUM_CLASSES = 10


def load_digits_images(image_size):
  """scikit-learn's 1797 8x8 digits, bilinearly upsampled to image_size and
  tiled to 3 channels.

  Returns:
    (uint8 images [1797, size, size, 3], int64 labels [1797]).
  """
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  pixels = (digits.images / 16.0 * 255)[..., None].astype(np.float32)
  images = tf.image.resize(pixels, [image_size, image_size]).numpy()
  images = np.clip(images.round(), 0, 255).astype(np.uint8)
  return np.repeat(images, 3, -1), digits.target.astype(np.int64)


def cached_features(model, images, end_point, cache_path, settings=''):
  """Pooled features of images, computed once and kept in cache_path.

  The cache is reused only when it was made with the same `settings` (a
  string naming model, weights, size, end point and seed) and image count;
  otherwise it is recomputed and replaced.
  """
  if cache_path and os.path.exists(cache_path):
    cached = np.load(cache_path)
    if (cached['features'].shape[0] == len(images) and 'settings' in cached
        and str(cached['settings']) == settings):
      return cached['features']
  scaled = images.astype(np.float32) / 127.5 - 1.0   # Inception's [-1, 1]
  batches = [model.run(scaled[i:i + 64], [end_point])[end_point]
             for i in range(0, len(scaled), 64)]
  pooled = np.concatenate(batches).reshape(len(images), -1)
  if cache_path:
    features.write_npz_atomically(cache_path, {
        'features': pooled, 'settings': np.array(settings)})
  return pooled


def train_softmax_head(train_x, train_y, steps=300, learning_rate=0.01,
                       seed=0):
  """Trains a new softmax layer with Adam on fixed features.

  Returns:
    A function from features to predicted labels.
  """
  mean, std = train_x.mean(0), train_x.std(0) + 1e-6
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(seed)
    x = tf.compat.v1.placeholder(tf.float32, [None, train_x.shape[1]])
    y = tf.compat.v1.placeholder(tf.int64, [None])
    weights = tf.compat.v1.get_variable(
        'head/weights', [train_x.shape[1], NUM_CLASSES],
        initializer=tf.compat.v1.glorot_uniform_initializer())
    biases = tf.compat.v1.get_variable('head/biases', [NUM_CLASSES],
                                       initializer=tf.zeros_initializer())
    logits = tf.matmul((x - mean) / std, weights) + biases
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(y, logits)
    train = tf.compat.v1.train.AdamOptimizer(learning_rate).minimize(loss)
    predict = tf.argmax(logits, -1)
    session = tf.compat.v1.Session(graph=graph)
    session.run(tf.compat.v1.global_variables_initializer())
  for _ in range(steps):
    session.run(train, {x: train_x, y: train_y})
  return lambda features_: session.run(predict, {x: features_})


def run(model_name='resnet_v2_50', checkpoint=None, image_size=64,
        end_point='global_pool', cache_path=None, steps=300, test_fraction=0.25,
        seed=0):
  """The whole example; returns (train accuracy, test accuracy)."""
  images, labels = load_digits_images(image_size)
  model = model_lib.Model.load(model=model_name, checkpoint=checkpoint,
                               image_size=image_size, seed=seed)
  settings = 'model=%s checkpoint=%s size=%d end_point=%s seed=%d' % (
      model_name, checkpoint, image_size, end_point, seed)
  pooled = cached_features(model, images, end_point, cache_path, settings)
  order = np.random.default_rng(seed).permutation(len(labels))
  split = int(len(labels) * (1 - test_fraction))
  train, test = order[:split], order[split:]
  predict = train_softmax_head(pooled[train], labels[train], steps, seed=seed)
  return (float(np.mean(predict(pooled[train]) == labels[train])),
          float(np.mean(predict(pooled[test]) == labels[test])))


def main(argv=None):
  parser = argparse.ArgumentParser(
      prog='python -m examples.transfer_digits', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--model', default='resnet_v2_50')
  parser.add_argument('--checkpoint')
  parser.add_argument('--image-size', type=int, default=64)
  parser.add_argument('--end-point', default='global_pool')
  parser.add_argument('--cache', default='digits_features.npz',
                      help='feature cache (default: %(default)s)')
  parser.add_argument('--steps', type=int, default=300)
  parser.add_argument('--seed', type=int, default=0,
                      help='seeds random weights, the split and the head')
  args = parser.parse_args(argv)
  train_accuracy, test_accuracy = run(
      args.model, args.checkpoint, args.image_size, args.end_point,
      args.cache, args.steps, seed=args.seed)
  print('digits, %s %s features, new softmax head: train accuracy %.3f, '
        'test accuracy %.3f (chance 0.100)' % (
            args.model, args.end_point, train_accuracy, test_accuracy))
  return 0


if __name__ == '__main__':
  sys.exit(main())
