"""What a training run leaves in its model dir, for the commands after it.

`model.json` records the net, its classes and how its images are prepared,
so `eval`, `predict`, `features` and `export` take `--model-dir` alone.
Checkpoints: `model.ckpt-STEP` (the latest few, TensorFlow's 'checkpoint'
index names the newest) and `best/model.ckpt` (the best validation
accuracy so far), each written whole before it is named.
"""

import collections
import json
import os

import tensorflow as tf

from resnet_v2 import checkpoints
from resnet_v2 import files
from resnet_v2 import registry

RECORD_NAME = 'model.json'
CHECKPOINT_NAME = 'model.ckpt'
BEST_DIR = 'best'
HISTORY_NAME = 'history.json'
OPENVINO_DIR = 'openvino'
QUANTIZATION_REPORT = 'quantization.json'
KEEP_CHECKPOINTS = 3

Record = collections.namedtuple('Record', [
    'model', 'num_classes', 'class_names', 'image_size', 'preprocessing',
    'labels_offset', 'plain', 'pixel_mean', 'engine', 'precision'],
    defaults=('tensorflow', 'fp32'))
Record.__doc__ = """How to rebuild and feed a trained net.

model: registry name; num_classes, class_names: its classes (names may be
None for TFRecord data without class texts); image_size, preprocessing:
what the input pipeline does; labels_offset: subtracted from TFRecord
labels; plain: no shortcuts; pixel_mean: per-pixel mean [H][W][3] that the
CIFAR preprocessing subtracts, or None; engine: 'tensorflow' (TF-Slim
checkpoints) or 'openvino' (an OpenVINO model in `OPENVINO_DIR`, as
`resnet-v2 quantize` writes); precision: 'fp32' or 'int8'. (The last two
default for model dirs written before they existed.)
"""

# What must agree for a model dir to continue a run.
IDENTITY = ('model', 'num_classes', 'image_size', 'preprocessing', 'plain',
            'engine')


def write_record(model_dir, record):
  """Writes model.json atomically."""
  os.makedirs(model_dir, exist_ok=True)
  files.write_json(os.path.join(model_dir, RECORD_NAME), record._asdict(),
                   indent=1)


def read_record(model_dir):
  """Reads model.json.

  Raises:
    ValueError: if model_dir holds no (or an unreadable) model.json.
  """
  path = os.path.join(model_dir, RECORD_NAME)
  try:
    with open(path) as handle:
      data = json.load(handle)
  except FileNotFoundError:
    raise ValueError('%s is not a model dir (no %s): train one with '
                     '`resnet-v2 train --model-dir %s`, or give --model and '
                     '--checkpoint.' % (model_dir, RECORD_NAME,
                                        model_dir)) from None
  except (OSError, json.JSONDecodeError) as error:
    raise ValueError('%s is unreadable: %s' % (path, error)) from None
  missing = [f for f in Record._fields
             if f not in data and f not in Record._field_defaults]
  if missing:
    raise ValueError('%s lacks %s: not written by this version of '
                     'resnet_v2.' % (path, missing))
  return Record(**{f: data[f] for f in Record._fields if f in data})


def checkpoint_record(model, checkpoint, image_size, class_names=None,
                      labels_offset=None):
  """A Record for a registered net with a (published) checkpoint instead of
  a model dir: its classes are the checkpoint's logits.

  Raises:
    ValueError: if the checkpoint has no logits (it cannot classify).
  """
  spec = registry.get_spec(model)
  classes = checkpoints.logits_classes(checkpoint, spec.scope)
  if not classes:
    raise ValueError('Checkpoint %s has no %s/logits: it cannot classify; '
                     'use `resnet-v2 features`.' % (checkpoint, spec.scope))
  return Record(model, classes, class_names, image_size or spec.image_size,
                spec.preprocessing, labels_offset, False, None)


def check_same_run(old, new, model_dir):
  """Raises ValueError naming every setting in which new differs from old."""
  differences = ['%s: %r in the model dir, %r now' % (
      f, getattr(old, f), getattr(new, f)) for f in IDENTITY
                 if getattr(old, f) != getattr(new, f)]
  if differences:
    raise ValueError('%s holds another run (%s); use another --model-dir.' %
                     (model_dir, '; '.join(differences)))


def latest_checkpoint(model_dir):
  """The newest checkpoint prefix, or None."""
  return tf.train.latest_checkpoint(model_dir)


def best_checkpoint(model_dir):
  """The best-validation checkpoint prefix, or None."""
  prefix = os.path.join(model_dir, BEST_DIR, CHECKPOINT_NAME)
  return prefix if os.path.exists(prefix + '.index') else None


def checkpoint_for_inference(model_dir):
  """The best checkpoint, else the latest one.

  Raises:
    ValueError: if the model dir holds no checkpoint yet, or holds an
      OpenVINO (int8) model instead.
  """
  if read_record(model_dir).engine != 'tensorflow':
    raise ValueError('%s holds an int8 OpenVINO model, not a TensorFlow '
                     'checkpoint: it serves eval, predict, features and '
                     '`export --format openvino`; train, fine-tune or export '
                     'a SavedModel from the model dir it was quantized from.'
                     % model_dir)
  path = best_checkpoint(model_dir) or latest_checkpoint(model_dir)
  if path is None:
    raise ValueError('%s holds no checkpoint yet: train first (`resnet-v2 '
                     'train --model-dir %s`).' % (model_dir, model_dir))
  return path


def check_int8_image_size(record, image_size, model_dir):
  """Raises ValueError if an int8 model dir is asked for another input size
  (its model and statistics are for one)."""
  if record.engine != 'tensorflow' and image_size not in (
      None, record.image_size):
    raise ValueError('%s is an int8 model for %dx%d images; drop '
                     '--image-size %d (or quantize again at that size).' % (
                         model_dir, record.image_size, record.image_size,
                         image_size))


def openvino_dir(model_dir):
  """The folder of an int8 model dir's OpenVINO model."""
  return os.path.join(model_dir, OPENVINO_DIR)


def add_checkpoint(model_dir, prefix, keep=KEEP_CHECKPOINTS):
  """Names a complete checkpoint as the latest in model_dir's 'checkpoint'
  index (written atomically) and deletes all but the newest `keep`."""
  state = tf.train.get_checkpoint_state(model_dir)
  names = [os.path.basename(p) for p in (
      state.all_model_checkpoint_paths if state else [])]
  names = [n for n in names if n != os.path.basename(prefix)]
  names.append(os.path.basename(prefix))
  kept, dropped = names[-keep:], names[:-keep]
  # TensorFlow's CheckpointState text format, with paths relative to
  # model_dir (so the folder can move).
  with files.atomic_write(os.path.join(model_dir, 'checkpoint'), 'w') as out:
    out.write('model_checkpoint_path: %s\n' % json.dumps(kept[-1]))
    for name in kept:
      out.write('all_model_checkpoint_paths: %s\n' % json.dumps(name))
  for name in dropped:
    path = os.path.join(model_dir, name)
    for stale in tf.io.gfile.glob(path + '.*'):
      tf.io.gfile.remove(stale)
