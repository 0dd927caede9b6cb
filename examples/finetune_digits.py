"""Fine-tuning from a checkpoint against training from scratch, offline.

scikit-learn's bundled digits at 32x32: a CIFAR ResNet-20 (v1) is
pretrained on the digits 0-4, then trained on a small set of the digits
5-9 (--per-class images each) twice with the same budget: from the
pretrained checkpoint (every layer but the new 5-way head restored, all
trained) and from scratch. Both runs go through `resnet-v2 train`'s
Trainer; the curves are their validation accuracy per epoch. Writes

  OUT/finetune_curves.png   validation accuracy per epoch, both runs
  OUT/results.json          the numbers behind it

  python -m examples.finetune_digits --out experiments/finetune
"""

import argparse
import dataclasses
import os
import sys
import tempfile

import numpy as np

from examples import transfer_digits
from resnet_v2 import files
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2.data import sources as sources_lib
from resnet_v2.train import trainer as training

MODEL = 'cifar_resnet_v1_20'


def sources(per_class, seed=0, image_size=32):
  """(pretrain train, pretrain val, fine-tune train, fine-tune val)."""
  images, labels = transfer_digits.load_digits_images(image_size)
  rng = np.random.default_rng(seed)
  order = rng.permutation(len(labels))
  images, labels = images[order], labels[order]
  first, second = labels < 5, labels >= 5
  pre_images, pre_labels = images[first], labels[first]
  held = len(pre_labels) // 5
  names_a = [str(d) for d in range(5)]
  names_b = [str(d) for d in range(5, 10)]
  tune_images, tune_labels = images[second], labels[second] - 5
  chosen = np.concatenate([np.flatnonzero(tune_labels == c)[:per_class]
                           for c in range(5)])
  rest = np.setdiff1d(np.arange(len(tune_labels)), chosen)
  return (sources_lib.arrays_source(pre_images[held:], pre_labels[held:],
                               names_a, 'digits0-4-train'),
          sources_lib.arrays_source(pre_images[:held], pre_labels[:held],
                               names_a, 'digits0-4-val'),
          sources_lib.arrays_source(tune_images[chosen], tune_labels[chosen],
                               names_b, 'digits5-9-train'),
          sources_lib.arrays_source(tune_images[rest], tune_labels[rest],
                               names_b, 'digits5-9-val'))


def run(per_class=20, pretrain_epochs=10, epochs=15, out=None, log=print):
  """Pretrains, then fine-tunes and trains from scratch; returns results."""
  pre_train, pre_val, tune_train, tune_val = sources(per_class)
  # The three model dirs are scratch (14 MB): removed when done.
  with tempfile.TemporaryDirectory(prefix='finetune_digits_') as work:
    results = _pretrain_then_tune(pre_train, pre_val, tune_train, tune_val,
                                  work, pretrain_epochs, epochs, log)
  results = {'per_class': per_class, **results}
  if out:
    os.makedirs(out, exist_ok=True)
    files.write_json(os.path.join(out, 'results.json'), results, indent=1)
    plot(results, os.path.join(out, 'finetune_curves.png'))
  return results


def _pretrain_then_tune(pre_train, pre_val, tune_train, tune_val, work,
                        pretrain_epochs, epochs, log):
  """Trains in `work`: digits 0-4, then 5-9 from that checkpoint and
  from scratch; returns the results less `per_class`."""
  base = training.TrainConfig(model=MODEL, batch_size=32, augment=False,
                              optimizer='momentum', learning_rate=0.05,
                              schedule='cosine', log_every=5)
  history = training.Trainer(
      pre_train, pre_val, os.path.join(work, 'pretrain'),
      dataclasses.replace(base, epochs=pretrain_epochs)).train(
          progress=False, log=lambda line: log('pretrain ' + line))
  checkpoint = model_dir_lib.best_checkpoint(os.path.join(work, 'pretrain'))
  results = {'pretrain_epochs': pretrain_epochs,
             'epochs': epochs, 'model': MODEL,
             'pretrain_val_accuracy': max(e['val_accuracy']
                                          for e in history['epochs']),
             'runs': {}}
  for name, extra in (('from checkpoint', dict(checkpoint=checkpoint,
                                               exclude=('*/logits/*',))),
                      ('from scratch', {})):
    config = dataclasses.replace(base, epochs=epochs, **extra)
    run_dir = os.path.join(work, name.replace(' ', '_'))
    history = training.Trainer(tune_train, tune_val, run_dir, config).train(
        progress=False, log=lambda line, n=name: log('%s %s' % (n, line)))
    results['runs'][name] = [e['val_accuracy'] for e in history['epochs']]
  return results


def plot(results, path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  figure, axes = pyplot.subplots(figsize=(6.5, 4.2))
  for name, accuracies in results['runs'].items():
    axes.plot(range(1, len(accuracies) + 1), accuracies, marker='o',
              label=name)
  axes.set_xlabel('epoch')
  axes.set_ylabel('validation accuracy (digits 5-9)')
  axes.set_ylim(0, 1)
  axes.set_title('%s, %d training images per class; pretrained on digits '
                 '0-4 (val %.3f)' % (results['model'], results['per_class'],
                                     results['pretrain_val_accuracy']),
                 fontsize=9)
  axes.grid(alpha=0.3)
  axes.legend()
  figure.tight_layout()
  with files.atomic_write(path) as out:
    figure.savefig(out, format='png', dpi=100)
  pyplot.close(figure)


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m examples.finetune_digits',
                                   description=__doc__,
                                   formatter_class=argparse.
                                   RawDescriptionHelpFormatter)
  parser.add_argument('--out', default='experiments/finetune')
  parser.add_argument('--per-class', type=int, default=20)
  parser.add_argument('--pretrain-epochs', type=int, default=10)
  parser.add_argument('--epochs', type=int, default=15)
  args = parser.parse_args(argv)
  results = run(args.per_class, args.pretrain_epochs, args.epochs, args.out)
  for name, accuracies in results['runs'].items():
    print('%s: validation accuracy %s' % (
        name, ' '.join('%.3f' % a for a in accuracies)))
  return 0


if __name__ == '__main__':
  sys.exit(main())
