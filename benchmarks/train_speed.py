"""Training speed with the input pipeline included: `resnet-v2 train`'s
Trainer against Keras `fit` on the same image folder.

  python -m benchmarks.train_speed --json out.json [--precision bf16]

Writes (once, cached under --work-dir) 320 JPEG files of 256x320 in 10
class folders, then runs, each in a fresh child process, resnet_v2_50 with
our Trainer (Inception training preprocessing: distorted crop, flip) and
Keras ResNet50V2 `fit` on `keras.utils.image_dataset_from_directory` (its
own resize, scaled to [-1, 1]), both momentum SGD, batch 32, 224x224, and
reports the images/s of the steps after the first two.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks import streaming

IMAGES, FILE_SIZE, BATCH, WARMUP = 320, (256, 320), 32, 2


def ours(args):
  # pylint: disable=g-import-not-at-top
  from resnet_v2.data import inputs
  from resnet_v2.train import trainer as training
  source = inputs.open_source(args.data)
  config = training.TrainConfig(
      model=args.model, image_size=224, batch_size=BATCH,
      max_steps=WARMUP + args.steps, epochs=100, learning_rate=0.01,
      precision=args.precision)
  trainer = training.Trainer(source, None, tempfile.mkdtemp(), config)
  times = []
  trainer.train(progress=False, log=lambda line: None,
                on_step=lambda step: times.append(time.perf_counter()))
  return times


def keras_fit(args):
  # pylint: disable=g-import-not-at-top
  import keras
  import tensorflow as tf
  if args.precision == 'bf16':
    keras.mixed_precision.set_global_policy('mixed_bfloat16')
  data = keras.utils.image_dataset_from_directory(
      args.data, image_size=(224, 224), batch_size=BATCH, shuffle=True,
      seed=0).map(lambda x, y: (x / 127.5 - 1.0, y)).repeat().prefetch(
          tf.data.AUTOTUNE)
  name = {'resnet_v2_50': 'ResNet50V2'}[args.model]
  model = getattr(keras.applications, name)(
      weights=None, classes=10, input_shape=(224, 224, 3))
  model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                loss='sparse_categorical_crossentropy')
  times = []

  class Clock(keras.callbacks.Callback):

    def on_train_batch_end(self, batch, logs=None):
      times.append(time.perf_counter())
  model.fit(data, steps_per_epoch=WARMUP + args.steps, epochs=1, verbose=0,
            callbacks=[Clock()])
  return times


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m benchmarks.train_speed',
                                   description=__doc__)
  parser.add_argument('--model', default='resnet_v2_50',
                      choices=['resnet_v2_50'])
  parser.add_argument('--precision', choices=['fp32', 'bf16'],
                      default='fp32')
  parser.add_argument('--steps', type=int, default=10)
  parser.add_argument('--work-dir', default=os.path.join(
      tempfile.gettempdir(), 'resnet_v2_streaming'))
  parser.add_argument('--json')
  parser.add_argument('--child', choices=['ours', 'keras'],
                      help=argparse.SUPPRESS)
  parser.add_argument('--data', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    times = (ours if args.child == 'ours' else keras_fit)(args)
    timed = times[WARMUP:]
    print(json.dumps({'images_per_s': BATCH * (len(timed) - 1) / (
        timed[-1] - timed[0]), 'steps': len(times)}))
    return 0
  folder = streaming.write_folder(os.path.join(
      args.work_dir, 'jpg_256x320_%d' % IMAGES), IMAGES, FILE_SIZE, 'jpg')
  result = {'command': ' '.join(['python -m benchmarks.train_speed'] + (
      argv if argv is not None else sys.argv[1:])), 'model': args.model,
            'precision': args.precision, 'batch_size': BATCH}
  for which in ('ours', 'keras'):
    done = subprocess.run(
        [sys.executable, '-m', 'benchmarks.train_speed', '--child', which,
         '--data', folder, '--model', args.model, '--precision',
         args.precision, '--steps', str(args.steps)],
        capture_output=True, text=True, check=False)
    if done.returncode:
      raise RuntimeError('%s failed:\n%s' % (which, done.stderr[-3000:]))
    result[which] = json.loads(done.stdout.strip().splitlines()[-1])
    print('%s: %.2f images/s' % (which, result[which]['images_per_s']),
          flush=True)
  result['ratio'] = (result['ours']['images_per_s'] /
                     result['keras']['images_per_s'])
  print('resnet_v2 / keras images/s = %.3f' % result['ratio'])
  if args.json:
    from resnet_v2 import files  # pylint: disable=g-import-not-at-top
    files.write_json(args.json, result, indent=1)
  return 0


if __name__ == '__main__':
  sys.exit(main())
