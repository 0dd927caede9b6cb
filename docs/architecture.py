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
     'import resnet_v2 (TF-Slim face, compat/)', 0.5, 10.5, 11, 0.9,
     '#e8e8e8'),
    ('service/', "app.py: clip-retrieval back's HTTP API\n(FastAPI on "
     'uvicorn)  collection  batcher\nmetrics', 0.5, 8.55, 5.0, 1.3,
     '#d0e0e3'),
    ('search/', 'index (FAISS, under a budget)  nearest\ndedup  page  '
     'probe  vectors', 6.5, 8.55, 5.0, 1.3, '#d9d2e9'),
    ('serve/', 'model.py: Model(Record, engine, precision)\n'
     '-> run / iterate (the one door)\nevaluate  features  export  '
     'quantize  openvino\nconvert  weights  shards  worker', 0.5, 6.3,
     5.3, 1.8, '#cfe2f3'),
    ('train/', 'trainer.py: a run on tf.distribute\nloop.py: epochs, '
     'validation, best/\nconfig  steps  checkpointing  distribute  '
     'finetune',
     6.2, 6.3, 5.3, 1.8,
     '#d9ead3'),
    ('data/', 'inputs.py: one pipeline -> tf.data\nsources (KINDS: '
     'traits)  readers (one per kind)\npreprocessing  splits  in_memory\n'
     '(reads net facts as plain values)', 0.5, 4.0, 5.3, 1.8, '#fff2cc'),
    ('nets/', 'registry.py: THE table of net facts (no TF)\n'
     'factory  resnet (the one builder)  blocks  units\nlayers  normalize  '
     'arg_scope  cifar  module  platform', 6.2, 4.0, 5.3, 1.8, '#f4cccc'),
    ('ground floor', 'record (Record, model.json)  model_dir  '
     'checkpoint_files  checkpoints  metrics\nfiles (atomic writes)  lock  '
     'errors  runtime  cpu', 0.5, 2.4, 11, 1.0, '#ead1dc'),
]
# (from, to, label, label position): how data and nets move.
FLOWS = [
    ((3.1, 10.5), (3.1, 9.9), 'serve', (3.25, 10.1)),
    ((8.8, 10.5), (8.8, 9.9), 'index, search, dedup, probe', (8.95, 10.1)),
    ((5.85, 10.5), (5.6, 8.15), 'eval, predict, features,\nexport, quantize',
     (4.0, 10.05)),
    ((6.15, 10.5), (6.4, 8.15), 'train', (6.25, 10.15)),
    ((5.5, 9.2), (6.5, 9.2), '', (0, 0)),
    ((7.2, 8.55), (5.3, 8.1), 'nets, folders', (7.3, 8.25)),
    ((1.2, 5.8), (1.2, 6.3), 'batches', (1.35, 6.0)),
    ((5.0, 5.8), (6.7, 6.3), 'batches', (4.3, 5.88)),
    ((10.8, 5.8), (10.8, 6.3), 'nets', (10.95, 6.0)),
    ((6.7, 5.8), (5.0, 6.3), 'nets', (6.8, 5.88)),
]


def draw(path):
  figure, axes = pyplot.subplots(figsize=(11, 9.8))
  axes.set_xlim(0, 12)
  axes.set_ylim(0.6, 11.6)
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
            'files, tars) -> data/ -> train/ -> model dir (TF-Slim names, '
            'model.json, best/)', fontsize=9)
  axes.text(0.5, 1.45, 'model dir or published weights -> serve.Model -> '
            'metrics, features folders, predictions, exports, int8 -> '
            'search/ index -> service/', fontsize=9)
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
