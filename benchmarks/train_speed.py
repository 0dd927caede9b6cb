"""Training speed side by side: `resnet-v2 train`'s Trainer, Keras `fit` and
PyTorch, each in fp32 and in bf16, on the same net and the same batches.

  python -m benchmarks.train_speed --json out.json [--workload small]

Two workloads:
  small: cifar_resnet_v1_20 (ResNet-20) at 28x28 on Fashion-MNIST's IDX
    files (--data; generated ones where it is missing), batch 128, SGD
    with momentum 0.1, pad-4 crop and flip;
  finetune: resnet_v2_50 at 224x224, batch 32, SGD 0.01, on 320 JPEG
    files of 256x320 in 10 class folders (written once under --work-dir),
    Inception's distorted crop and flip.
Each (framework, precision) runs in a fresh child process, one after the
other. Ours is the Trainer, its input pipeline included. Keras's and
PyTorch's nets are ours written in their layers (`benchmarks.twins`;
Keras's own ResNet50V2 for finetune), fed the batches our pipeline made,
held in memory, so their figures carry no input work at all. bf16 is
oneDNN's automatic mixed precision for ours, Keras's 'mixed_bfloat16'
policy, and `torch.autocast('cpu', torch.bfloat16)` with channels_last
for PyTorch (its fastest layout on CPUs); variables stay float32
everywhere. Each reports images/s over the steps after --warmup. PyTorch
is optional: without it its rows are skipped, saying so. bf16 rows are
skipped where the CPU has no bf16 instructions.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import streaming

WORKLOADS = {
    # name: (net, image size, batch, learning rate, default steps, warmup)
    'small': ('cifar_resnet_v1_20', 28, 128, 0.1, 40, 10),
    'finetune': ('resnet_v2_50', 224, 32, 0.01, 5, 2),
}
FASHION_MNIST = '/usr/share/datasets/fashion-mnist'
JPEGS, JPEG_SIZE = 320, (256, 320)
DISTINCT_BATCHES = 8


def _source(args):
  from resnet_v2.data import inputs  # pylint: disable=g-import-not-at-top
  return inputs.open_source(args.data)


def ours(args):
  """The Trainer's step times (its pipeline included)."""
  # pylint: disable=g-import-not-at-top
  from resnet_v2.train import trainer as training
  net, size, batch, rate, _, _ = WORKLOADS[args.workload]
  warmup = _warmup(args)
  config = training.TrainConfig(
      model=net, image_size=size, batch_size=batch, learning_rate=rate,
      max_steps=warmup + args.steps, epochs=100, precision=args.precision)
  trainer = training.Trainer(_source(args), None, tempfile.mkdtemp(), config)
  times = []
  trainer.train(progress=False, log=lambda line: None,
                on_step=lambda step: times.append(time.perf_counter()))
  return times


def _batches(args):
  """DISTINCT_BATCHES training batches of our pipeline, in memory:
  (float32 NHWC images, int64 labels) pairs."""
  # pylint: disable=g-import-not-at-top
  from resnet_v2.data import inputs
  from resnet_v2.nets import registry
  net, size, batch, _, _, _ = WORKLOADS[args.workload]
  spec = registry.get_spec(net)
  source = _source(args)
  mean = (inputs.pixel_mean(source, 'cifar', size)
          if spec.preprocessing == 'cifar' else None)
  data = inputs.make_dataset(source, spec.preprocessing, size, batch,
                             training=True, pixel_mean=mean)
  return [(images.numpy(), labels.numpy())
          for images, labels, _ in data.take(DISTINCT_BATCHES)]


def keras_fit(args):
  """Keras `fit` on our batches, cycled."""
  # pylint: disable=g-import-not-at-top
  import keras
  import tensorflow as tf
  from benchmarks import twins
  batches = _batches(args)
  if args.precision == 'bf16':
    keras.mixed_precision.set_global_policy('mixed_bfloat16')
  _, size, _, rate, _, _ = WORKLOADS[args.workload]
  warmup = _warmup(args)
  if args.workload == 'small':
    model = twins.keras_cifar_resnet_v1(20, 10, 1e-4)
  else:
    model = keras.applications.ResNet50V2(weights=None, classes=10,
                                          input_shape=(size, size, 3),
                                          classifier_activation=None)
  model.compile(optimizer=keras.optimizers.SGD(rate, momentum=0.9),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  data = tf.data.Dataset.from_tensor_slices((
      np.stack([b[0] for b in batches]), np.stack([b[1] for b in batches])
  )).repeat().prefetch(tf.data.AUTOTUNE)
  times = []

  class Clock(keras.callbacks.Callback):

    def on_train_batch_end(self, batch, logs=None):
      times.append(time.perf_counter())
  model.fit(data, steps_per_epoch=warmup + args.steps, epochs=1, verbose=0,
            callbacks=[Clock()])
  return times


def torch_train(args):
  """PyTorch on our batches, cycled: channels_last, SGD with momentum and
  weight decay, bf16 by autocast."""
  # pylint: disable=g-import-not-at-top
  import torch
  from benchmarks import twins
  batches = _batches(args)
  torch.manual_seed(0)
  torch.set_num_threads(os.cpu_count() or 1)
  model = (twins.torch_cifar_resnet_v1(20, 10) if args.workload == 'small'
           else twins.torch_resnet_v2_50(10))
  model = model.to(memory_format=torch.channels_last).train()
  rate, warmup = WORKLOADS[args.workload][3], _warmup(args)
  optimizer = torch.optim.SGD(model.parameters(), rate, momentum=0.9,
                              weight_decay=1e-4)
  tensors = [(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(
      memory_format=torch.channels_last), torch.from_numpy(labels))
             for images, labels in batches]
  loss_fn = torch.nn.CrossEntropyLoss()
  times = []
  for step in range(warmup + args.steps):
    images, labels = tensors[step % len(tensors)]
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast('cpu', dtype=torch.bfloat16,
                        enabled=args.precision == 'bf16'):
      loss = loss_fn(model(images).float(), labels)
    loss.backward()
    optimizer.step()
    float(loss)
    times.append(time.perf_counter())
  return times


def _warmup(args):
  return (args.warmup if args.warmup is not None
          else WORKLOADS[args.workload][5])


CHILDREN = {'ours': ours, 'keras': keras_fit, 'torch': torch_train}


def _child(args):
  # pylint: disable=g-import-not-at-top
  from resnet_v2 import cpu
  # oneDNN as `resnet-v2 train` sets it, for every framework alike (before
  # TensorFlow or PyTorch loads).
  cpu.use_fastest_onednn('train')
  times = CHILDREN[args.child](args)
  timed = times[_warmup(args):]
  batch = WORKLOADS[args.workload][2]
  print(json.dumps({'images_per_s': batch * (len(timed) - 1) / (
      timed[-1] - timed[0]), 'steps': len(times)}))
  return 0


def write_idx_folder(folder, count=2048):
  """A small Fashion-MNIST-shaped IDX folder (random images, 10 classes)
  for machines without the data set."""
  import gzip  # pylint: disable=g-import-not-at-top
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(0)
  arrays = {'train-images-idx3-ubyte.gz': rng.integers(
      0, 256, (count, 28, 28), np.uint8),
            'train-labels-idx1-ubyte.gz': (np.arange(count) % 10).astype(
                np.uint8)}
  for name, array in arrays.items():
    with gzip.open(os.path.join(folder, name), 'wb') as handle:
      handle.write(bytes([0, 0, 8, array.ndim]) +
                   np.asarray(array.shape, '>u4').tobytes() +
                   array.tobytes())
  return folder


def _data(args, workload):
  if workload == 'finetune':
    return streaming.write_folder(os.path.join(
        args.work_dir, 'jpg_256x320_%d' % JPEGS), JPEGS, JPEG_SIZE, 'jpg')
  if args.data:
    return args.data
  if os.path.isdir(FASHION_MNIST):
    return FASHION_MNIST
  return write_idx_folder(os.path.join(args.work_dir, 'idx_2048'))


def _skip_reason(which, precision):
  """Why a row cannot run here, or None."""
  if which == 'torch':
    try:
      import torch  # pylint: disable=g-import-not-at-top,unused-import
    except ImportError:
      return 'PyTorch is not installed (pip install torch)'
  if precision == 'bf16':
    from resnet_v2 import cpu  # pylint: disable=g-import-not-at-top
    flags = cpu.flags() or frozenset()
    if not any(f in flags for f in cpu.BF16_FLAGS):
      return 'the CPU has no bf16 instructions'
  return None


def run_row(args, workload, which, precision, data):
  """One child; returns its dict, or {'skipped': why}."""
  why = _skip_reason(which, precision)
  if why:
    print('%s %s %s: skipped, %s' % (workload, which, precision, why),
          flush=True)
    return {'skipped': why}
  steps = args.steps or WORKLOADS[workload][4]
  done = subprocess.run(
      [sys.executable, '-m', 'benchmarks.train_speed', '--child', which,
       '--workload', workload, '--data', data, '--precision', precision,
       '--steps', str(steps)] + (
           ['--warmup', str(args.warmup)] if args.warmup is not None else []),
      capture_output=True, text=True, check=False)
  if done.returncode:
    raise RuntimeError('%s %s %s failed:\n%s' % (
        workload, which, precision, done.stderr[-3000:]))
  row = json.loads(done.stdout.strip().splitlines()[-1])
  print('%s %s %s: %.1f images/s' % (workload, which, precision,
                                     row['images_per_s']), flush=True)
  return row


def summarize(rows):
  """Each framework's fastest precision, and our best over theirs."""
  best = {}
  for which in CHILDREN:
    measured = {p: r['images_per_s'] for p, r in rows[which].items()
                if 'images_per_s' in r}
    if measured:
      fastest = max(measured, key=measured.get)
      best[which] = {'precision': fastest, 'images_per_s': measured[fastest]}
  ratios = {'ours_over_%s' % which: best['ours']['images_per_s'] /
            best[which]['images_per_s']
            for which in ('keras', 'torch') if which in best and 'ours' in best}
  return best, ratios


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m benchmarks.train_speed',
                                   description=__doc__.split('\n\n')[0])
  parser.add_argument('--workload', choices=sorted(WORKLOADS) + ['all'],
                      default='all')
  parser.add_argument('--precision', choices=['fp32', 'bf16', 'both'],
                      default='both')
  parser.add_argument('--frameworks', default='ours,keras,torch')
  parser.add_argument('--steps', type=int, default=0,
                      help='timed steps (default: 40 small, 5 finetune)')
  parser.add_argument('--warmup', type=int, help='untimed first steps '
                      '(default: 10 small, 2 finetune)')
  parser.add_argument('--data', help='an IDX folder for small (default: '
                      'Fashion-MNIST where installed)')
  parser.add_argument('--work-dir', default=os.path.join(
      tempfile.gettempdir(), 'resnet_v2_streaming'))
  parser.add_argument('--json')
  parser.add_argument('--child', choices=sorted(CHILDREN),
                      help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    return _child(args)
  workloads = sorted(WORKLOADS) if args.workload == 'all' else [
      args.workload]
  precisions = ['fp32', 'bf16'] if args.precision == 'both' else [
      args.precision]
  from resnet_v2 import cpu  # pylint: disable=g-import-not-at-top
  result = {'command': ' '.join(['python -m benchmarks.train_speed'] + (
      argv if argv is not None else sys.argv[1:])),
            'cpu_flags_bf16': [f for f in cpu.BF16_FLAGS
                               if f in (cpu.flags() or ())]}
  for workload in workloads:
    data = _data(args, workload)
    rows = {which: {} for which in CHILDREN}
    for which in args.frameworks.split(','):
      for precision in precisions:
        rows[which][precision] = run_row(args, workload, which, precision,
                                         data)
    best, ratios = summarize(rows)
    result[workload] = {'net': WORKLOADS[workload][0], 'batch_size':
                        WORKLOADS[workload][2], 'rows': rows, 'best': best,
                        'ratios': ratios}
    print('%s: %s' % (workload, ', '.join('%s %.2f' % item
                                          for item in ratios.items())))
  if args.json:
    from resnet_v2 import files  # pylint: disable=g-import-not-at-top
    files.write_json(args.json, result, indent=1)
  return 0


if __name__ == '__main__':
  sys.exit(main())
