"""oneDNN on or off, per kind of work: what `cpu.choose_onednn` is set
from.

  python -m benchmarks.onednn --json out.json

Runs, each in a fresh child process and under each setting, (1) training:
`resnet-v2 train` of cifar_resnet_v1_20 at 28x28, batch 128, on a
generated folder of PNG files, reporting the images/s of its last epoch
(history.json); (2) inference: `python -m benchmarks` forward of --model
at batch 32. Settings: TensorFlow's own default, oneDNN forced on and
forced off, and the AVX2 stand-in (the same CPU with oneDNN's kernels
capped to AVX2 by ONEDNN_MAX_CPU_ISA=AVX2: an AVX2-only CPU such as a Zen
3, where TensorFlow's default is off).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from benchmarks import streaming

SETTINGS = {
    'default': {},
    'on': {'TF_ENABLE_ONEDNN_OPTS': '1'},
    'off': {'TF_ENABLE_ONEDNN_OPTS': '0'},
    'avx2 on': {'TF_ENABLE_ONEDNN_OPTS': '1', 'ONEDNN_MAX_CPU_ISA': 'AVX2'},
    'avx2 off': {'TF_ENABLE_ONEDNN_OPTS': '0', 'ONEDNN_MAX_CPU_ISA': 'AVX2'},
}


def _environment(setting):
  env = {k: v for k, v in os.environ.items()
         if k not in ('TF_ENABLE_ONEDNN_OPTS', 'ONEDNN_MAX_CPU_ISA')}
  env.update(SETTINGS[setting])
  return env


def train_images_per_s(data, setting, args):
  """images/s of the last epoch of `resnet-v2 train`."""
  model_dir = tempfile.mkdtemp(prefix='onednn_train_')
  subprocess.run(
      [sys.executable, '-m', 'resnet_v2.cli', 'train', '--model',
       'cifar_resnet_v1_20', '--data', data, '--image-size', '28',
       '--batch-size', '128', '--epochs', str(args.epochs),
       '--val-data', data, '--model-dir', model_dir],
      check=True, capture_output=True, env=_environment(setting))
  with open(os.path.join(model_dir, 'history.json')) as handle:
    return json.load(handle)['epochs'][-1]['images_per_second']


def forward_seconds(setting, args):
  """Mean seconds per batch of `python -m benchmarks` forward."""
  path = tempfile.mktemp(suffix='.json')
  subprocess.run(
      [sys.executable, '-m', 'benchmarks', '--model', args.model,
       '--batch-size', '32', '--num-batches', str(args.num_batches),
       '--burn-in', '1', '--no-memory', '--json', path],
      check=True, capture_output=True, env=_environment(setting))
  with open(path) as handle:
    return json.load(handle)['mean_s']


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--settings', default=','.join(SETTINGS))
  parser.add_argument('--images', type=int, default=2560)
  parser.add_argument('--epochs', type=int, default=2)
  parser.add_argument('--model', default='resnet_v2_50')
  parser.add_argument('--num-batches', type=int, default=5)
  parser.add_argument('--work-dir', default=os.path.join(
      tempfile.gettempdir(), 'resnet_v2_onednn_benchmark'))
  parser.add_argument('--json')
  args = parser.parse_args(argv)
  data = streaming.write_folder(os.path.join(args.work_dir, 'png28'),
                                args.images, (28, 28), 'png')
  rows = []
  for setting in args.settings.split(','):
    row = {'setting': setting, 'environment': SETTINGS[setting],
           'train_images_per_s': train_images_per_s(data, setting, args),
           'forward_s_per_batch': forward_seconds(setting, args)}
    rows.append(row)
    print('%-9s train %6.1f images/s   %s forward b32 %.3f s/batch' % (
        setting, row['train_images_per_s'], args.model,
        row['forward_s_per_batch']), flush=True)
  if args.json:
    with open(args.json, 'w') as out:
      json.dump({'command': ' '.join(['python -m benchmarks.onednn'] + (
          argv if argv is not None else sys.argv[1:])), 'rows': rows}, out,
                indent=1)


if __name__ == '__main__':
  main()
