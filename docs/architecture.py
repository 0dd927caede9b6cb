"""Draws docs/architecture.png: the packages of resnet_v2, the floors they
import from, and the way data flows through them.

  python docs/architecture.py     (needs matplotlib)
"""

import os
import sys

import matplotlib

matplotlib.use('Agg')
from matplotlib import patches  # pylint: disable=g-import-not-at-top,wrong-import-position
from matplotlib import pyplot  # pylint: disable=g-import-not-at-top,wrong-import-position

# (label, modules, x, y, width, height, colour), floors top to bottom.
BOXES = [
    ('entry points', 'resnet-v2 (cli/)  |  python -m benchmarks  |  '
     'import resnet_v2 (TF-Slim face, compat/)', 0.5, 8.6, 11, 0.9,
     '#e8e8e8'),
    ('serve/', 'model.py: Model(Record, engine, precision)\n'
     '-> run / iterate (the one door)\nevaluate  features  export  '
     'quantize  openvino\nconvert (to and from Keras)', 0.5, 6.3, 5.3, 1.8,
     '#cfe2f3'),
    ('train/', 'trainer.py: a run on tf.distribute\nloop.py: epochs, '
     'validation, best/\nconfig  steps  checkpointing  distribute  '
     'finetune',
     6.2, 6.3, 5.3, 1.8,
     '#d9ead3'),
    ('data/', 'inputs.py: folders, TFRecords, CIFAR, IDX,\nfiles -> '
     'tf.data\n'
     'preprocessing  labels  splits\n(reads net facts as plain values)', 0.5, 4.0,
     5.3, 1.8, '#fff2cc'),
    ('nets/', 'registry.py: THE table of net facts (no TF)\n'
     'factory  resnet (the one builder)  blocks  units\nlayers  normalize  '
     'arg_scope  cifar  module  platform', 6.2, 4.0, 5.3, 1.8, '#f4cccc'),
    ('ground floor', 'record (Record, model.json)  model_dir  '
     'checkpoint_files  checkpoints  metrics\nfiles (atomic writes)  lock  '
     'runtime  cpu', 0.5, 2.4, 11, 1.0, '#ead1dc'),
]
# (from, to, label, label position): how data and nets move.
FLOWS = [
    ((3.1, 8.6), (3.1, 8.1), 'eval, predict, features, export, quantize',
     (3.25, 8.3)),
    ((8.8, 8.6), (8.8, 8.1), 'train', (8.95, 8.3)),
    ((1.2, 5.8), (1.2, 6.3), 'batches', (1.35, 6.0)),
    ((5.0, 5.8), (6.7, 6.3), 'batches', (4.3, 5.88)),
    ((10.8, 5.8), (10.8, 6.3), 'nets', (10.95, 6.0)),
    ((6.7, 5.8), (5.0, 6.3), 'nets', (6.8, 5.88)),
]


def draw(path):
  figure, axes = pyplot.subplots(figsize=(11, 8.2))
  axes.set_xlim(0, 12)
  axes.set_ylim(0.6, 9.7)
  axes.axis('off')
  for label, modules, x, y, width, height, colour in BOXES:
    axes.add_patch(patches.FancyBboxPatch(
        (x, y), width, height, boxstyle='round,pad=0.05', facecolor=colour,
        edgecolor='#555555'))
    axes.text(x + 0.15, y + height - 0.12, label, fontsize=12,
              fontweight='bold', va='top')
    axes.text(x + 0.15, y + height - 0.5, modules, fontsize=9, va='top',
              family='monospace')
  for start, end, label, where in FLOWS:
    axes.annotate('', xy=end, xytext=start, arrowprops=dict(
        arrowstyle='->', color='#333333', lw=1.5))
    axes.text(where[0], where[1], label, fontsize=8, style='italic')
  axes.text(0.5, 1.9, 'images (class folders, TFRecords, CIFAR, IDX, '
            'files) -> data/ -> train/ -> model dir (checkpoints with TF-Slim '
            'names, model.json, best/)', fontsize=9)
  axes.text(0.5, 1.45, 'model dir or published checkpoint -> serve.Model '
            '-> metrics.json, features .npz, predictions, SavedModel / '
            'OpenVINO / ONNX, int8 model dir', fontsize=9)
  axes.text(0.5, 1.0, 'Each floor imports only the floors below it '
            '(tests/test_layout.py); cli and benchmarks import TensorFlow '
            'only when a command runs.', fontsize=9, style='italic')
  figure.tight_layout()
  figure.savefig(path, dpi=90)
  pyplot.close(figure)


if __name__ == '__main__':
  out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
      os.path.dirname(os.path.abspath(__file__)), 'architecture.png')
  draw(out)
  print('wrote %s' % out)
