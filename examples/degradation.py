"""The degradation experiment: plain versus residual nets at two depths.

He et al. (2016a), Fig. 1 and 6: a deeper plain net ends with a *higher*
training error than a shallower one, while with shortcuts depth helps. Four
CIFAR-style v1 nets (plain and residual, depths 20 and 56 by default) are
trained with the same budget, on scikit-learn's bundled digits upsampled to
32x32 (no download), or on CIFAR-10 with --cifar10 DIR. Writes

  OUT/training_error.png   training error against iterations, four nets
  OUT/gradient_norms.png   |dL/dW| per conv layer at initialization and at
                           the end, plain versus residual, deepest pair
  OUT/results.json         the numbers behind both, and the table

  python -m examples.degradation --out experiments/degradation
"""

import argparse
import os
import sys
import time

import numpy as np

from examples import transfer_digits
from resnet_v2 import files
from resnet_v2.data import cifar10
from resnet_v2.data import sources
from resnet_v2.train import trainer as training


def digits_dataset(image_size=32, test_fraction=0.2, seed=0):
  """The digits of `transfer_digits.load_digits_images`, as (train, test)
  sources of the input pipeline."""
  images, labels = transfer_digits.load_digits_images(image_size)
  order = np.random.default_rng(seed).permutation(len(labels))
  test = int(len(labels) * test_fraction)
  names = [str(d) for d in range(10)]
  return (sources.arrays_source(images[order[test:]], labels[order[test:]],
                               names, 'digits-train'),
          sources.arrays_source(images[order[:test]], labels[order[:test]],
                               names, 'digits-test'))


def layer_order(name):
  """Sort key of conv weights from input to output ('net/conv1', blocks...)."""
  parts = name.split('/')
  block = next((int(p[5:]) for p in parts if p.startswith('block')), 0)
  unit = next((int(p[5:]) for p in parts if p.startswith('unit_')), 0)
  conv = next((p for p in parts if p.startswith(('conv', 'shortcut',
                                                 'logits'))), '')
  return (0 if 'logits' not in name else 1, block, unit, conv)


def run(data, depths=(20, 56), epochs=12, batch_size=64, out=None,
        log=print):
  """Trains the four nets on data = (train source, test source); returns
  the results dict (and writes plots)."""
  train_source, test_source = data
  results = {'depths': list(depths), 'epochs': epochs,
             'batch_size': batch_size, 'nets': {}}
  started = time.time()
  for depth in depths:
    for plain in (True, False):
      name = '%s-%d' % ('plain' if plain else 'resnet', depth)
      config = training.TrainConfig(
          model='cifar_resnet_v1_%d' % depth, plain=plain, epochs=epochs,
          batch_size=batch_size, augment=False, log_every=1,
          image_size=train_source.items.shape[1])
      model_dir = os.path.join(out, 'runs', name) if out else None
      trainer = training.Trainer(train_source, test_source,
                                 model_dir or _temp_dir(), config)
      initial = trainer.layer_gradient_norms()
      history = trainer.train(progress=sys.stderr.isatty(),
                              log=lambda line, n=name: log('%s %s' % (n,
                                                                      line)))
      final = trainer.layer_gradient_norms()
      order = sorted(initial, key=layer_order)
      results['nets'][name] = {
          'steps': history['steps'], 'epochs': history['epochs'],
          'train_error': history['epochs'][-1]['train_error'],
          'full_train_error': 1 - trainer.evaluate(train_source)['top1'],
          'test_error': 1 - history['epochs'][-1]['val_accuracy'],
          'gradient_norms_initial': [float(initial[k]) for k in order],
          'gradient_norms_final': [float(final[k]) for k in order],
          'layers': order}
  results['seconds'] = time.time() - started
  if out:
    os.makedirs(out, exist_ok=True)
    files.write_json(os.path.join(out, 'results.json'), results)
    plot(results, out)
  return results


def _temp_dir():
  import tempfile  # pylint: disable=g-import-not-at-top
  return tempfile.mkdtemp(prefix='degradation_')


def table(results):
  lines = ['| net | final training error (last epoch, running) | training '
           'error (whole set, eval mode) | test error |', '|---|---|---|---|']
  for name, net in results['nets'].items():
    lines.append('| %s | %.2f%% | %.2f%% | %.2f%% |' % (
        name, 100 * net['train_error'], 100 * net['full_train_error'],
        100 * net['test_error']))
  return '\n'.join(lines)


def plot(results, out):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  figure, axes = pyplot.subplots(figsize=(7, 4.5))
  for name, net in results['nets'].items():
    steps = np.array(net['steps'])
    window = min(10, len(steps))  # short runs have fewer steps
    smooth = np.convolve(steps[:, 2], np.ones(window) / window, 'valid')
    axes.plot(steps[window - 1:, 0], 100 * smooth,
              linestyle='--' if name.startswith('plain') else '-', label=name)
  axes.set_xlabel('iterations')
  axes.set_ylabel('training error (%%, running mean of %d batches)' % window)
  axes.set_title('plain vs residual (digits 32x32, same budget)')
  axes.legend()
  figure.tight_layout()
  figure.savefig(os.path.join(out, 'training_error.png'), dpi=100)
  pyplot.close(figure)

  deepest = max(results['depths'])
  figure, axes = pyplot.subplots(figsize=(7, 4.5))
  for kind, style in (('plain', '--'), ('resnet', '-')):
    net = results['nets']['%s-%d' % (kind, deepest)]
    for when, marker in (('initial', 'o'), ('final', 'x')):
      norms = net['gradient_norms_' + when]
      axes.semilogy(range(1, len(norms) + 1), norms, linestyle=style,
                    marker=marker, markersize=3,
                    label='%s-%d, %s' % (kind, deepest, when))
  axes.set_xlabel('conv layer (input to output)')
  axes.set_ylabel('|dL/dW|')
  axes.set_title('per-layer gradient norms, depth %d' % deepest)
  axes.legend()
  figure.tight_layout()
  figure.savefig(os.path.join(out, 'gradient_norms.png'), dpi=100)
  pyplot.close(figure)


def main(argv=None):
  parser = argparse.ArgumentParser(
      prog='python -m examples.degradation', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--out', default='experiments/degradation')
  parser.add_argument('--depths', type=int, nargs=2, default=[20, 56])
  parser.add_argument('--epochs', type=int, default=12)
  parser.add_argument('--batch-size', type=int, default=64)
  parser.add_argument('--cifar10', metavar='DIR',
                      help='use CIFAR-10 from this folder instead of digits')
  args = parser.parse_args(argv)
  data = ((cifar10.cifar10_source(args.cifar10, 'train'),
           cifar10.cifar10_source(args.cifar10, 'test')) if args.cifar10
          else digits_dataset())
  results = run(data, args.depths, args.epochs, args.batch_size, args.out)
  print(table(results))
  print('%.0f s in all; wrote %s' % (results['seconds'], args.out))
  return 0


if __name__ == '__main__':
  sys.exit(main())
