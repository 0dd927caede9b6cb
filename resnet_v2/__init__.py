"""resnet_v2: TF-Slim's ResNet v2 nets, working on current TensorFlow.

A drop-in for `tf_slim.nets.resnet_v2` and `tf_slim.nets.resnet_utils`:
change the import and the same code builds the same graph, with the same
variable names, so the published TF-Slim checkpoints restore.

The names below load on first use (PEP 562), so `import resnet_v2` and the
`resnet-v2` command line do not import TensorFlow until a net is built.

Packages, each importing only those below it:
  cli             the `resnet-v2` command: flags -> parameters
  service/        `resnet-v2 serve`: clip-retrieval's HTTP API
  search/         index, search, dedup and probe of features folders
  serve/          a trained net run: eval, features, predict, export, quantize
  train/          the training loop, its config, tf.distribute, fine-tuning
  data/           the input pipeline and preprocessing (net facts as data)
  nets/           the graph builders and `registry`, the table of net facts
  the ground floor, modules any floor may import:
    checkpoint_files, checkpoints  a checkpoint's files; TF-Slim names
    model_dir, record              a model dir's files; its model.json
    files, lock                    whole-or-nothing writes; one writer
    runtime, cpu                   sessions, precision, XLA; per-CPU choices
    metrics, errors                top-k; the project's errors, `require`
(`quiet` and `progress`, the terminal's, are the command line's, in cli/.)
tests/test_layout.py enforces the floors.
"""

import importlib

# name -> module that defines it (the TF-Slim face of the package).
_FACE = {
    'arg_scope': 'nets.arg_scope',
    'resnet_arg_scope': 'nets.arg_scope',
    'Block': 'nets.blocks',
    'basic_v1': 'nets.units',
    'bottleneck': 'nets.units',
    'bottleneck_v1': 'nets.units',
    'conv2d_same': 'nets.blocks',
    'stack_blocks_dense': 'nets.blocks',
    'subsample': 'nets.blocks',
    'batch_norm': 'nets.layers',
    'conv2d': 'nets.layers',
    'max_pool2d': 'nets.layers',
    'softmax': 'nets.layers',
    'cifar_resnet': 'nets.cifar',
}
_FACE.update((name, 'nets.resnet') for name in (
    'NETS', 'Root', 'default_image_size', 'resnet', 'V1_NETS', 'resnet_v1',
    'resnet_v1_101', 'resnet_v1_152', 'resnet_v1_200', 'resnet_v1_50',
    'resnet_v1_block', 'resnet_v1_blocks', 'resnet_v2', 'resnet_v2_101',
    'resnet_v2_152', 'resnet_v2_200', 'resnet_v2_50', 'resnet_v2_block',
    'resnet_v2_blocks'))

__all__ = sorted(_FACE)

__version__ = '0.1.0'


def _hand_platform_facts():
  """The face builds for this machine (`nets.platform`)."""
  # pylint: disable=g-import-not-at-top
  from resnet_v2 import runtime
  from resnet_v2.nets import platform
  platform.use(runtime.platform_facts)


def __getattr__(name):
  if name in _FACE:
    _hand_platform_facts()
    value = getattr(importlib.import_module('resnet_v2.' + _FACE[name]),
                    name)
    globals()[name] = value   # later lookups skip this function
    return value
  raise AttributeError('module %r has no attribute %r' % (__name__, name))


def __dir__():
  return sorted(set(globals()) | set(_FACE))
