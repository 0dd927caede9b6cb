"""The flags of `resnet-v2 train` (`train.config.TrainConfig` by name)."""

from resnet_v2.cli import flags
from resnet_v2.nets import registry

def add_train_parser(commands):
  train = commands.add_parser(
      'train', help='train or fine-tune any net on your images',
      description='Train a registered net (from scratch, or fine-tune from '
      'a TF-Slim checkpoint) on class folders, TF-Slim TFRecords, CIFAR-10 '
      'batches or MNIST-format IDX files, streamed through tf.data. Writes '
      'model.json, a checkpoint every epoch (and every --save-every steps), '
      'the best one by validation accuracy (best/), history.json and '
      'TensorBoard events to --model-dir; --resume continues exactly.')
  train.add_argument('--model', default='cifar_resnet_v1_20',
                     type=flags.net_name, metavar='NAME',
                     help='default: %(default)s; one of ' +
                     ', '.join(sorted(registry.NETWORKS)) +
                     ', or any cifar_resnet_v1_<6n+2> / v2_<9n+2>')
  train.add_argument('--data', metavar='PATH', default=flags.CIFAR10_DEFAULT_DIR,
                     help='class folders, TFRecords (file, pattern or '
                     'folder), cifar-10-batches-py or a folder of MNIST-'
                     'format IDX files (default: %(default)s)')
  train.add_argument('--val-data', metavar='PATH',
                     help='validation data (default: CIFAR-10 test_batch, '
                     'or a held-out --val-fraction of class folders or of '
                     "IDX's train split)")
  train.add_argument('--val-fraction', type=float, default=0.1,
                     help='share of class folders or IDX train held out '
                     'for validation (default: %(default)s); 0: all of it '
                     'trains, no validation, no best/')
  train.add_argument('--model-dir', required=True)
  train.add_argument('--checkpoint', metavar='PREFIX',
                     help='TF-Slim checkpoint to start from')
  flags.add_weights_arg(train)
  train.add_argument('--exclude', action='append', default=[],
                     metavar='SCOPES', help="variables not to restore: "
                     "TF-Slim scopes or patterns, comma-separated, e.g. "
                     "resnet_v2_50/logits or '*/logits/*' (repeatable)")
  train.add_argument('--trainable', action='append', default=[],
                     metavar='SCOPES', help="variables to train: scopes or "
                     "patterns, e.g. resnet_v2_50/block4,resnet_v2_50/logits "
                     "(repeatable; default all)")
  train.add_argument('--freeze-batch-norm', action='store_true')
  _add_schedule_flags(train)


def _add_schedule_flags(train):
  """Size, schedule, optimizer, devices, precision and the rest."""
  train.add_argument('--image-size', type=flags.positive_int)
  train.add_argument('--epochs', type=flags.positive_int, default=10)
  train.add_argument('--max-steps', type=flags.positive_int)
  train.add_argument('--batch-size', type=flags.positive_int, default=128,
                     help='images per replica per step (default: '
                     '%(default)s); the global batch is this x replicas')
  train.add_argument('--global-batch-size', type=flags.positive_int,
                     help='images per step over all replicas, instead of '
                     '--batch-size (must divide by the replicas)')
  train.add_argument('--strategy', choices=('one-device', 'mirrored',
                                            'multi-worker'),
                     default='one-device',
                     help='one-device (default); mirrored: every GPU of '
                     'this host, or --cpu-devices; multi-worker: the hosts '
                     'in TF_CONFIG (run the same command on each)')
  train.add_argument('--cpu-devices', type=flags.positive_int, metavar='N',
                     help='split the CPU into N logical devices (for '
                     '--strategy mirrored without GPUs)')
  train.add_argument('--sync-batch-norm', action='store_true',
                     help='batch statistics over the global batch')
  train.add_argument('--optimizer', choices=('momentum', 'adam'),
                     default='momentum')
  train.add_argument('--learning-rate', type=float, default=None,
                     help='base rate (default: 0.1 momentum, 1e-3 adam)')
  train.add_argument('--nesterov', action='store_true',
                     help='Nesterov momentum (the momentum optimizer)')
  train.add_argument('--schedule', choices=('step', 'cosine', 'onecycle',
                                            'constant'),
                     default='step', help='default: %(default)s; onecycle: '
                     "PyTorch's OneCycleLR (up over --warmup-epochs, default "
                     '30%% of the run, then a cosine down)')
  train.add_argument('--warmup-epochs', type=float, default=0.0)
  train.add_argument('--label-smoothing', type=float, default=0.0)
  train.add_argument('--ema', type=float, default=0.0, metavar='DECAY',
                     help='average the weights (e.g. 0.999; default 0: '
                     'off): validation, best/ and every later command use '
                     'the average')
  train.add_argument('--random-erasing', type=float, default=0.0,
                     metavar='SHARE', help='erase a random rectangle of '
                     'this share of the training images (default 0; the '
                     'paper: 0.5)')
  train.add_argument('--mixup', type=float, default=0.0, metavar='ALPHA',
                     help='mixup with Beta(ALPHA, ALPHA) weights (default '
                     '0: off; usual 0.2)')
  train.add_argument('--cutmix', type=float, default=0.0, metavar='ALPHA',
                     help='CutMix (default 0: off; usual 1.0); with --mixup, '
                     'one or the other per batch')
  train.add_argument('--tta', choices=('none', 'flip'), default='none',
                     help="validation on the image and its mirror image, "
                     "averaged (default: %(default)s)")
  train.add_argument('--weight-decay', type=float, default=1e-4)
  train.add_argument('--plateau-patience', type=int, default=0,
                     help='epochs without a better validation accuracy '
                     'before the rate is cut (0: off)')
  train.add_argument('--plateau-factor', type=float, default=0.1)
  train.add_argument('--save-every', type=int, default=0, metavar='STEPS')
  train.add_argument('--precision', choices=('fp32', 'bf16', 'fp16'),
                     default='fp32',
                     help='bf16: CPUs with oneDNN; fp16: GPUs (loss scaling)')
  train.add_argument('--plain', action='store_true',
                     help='no shortcuts (the degradation experiment)')
  train.add_argument('--no-augment', action='store_true')
  train.add_argument('--num-classes', type=flags.positive_int,
                     help='for TFRecords without class names')
  train.add_argument('--labels-offset', type=int, default=0,
                     help='subtracted from TFRecord labels (1 for TF-Slim '
                     'ImageNet records and a 1000-class net)')
  train.add_argument('--max-unreadable', type=float, default=0.1,
                     metavar='SHARE', help='stop once more than this share '
                     'of the training data could not be read (default: '
                     '%(default)s); each such file is named in history.json')
  train.add_argument('--seed', type=int, default=0)
  train.add_argument('--resume', action='store_true')
  train.add_argument('--collective-timeout', type=flags.positive_int,
                     default=flags.COLLECTIVE_TIMEOUT,
                     metavar='SECONDS', help='multi-worker: a worker waiting '
                     'longer than this for the others gives up (default: '
                     '%(default)s)')
  flags.add_max_pixels_arg(train)
