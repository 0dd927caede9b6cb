"""A net's record: what it is, how it is fed, where its weights are.

`Record` is built by keyword, by one constructor per origin (a model dir,
a checkpoint, a net whose weights come from elsewhere), read once per
command and passed down. This module is the one place model.json is read
and written.
"""

import dataclasses
import json
import os
import sys
import typing

from resnet_v2 import checkpoint_files
from resnet_v2 import files
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2.nets import registry


@dataclasses.dataclass(frozen=True, kw_only=True)
class Record:
  """How to rebuild and feed a net, and where its weights are.

  Built by keyword, by one constructor per origin: `read` (what a model
  dir's model.json says), `from_model_dir` (that, with the weights to run),
  `from_checkpoint` (a registered net and a TF-Slim checkpoint, e.g. a
  published one), `for_net` (a net whose weights come from elsewhere, e.g.
  a Keras file); `open` picks between a model dir and a net + checkpoint.
  Read once per command and passed down.

  Fields saved in model.json (`SAVED`):
    model: registry name. num_classes, class_names: its classes (names may
      be None, e.g. TFRecord data without class texts). image_size,
      preprocessing: what the input pipeline does (default: the net's).
    labels_offset: subtracted from TFRecord labels. plain: no shortcuts.
    pixel_mean: per-pixel mean [H][W][3] that the CIFAR preprocessing
      subtracts, or None. engine: 'tensorflow' (TF-Slim checkpoints) or
      'openvino' (an OpenVINO model in `OPENVINO_DIR`, as `resnet-v2
      quantize` writes). precision: 'fp32' or 'int8'. conventions:
      'tf_slim', or 'keras' for weights from Keras's ResNet V2 (its
      batch-norm epsilon and root pooling, `registry.CONVENTIONS`). (The
      last three default for model dirs written before they existed.)
  Where it came from (never saved):
    weights: the checkpoint prefix to restore (an int8 record: its
      OpenVINO folder); None for random weights.
    model_dir: the model dir it was read from, or None.
  """
  model: str
  num_classes: typing.Optional[int] = None
  class_names: typing.Optional[list] = None
  image_size: typing.Optional[int] = None
  preprocessing: typing.Optional[str] = None
  labels_offset: typing.Optional[int] = None
  plain: bool = False
  pixel_mean: typing.Optional[list] = None
  engine: str = 'tensorflow'
  precision: str = 'fp32'
  conventions: str = 'tf_slim'
  weights: typing.Optional[str] = None
  model_dir: typing.Optional[str] = None

  def __post_init__(self):
    spec = registry.get_spec(self.model)
    if self.image_size is None:
      object.__setattr__(self, 'image_size', spec.image_size)
    if self.preprocessing is None:
      object.__setattr__(self, 'preprocessing', spec.preprocessing)

  def replace(self, **changes):
    """A copy with these fields changed."""
    return dataclasses.replace(self, **changes)

  def saved(self):
    """{field: value} of what model.json holds."""
    return {name: getattr(self, name) for name in SAVED}

  def write(self, model_dir):
    """Writes model_dir/model.json atomically."""
    os.makedirs(model_dir, exist_ok=True)
    files.write_json(os.path.join(model_dir, model_dir_lib.RECORD_NAME),
                     self.saved(), indent=1)

  @property
  def holds_openvino_model(self):
    """Whether the model dir holds an OpenVINO model (written by
    `quantize`, in int8) instead of a TensorFlow checkpoint."""
    return self.engine == 'openvino'

  def checkpoint(self):
    """The TF-Slim checkpoint prefix of the weights (None: random).

    Raises:
      ValueError: for an int8 model dir, which holds none.
    """
    if self.holds_openvino_model:
      raise ValueError(
          '%s holds an int8 OpenVINO model, not a TensorFlow checkpoint: it '
          'serves eval, predict, features and `export --format openvino`; '
          'train, fine-tune, convert or export a SavedModel from the model '
          'dir it was quantized from.' % self.model_dir)
    return self.weights

  @classmethod
  def read(cls, model_dir):
    """What model_dir's model.json records (weights not looked for): the
    one place model.json is read.

    Raises:
      ValueError: if model_dir holds no (or an unreadable) model.json.
    """
    path = os.path.join(model_dir, model_dir_lib.RECORD_NAME)
    try:
      with open(path) as handle:
        data = json.load(handle)
    except FileNotFoundError:
      raise ValueError('%s is not a model dir (no %s): train one with '
                       '`resnet-v2 train --model-dir %s`, or give `model` '
                       'and `checkpoint`.' % (model_dir, model_dir_lib.RECORD_NAME,
                                              model_dir)) from None
    except (OSError, ValueError) as error:
      raise ValueError('%s is unreadable: %s' % (path, error)) from None
    if not isinstance(data, dict) or any(
        name not in data for name in SAVED[:8]):
      raise ValueError('%s lacks %s: not written by this version of '
                       'resnet_v2.' % (path, [n for n in SAVED[:8] if n not in
                                              (data if isinstance(data, dict)
                                               else ())]))
    return cls(model_dir=model_dir,
               **{name: data[name] for name in SAVED if name in data})

  @classmethod
  def from_model_dir(cls, model_dir, image_size=None):
    """A model dir's net with the weights to run: its best checkpoint,
    else its latest; an int8 model dir's OpenVINO model.

    Args:
      model_dir: A model dir (`resnet-v2 train`, `convert` or `quantize`
        wrote it).
      image_size: Another input size (not for int8 model dirs).

    Raises:
      ValueError: if it is not a model dir, holds no checkpoint yet, or is
        int8 and another image_size is asked for.
    """
    record = cls.read(model_dir)
    if record.holds_openvino_model:
      if image_size not in (None, record.image_size):
        raise ValueError('%s is an int8 model for %dx%d images; drop '
                         '`image_size`=%d (or quantize again at that size).'
                         % (model_dir, record.image_size, record.image_size,
                            image_size))
      return record.replace(weights=model_dir_lib.openvino_dir(model_dir))
    path = (_whole_best(model_dir) or
            model_dir_lib.latest_checkpoint(model_dir))
    if path is None:
      raise ValueError('%s holds no checkpoint yet: train first (`resnet-v2 '
                       'train --model-dir %s`).' % (model_dir, model_dir))
    return record.replace(weights=path,
                          image_size=image_size or record.image_size)

  @classmethod
  def from_checkpoint(cls, model, checkpoint=None, image_size=None,
                      num_classes=None):
    """A registered net with a TF-Slim checkpoint (or random weights).

    Args:
      model: A registry name.
      checkpoint: A checkpoint prefix (V1 single file or V2); its classes
        are its logits', its conventions those of the model dir it lies in
        (else TF-Slim's). None: random weights.
      image_size: Default what the net's published checkpoints were
        trained at (with a checkpoint), else the net's own.
      num_classes: Logits to build without a checkpoint (None: features
        only).
    """
    spec = registry.get_spec(model)
    if checkpoint is not None:
      num_classes = checkpoint_files.logits_classes(checkpoint, spec.scope)
    return cls(model=model, num_classes=num_classes,
               image_size=image_size or registry.default_image_size(
                   model, checkpoint),
               conventions=checkpoint_conventions(checkpoint),
               weights=checkpoint)

  @classmethod
  def for_net(cls, model, num_classes, class_names=None, image_size=None,
              conventions='tf_slim', **fields):
    """A registered net whose weights come from elsewhere (a Keras file, a
    training run): the net's preprocessing and size unless given."""
    return cls(model=model, num_classes=num_classes, class_names=class_names,
               image_size=image_size, conventions=conventions, **fields)

  @classmethod
  def open(cls, model_dir=None, model=None, checkpoint=None, image_size=None,
           num_classes=None):
    """The net a command names: a model dir, or a net and its checkpoint.

    Raises:
      ValueError: if both or neither are given, or either is unusable.
    """
    if model_dir and (model or checkpoint):
      raise ValueError('`model_dir` names the net and its checkpoint; drop '
                       '`model` and `checkpoint`.')
    if model_dir:
      return cls.from_model_dir(model_dir, image_size)
    if not model:
      raise ValueError('Give a model dir, or a net (and its checkpoint), '
                       'not neither.')
    return cls.from_checkpoint(model, checkpoint, image_size, num_classes)


def _whole_best(model_dir):
  """best/'s checkpoint if it reads whole; a damaged one is named on stderr
  and the latest step checkpoint is used instead (none: refused by name).
  """
  best = model_dir_lib.best_checkpoint(model_dir)
  if best is None:
    return None
  try:
    checkpoint_files.check_whole(best)
    return best
  except checkpoint_files.DamagedCheckpointError as error:
    latest = model_dir_lib.latest_checkpoint(model_dir)
    if latest is None:
      raise checkpoint_files.DamagedCheckpointError(
          '%s %s holds no step checkpoint to use instead.' % (
              error, model_dir)) from None
    print('WARNING: %s Using the latest step checkpoint, %s.' % (
        error, latest), file=sys.stderr)
    return None


# model.json's fields, in order; the first eight are in every model.json.
SAVED = ('model', 'num_classes', 'class_names', 'image_size', 'preprocessing',
         'labels_offset', 'plain', 'pixel_mean', 'engine', 'precision',
         'conventions')


# What must agree for a model dir to continue a run.
IDENTITY = ('model', 'num_classes', 'image_size', 'preprocessing', 'plain',
            'engine', 'conventions')


def checkpoint_conventions(checkpoint):
  """The conventions a checkpoint's weights were trained with: those of
  the model dir it lies in (its model.json, beside it or above `best/`),
  else TF-Slim's; TF-Slim's for no checkpoint (random weights)."""
  if checkpoint is None:
    return 'tf_slim'
  folder = os.path.dirname(os.path.abspath(checkpoint))
  for candidate in (folder, os.path.dirname(folder)):
    if os.path.isfile(os.path.join(candidate, model_dir_lib.RECORD_NAME)) and (
        candidate == folder or os.path.basename(folder) == model_dir_lib.BEST_DIR):
      return Record.read(candidate).conventions
  return 'tf_slim'


def check_same_run(old, new, model_dir):
  """Raises ValueError naming every setting in which new differs from old."""
  differences = ['%s: %r in the model dir, %r now' % (
      f, getattr(old, f), getattr(new, f)) for f in IDENTITY
                 if getattr(old, f) != getattr(new, f)]
  if old.class_names and new.class_names and (
      list(old.class_names) != list(new.class_names)):
    differences.append('classes: %s in the model dir, %s now' % (
        _some(old.class_names, new.class_names),
        _some(new.class_names, old.class_names)))
  if differences:
    raise ValueError('%s holds another run (%s); use another `model_dir`.' %
                     (model_dir, '; '.join(differences)))


def _some(names, other):
  """The names not in other (else all), a few."""
  odd = [n for n in names if n not in other] or list(names)
  return '%s%s' % (odd[:5], ' ...' if len(odd) > 5 else '')
