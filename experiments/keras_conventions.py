"""How far a Keras ResNet V2's logits move when its weights run under
TF-Slim's conventions instead of Keras's (batch-norm epsilon 1e-5 vs
1.001e-5; pool1 SAME vs zero-pad-1 VALID).

  pip download foolbox==3.3.4 --no-deps -d /tmp/fb && \\
      unzip -o -q /tmp/fb/foolbox-3.3.4-py3-none-any.whl 'foolbox/data/*' -d /tmp/fb
  python -m experiments.keras_conventions --images /tmp/fb/foolbox/data \\
      --out experiments/keras_conventions

Keras's ImageNet weights cannot be downloaded here, so the net has seeded
random weights with batch-norm statistics drawn far from 0 and 1 (as in
tests/test_convert.py); the images are foolbox's 20 ImageNet JPEGs (any
folder of images works), resized to 224x224 and scaled to [-1, 1] as
Keras's `preprocess_input` does. The Keras file is converted with
`resnet-v2 convert`'s function and run by `serve.Model` as model.json says
(Keras's conventions), then again with TF-Slim's.
"""

import argparse
import json
import os
import sys
import tempfile


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--images', required=True)
  parser.add_argument('--out', default='experiments/keras_conventions')
  parser.add_argument('--keras', default='ResNet50V2',
                      choices=('ResNet50V2', 'ResNet101V2', 'ResNet152V2'))
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args(argv)
  # pylint: disable=g-import-not-at-top
  import keras
  import numpy as np
  import tensorflow as tf
  from resnet_v2.serve import convert
  from resnet_v2.serve import model as model_lib
  keras.utils.set_random_seed(args.seed)
  net = getattr(keras.applications, args.keras)(weights=None, classes=1000)
  rng = np.random.default_rng(args.seed)
  for layer in net.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      shape = layer.get_weights()[0].shape
      layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, .2, shape),
                         rng.normal(0, .2, shape), rng.uniform(.5, 2, shape)])
  paths = sorted(os.path.join(args.images, n) for n in os.listdir(args.images)
                 if n.lower().endswith(('.jpg', '.jpeg', '.png')))
  images = np.stack([
      tf.image.resize(tf.io.decode_image(tf.io.read_file(p), 3,
                                         expand_animations=False),
                      [224, 224]).numpy() / 127.5 - 1 for p in paths])
  images = images.astype(np.float32)
  features = keras.Model(net.input, net.get_layer('avg_pool').output)(
      images).numpy()
  kernel, bias = net.get_layer('predictions').get_weights()
  expected = features @ kernel + bias
  with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, 'net.keras')
    net.save(path)
    output = os.path.join(folder, 'converted')
    convert.from_keras(path, output)
    model = model_lib.Model.load(output)
    logits = {
        conventions: model_lib.Model(model.record.replace(
            conventions=conventions)).run(images, ('logits',))['logits']
        for conventions in ('keras', 'tf_slim')}
  scale = float(np.abs(expected).max())
  result = {'keras_application': args.keras, 'images': len(paths),
            'seed': args.seed, 'logit_scale_max_abs': scale}
  for conventions, got in logits.items():
    difference = np.abs(got - expected)
    result[conventions] = {
        'max_abs_difference': float(difference.max()),
        'max_relative_to_scale': float(difference.max() / scale),
        'mean_abs_difference': float(difference.mean()),
        'top1_agreement_with_keras': float(
            (got.argmax(1) == expected.argmax(1)).mean())}
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, 'results.json'), 'w') as handle:
    json.dump(result, handle, indent=1)
  json.dump(result, sys.stdout, indent=1)
  print()


if __name__ == '__main__':
  main()
