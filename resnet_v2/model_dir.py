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
import re
import shutil


from resnet_v2 import checkpoints
from resnet_v2 import files
from resnet_v2.nets import registry

RECORD_NAME = 'model.json'
CHECKPOINT_NAME = 'model.ckpt'
BEST_DIR = 'best'
HISTORY_NAME = 'history.json'
OPENVINO_DIR = 'openvino'
QUANTIZATION_REPORT = 'quantization.json'
KEEP_CHECKPOINTS = 3

Record = collections.namedtuple('Record', [
    'model', 'num_classes', 'class_names', 'image_size', 'preprocessing',
    'labels_offset', 'plain', 'pixel_mean', 'engine', 'precision',
    'conventions'],
    defaults=('tensorflow', 'fp32', 'tf_slim'))
Record.__doc__ = """How to rebuild and feed a trained net.

model: registry name; num_classes, class_names: its classes (names may be
None for TFRecord data without class texts); image_size, preprocessing:
what the input pipeline does; labels_offset: subtracted from TFRecord
labels; plain: no shortcuts; pixel_mean: per-pixel mean [H][W][3] that the
CIFAR preprocessing subtracts, or None; engine: 'tensorflow' (TF-Slim
checkpoints) or 'openvino' (an OpenVINO model in `OPENVINO_DIR`, as
`resnet-v2 quantize` writes); precision: 'fp32' or 'int8'; conventions:
'tf_slim', or 'keras' for weights from Keras's ResNet V2 (its batch-norm
epsilon and root pooling, `registry.CONVENTIONS`). (The last three default
for model dirs written before they existed.)
"""

# What must agree for a model dir to continue a run.
IDENTITY = ('model', 'num_classes', 'image_size', 'preprocessing', 'plain',
            'engine', 'conventions')


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
                     '`resnet-v2 train --model-dir %s`, or give `model` and '
                     '`checkpoint`.' % (model_dir, RECORD_NAME,
                                        model_dir)) from None
  except (OSError, json.JSONDecodeError) as error:
    raise ValueError('%s is unreadable: %s' % (path, error)) from None
  missing = [f for f in Record._fields
             if f not in data and f not in Record._field_defaults]
  if missing:
    raise ValueError('%s lacks %s: not written by this version of '
                     'resnet_v2.' % (path, missing))
  return Record(**{f: data[f] for f in Record._fields if f in data})


def checkpoint_conventions(checkpoint):
  """The conventions a checkpoint's weights were trained with: those of
  the model dir it lies in (its model.json, beside it or above `best/`),
  else TF-Slim's."""
  folder = os.path.dirname(os.path.abspath(checkpoint))
  for candidate in (folder, os.path.dirname(folder)):
    if os.path.isfile(os.path.join(candidate, RECORD_NAME)) and (
        candidate == folder or os.path.basename(folder) == BEST_DIR):
      return read_record(candidate).conventions
  return 'tf_slim'


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
                spec.preprocessing, labels_offset, False, None,
                conventions=checkpoint_conventions(checkpoint))


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


def checkpoint_names(model_dir):
  """See `checkpoints.index_names`."""
  return checkpoints.index_names(model_dir)


def _some(names, other):
  """The names not in other (else all), a few."""
  odd = [n for n in names if n not in other] or list(names)
  return '%s%s' % (odd[:5], ' ...' if len(odd) > 5 else '')


def latest_checkpoint(model_dir):
  """See `checkpoints.latest_in`."""
  return checkpoints.latest_in(model_dir)


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
                     '`image_size`=%d (or quantize again at that size).' % (
                         model_dir, record.image_size, record.image_size,
                         image_size))


def openvino_dir(model_dir):
  """The folder of an int8 model dir's OpenVINO model."""
  return os.path.join(model_dir, OPENVINO_DIR)


_CHECKPOINT_FILE = re.compile(r'^(%s-\d+)\.(?:index|data-\d+-of-\d+)$' %
                              re.escape(CHECKPOINT_NAME))


def _checkpoint_files(model_dir):
  """{checkpoint name: [its file names]} of the step checkpoints in
  model_dir, found by listing it (never by glob)."""
  found = collections.defaultdict(list)
  for name in os.listdir(model_dir):
    match = _CHECKPOINT_FILE.match(name)
    if match:
      found[match.group(1)].append(name)
  return found


def add_checkpoint(model_dir, prefix, keep=KEEP_CHECKPOINTS):
  """Names a complete checkpoint as the latest in model_dir's 'checkpoint'
  index and deletes all but the newest `keep`.

  The checkpoint's files are flushed to disk before the index (written
  atomically) names them, so after a crash the index never names a
  checkpoint that is not whole. Only files of this model dir's own
  checkpoints, by exact name, are deleted.
  """
  for name in _checkpoint_files(model_dir).get(os.path.basename(prefix), []):
    files.fsync_path(os.path.join(model_dir, name))
  names = [n for n in checkpoint_names(model_dir)
           if n != os.path.basename(prefix)]
  names.append(os.path.basename(prefix))
  kept, dropped = names[-keep:], names[:-keep]
  # TensorFlow's CheckpointState text format, with paths relative to
  # model_dir (so the folder can move).
  with files.atomic_write(os.path.join(model_dir, 'checkpoint'), 'w') as out:
    out.write('model_checkpoint_path: %s\n' % json.dumps(kept[-1]))
    for name in kept:
      out.write('all_model_checkpoint_paths: %s\n' % json.dumps(name))
  on_disk = _checkpoint_files(model_dir)
  for name in dropped:
    for file_name in on_disk.get(name, []):
      os.unlink(os.path.join(model_dir, file_name))


# Names a training run leaves in its model dir, besides RECORD_NAME.
_RUN_FILES = re.compile(r'^(?:checkpoint|%s|%s|%s|\.lock.*|\.tmp_.*|'
                        r'\.best_.*|best\.old|\.old_.*|eval|'
                        r'events\.out\.tfevents\..*|%s-\d+\..*)$' % (
                            re.escape(HISTORY_NAME), re.escape(BEST_DIR),
                            re.escape(files.OWNER_MARK),
                            re.escape(CHECKPOINT_NAME)))


def check_trainable_dir(model_dir):
  """Refuses a folder that holds files of its own and is no model dir:
  training writes 'checkpoint', 'best/', 'history.json' and more, and
  never into a folder of the user's.

  Raises:
    ValueError: naming a few of the folder's files and the fix.
  """
  if not os.path.isdir(model_dir) or os.path.exists(
      os.path.join(model_dir, RECORD_NAME)):
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
      raise ValueError('`model_dir` %s is a file; give a folder.' % model_dir)
    return
  foreign = sorted(n for n in os.listdir(model_dir)
                   if not _RUN_FILES.match(n))
  if foreign:
    raise ValueError('`model_dir` %s holds files that are not a model dir '
                     '(%s%s): training writes there, so give a new or '
                     'empty folder.' % (model_dir, ', '.join(foreign[:3]),
                                        ', ...' if len(foreign) > 3 else ''))


def remove_leftovers(model_dir):
  """Removes what an interrupted run left half-written: temporary files
  and folders of atomic writes, step checkpoints the index never named,
  and TensorFlow's unfinished checkpoint shards. A best/ moved aside by an
  interrupted swap is put back. Call only while holding the model dir's
  lock.

  Returns:
    The names removed.
  """
  removed = []
  best = os.path.join(model_dir, BEST_DIR)
  old_best = best + '.old'
  if os.path.isdir(old_best):
    if os.path.exists(best):
      shutil.rmtree(old_best)
      removed.append(BEST_DIR + '.old')
    else:
      os.replace(old_best, best)
  named = set(checkpoint_names(model_dir))
  for name, file_names in _checkpoint_files(model_dir).items():
    if name not in named:
      for file_name in file_names:
        os.unlink(os.path.join(model_dir, file_name))
      removed.extend(file_names)
  for name in os.listdir(model_dir):
    path = os.path.join(model_dir, name)
    if name.startswith(('.tmp_', '.best_', '.old_')) or (
        name.startswith(CHECKPOINT_NAME + '-') and '.tempstate' in name):
      if os.path.isdir(path):
        shutil.rmtree(path)
      else:
        os.unlink(path)
      removed.append(name)
  return removed
