"""Fashion-MNIST from scratch: time to accuracy of a CIFAR ResNet of the
registry trained on the train split only and tested once on the 10,000
test images, beside Keras `fit` of the same net on the same batches.

  apt-get install dataset-fashion-mnist
  python -m experiments.fashion_mnist --model-dir /tmp/fashion_r20 \
      --out experiments/fashion_mnist

Runs, each as the command a user would type (printed first):
  1. `resnet-v2 train` on the IDX folder with the fast recipe (--recipe,
     docs/training.md "A fast recipe for small images"; 5% of the train
     split held out for validation; t10k is never seen in training),
     unless the model dir already holds the finished run (then it is
     reused; an unfinished one is resumed);
  2. `resnet-v2 eval` on the t10k split, once (with the recipe's --tta);
     the wall time from 1's start to 2's end is the time to accuracy;
  3. side by side, --compare-epochs epochs each (cosine over those
     epochs, fp32, no recipe: what Keras has too), one after the other so
     that neither slows the other: `resnet-v2 train` again, and Keras
     `fit` of the same net written in Keras (`benchmarks.twins`: same
     layers, initializers, weight decay, batch-norm momentum and epsilon,
     SGD with momentum, schedule) on the very batches our pipeline makes
     (same held-out split, augmentation, order and pixel mean);
and writes results.json (every run's epochs: images/s by the steps and by
the wall clock, training loss, validation accuracy; the test metrics with
per-class accuracy; the time to accuracy) and curves.png to --out.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

from benchmarks import twins

DATA = '/usr/share/datasets/fashion-mnist'
# Zalando's names of the labels 0..9 (the IDX files hold numbers only).
CLASS_NAMES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
# The table in Fashion-MNIST's README (test accuracy; the rows this run
# is held against).
PUBLISHED = (('ResNet18 (normalization, flips, translation, rotation)',
              0.949),
             ('MobileNet', 0.950),
             ('DenseNet-BC 768K params', 0.954),
             ('WRN-40-4 8.9M params', 0.967))


# docs/training.md, "A fast recipe for small images".
FAST_RECIPE = ('--precision bf16 --schedule onecycle --nesterov '
               '--label-smoothing 0.1 --random-erasing 0.5 --ema 0.999 '
               '--tta flip')


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--data', default=DATA)
  parser.add_argument('--model-dir', required=True)
  parser.add_argument('--out', default='experiments/fashion_mnist')
  parser.add_argument('--model', default='cifar_resnet_v1_20')
  parser.add_argument('--epochs', type=int, default=54)
  parser.add_argument('--batch-size', type=int, default=128)
  parser.add_argument('--learning-rate', type=float, default=0.2)
  parser.add_argument('--weight-decay', type=float, default=1e-4)
  parser.add_argument('--recipe', default=FAST_RECIPE,
                      help='more `resnet-v2 train` flags (default: '
                      '%(default)s)')
  parser.add_argument('--val-fraction', type=float, default=0.05)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--compare-epochs', type=int, default=2,
                      help='epochs of the side-by-side runs (0: none)')
  return parser.parse_args(argv)


def train_command(args, epochs=None, model_dir=None, recipe=True):
  """The `resnet-v2 train` command: with the recipe, or (the side-by-side
  runs) plain cosine SGD in fp32, as the Keras twin trains."""
  return ['resnet-v2', 'train', '--data', args.data, '--model', args.model,
          '--image-size', '28', '--epochs', str(epochs or args.epochs),
          '--batch-size', str(args.batch_size),
          '--learning-rate', str(args.learning_rate),
          '--weight-decay', str(args.weight_decay),
          '--val-fraction', str(args.val_fraction), '--seed', str(args.seed),
          '--model-dir', model_dir or args.model_dir] + (
              shlex.split(args.recipe) if recipe else ['--schedule',
                                                        'cosine'])


def _run(command):
  print('$ ' + ' '.join(command), flush=True)
  executable = os.path.join(os.path.dirname(sys.executable), command[0])
  subprocess.run([executable] + command[1:], check=True)


def _history(model_dir):
  path = os.path.join(model_dir, 'history.json')
  if not os.path.exists(path):
    return None
  with open(path) as handle:
    return json.load(handle)


def train_ours(args, epochs=None, model_dir=None, recipe=True):
  """Trains (or resumes, or reuses) a run; returns its history."""
  model_dir = model_dir or args.model_dir
  history = _history(model_dir)
  if history and len(history['epochs']) >= (epochs or args.epochs):
    print('%s holds the finished run; reusing it' % model_dir)
  else:
    _run(train_command(args, epochs, model_dir, recipe) + (
        ['--resume'] if history else []))
  return _history(model_dir)


def test_ours(args):
  """`resnet-v2 eval` on the t10k split; returns its metrics.json."""
  output = os.path.join(args.model_dir, 'eval')
  tta = ['--tta', 'flip'] if '--tta flip' in args.recipe else []
  _run(['resnet-v2', 'eval', '--model-dir', args.model_dir, '--data',
        args.data, '--overwrite'] + tta)
  with open(os.path.join(output, 'metrics.json')) as handle:
    return json.load(handle)


def train_keras(args, pixel_mean):
  """Keras `fit` on our pipeline's batches; returns its epochs."""
  # pylint: disable=g-import-not-at-top
  import keras
  from resnet_v2.data import inputs
  from resnet_v2.data import sources
  source = inputs.open_source(args.data)
  train, val = sources.split_source(source, args.val_fraction, args.seed)
  keras.utils.set_random_seed(args.seed)
  model = twins.keras_cifar_resnet_v1(int(args.model.rsplit('_', 1)[1]), 10,
                                       args.weight_decay)
  steps = len(train.items) // args.batch_size
  schedule = keras.optimizers.schedules.CosineDecay(
      args.learning_rate, steps * args.compare_epochs)
  model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True), metrics=['accuracy'])

  def batches(part, training, epoch):
    return inputs.make_dataset(part, 'cifar', 28, args.batch_size,
                               training=training, seed=args.seed,
                               epoch=epoch, pixel_mean=pixel_mean).map(
                                   lambda images, labels, names: (images,
                                                                  labels))
  epochs = []
  for epoch in range(args.compare_epochs):
    start = time.perf_counter()
    fit = model.fit(batches(train, True, epoch), epochs=epoch + 1,
                    initial_epoch=epoch, steps_per_epoch=steps, verbose=2)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(batches(val, False, 0), verbose=0)
    epochs.append({'epoch': epoch + 1, 'seconds': seconds,
                   'images_per_second': steps * args.batch_size / seconds,
                   'loss': float(fit.history['loss'][-1]),
                   'val_accuracy': float(accuracy)})
    print('keras epoch %d: %.1f images/s, val accuracy %.4f' % (
        epoch + 1, epochs[-1]['images_per_second'], accuracy), flush=True)
  return epochs


def plot(path, ours, short, keras_epochs, test_top1):
  """curves.png: the run's loss and accuracy; the side-by-side runs."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  figure, (left, middle, right) = pyplot.subplots(1, 3, figsize=(15, 4))
  epochs = [e['epoch'] for e in ours]
  left.plot(epochs, [e['loss'] for e in ours], 'o-')
  left.set(xlabel='epoch', ylabel='training cross-entropy',
           title='the run: loss')
  if all('val_accuracy' in e for e in ours):
    middle.plot(epochs, [e['val_accuracy'] for e in ours], 'o-',
                label='validation (held out of train)')
  else:   # --val-fraction 0: nothing validates.
    middle.plot(epochs, [1 - e['train_error'] for e in ours], 'o-',
                label='training (augmented batches; no validation)')
  middle.axhline(test_top1, color='k', ls='--',
                 label='test, once (%.4f)' % test_top1)
  for _, value in PUBLISHED[:2]:
    middle.axhline(value, color='gray', ls=':', lw=1)
  middle.annotate(' / '.join('%s %.3f' % (name.split(' (')[0], value)
                             for name, value in PUBLISHED[:2]),
                  (epochs[0], PUBLISHED[1][1]), fontsize=7, color='gray',
                  va='bottom')
  middle.set(xlabel='epoch', ylabel='accuracy', ylim=(0.85, 0.97),
             title='the run: accuracy')
  for runs, marker, name in ((short, 'o-', 'resnet-v2 train'),
                             (keras_epochs, 's-', 'Keras fit')):
    if runs:
      right.plot([e['epoch'] for e in runs],
                 [e['val_accuracy'] for e in runs], marker,
                 label='%s (%s images/s)' % (name, ', '.join(
                     '%.0f' % e['images_per_second'] for e in runs)))
  right.set(xlabel='epoch', ylabel='validation accuracy',
            title='side by side, %d epochs' % len(short or keras_epochs or
                                                   [0]))
  for axes in (left, middle, right):
    axes.grid(alpha=0.3)
  middle.legend(fontsize=8)
  if short or keras_epochs:
    right.legend(fontsize=8)
  figure.suptitle('Fashion-MNIST, %d epochs' % len(ours))
  figure.tight_layout()
  figure.savefig(path, dpi=100)


def _loss_of(epoch):
  return epoch.get('loss', epoch.get('train_loss'))


def averaging_and_flips(args):
  """Validation top-1 of the finished run's last checkpoint: the weight
  average (--ema) against the weights trained, each without and with flip
  test-time augmentation (--tta): what those two bought, on the held-out
  split (the test set is not read); None where nothing is held out
  (--val-fraction 0)."""
  # pylint: disable=g-import-not-at-top
  import dataclasses
  from resnet_v2.data import splits
  from resnet_v2.train import trainer as training
  config = training.TrainConfig(**_history(args.model_dir)['config'])
  train, val, _ = splits.training_sources(args.data, None, args.val_fraction,
                                          args.seed)
  if val is None:
    return None
  scores = {}
  for tta in ('none', 'flip'):
    trainer = training.Trainer(train, val, args.model_dir,
                               dataclasses.replace(config, tta=tta))
    trainer._start(resume=True, log=lambda line: None)  # pylint: disable=protected-access
    scores['trained weights, tta %s' % tta] = trainer._evaluate()['top1']  # pylint: disable=protected-access
    if trainer.average is not None:
      scores['average, tta %s' % tta] = trainer.evaluate()['top1']
  return scores


def main(argv=None):
  args = parse_args(argv)
  from resnet_v2 import record as record_lib  # pylint: disable=g-import-not-at-top
  started = time.time()
  finished = _history(args.model_dir)
  reused = bool(finished and len(finished['epochs']) >= args.epochs)
  history = train_ours(args)
  metrics = test_ours(args)
  # Only a run trained by this command has a time to accuracy here.
  time_to_accuracy = None if reused else time.time() - started
  ablation = averaging_and_flips(args)
  ours = [dict(e, loss=_loss_of(e)) for e in history['epochs']]
  short, keras_epochs = [], []
  if args.compare_epochs:
    compare_dir = args.model_dir.rstrip('/') + '_compare'
    short = [dict(e, loss=_loss_of(e)) for e in train_ours(
        args, args.compare_epochs, compare_dir, recipe=False)['epochs']]
    keras_epochs = train_keras(
        args, record_lib.Record.read(compare_dir).pixel_mean)
  os.makedirs(args.out, exist_ok=True)
  results = {
      'command': 'python -m experiments.fashion_mnist ' + ' '.join(
          argv if argv is not None else sys.argv[1:]),
      'train_command': ' '.join(train_command(args)),
      'onednn': os.environ.get('TF_ENABLE_ONEDNN_OPTS'),
      'test': {'top1': metrics['top1'], 'top5': metrics['top5'],
               'count': metrics['count'], 'per_class': [
                   dict(c, name=CLASS_NAMES[int(c['name'])])
                   for c in metrics['per_class']]},
      'ours': ours, 'compare': {'epochs': args.compare_epochs,
                                'ours': short, 'keras': keras_epochs},
      'published': [{'net': n, 'test_accuracy': v} for n, v in PUBLISHED],
      'time_to_accuracy_seconds': time_to_accuracy,
      'validation_top1_by_weights_and_flips': ablation,
      'wall_seconds_this_command': time.time() - started}
  with open(os.path.join(args.out, 'results.json'), 'w') as handle:
    json.dump(results, handle, indent=1)
  plot(os.path.join(args.out, 'curves.png'), ours, short, keras_epochs,
       metrics['top1'])
  print('test top-1 %.4f (%d images); wrote %s' % (
      metrics['top1'], metrics['count'], args.out))


if __name__ == '__main__':
  main()
