"""What a training run leaves in its model dir, for the commands after it.

`model.json` records the net, its classes and how its images are prepared
(`record.Record`), so `eval`, `predict`, `features` and `export` take
`--model-dir` alone.
Checkpoints: `model.ckpt-STEP` (the latest few, TensorFlow's 'checkpoint'
index names the newest) and `best/model.ckpt` (the best validation
accuracy so far), each written whole before it is named.
"""

import collections
import json
import os
import re
import shutil

import tensorflow as tf

from resnet_v2 import files

RECORD_NAME = 'model.json'
CHECKPOINT_NAME = 'model.ckpt'
BEST_DIR = 'best'
HISTORY_NAME = 'history.json'
OPENVINO_DIR = 'openvino'
QUANTIZATION_REPORT = 'quantization.json'
KEEP_CHECKPOINTS = 3
DAMAGED_DIR = 'damaged'


def checkpoint_names(model_dir):
  """The checkpoint names (e.g. 'model.ckpt-120') the 'checkpoint' index of
  model_dir lists, oldest first; [] without an index."""
  state = tf.train.get_checkpoint_state(model_dir)
  if state is None:
    return []
  names = [os.path.basename(p) for p in state.all_model_checkpoint_paths]
  latest = os.path.basename(state.model_checkpoint_path)
  return [n for n in names if n != latest] + ([latest] if latest else [])


def latest_checkpoint(model_dir):
  """The newest complete checkpoint prefix named in the index, or None.

  By exact file names: TensorFlow's `tf.train.latest_checkpoint` matches
  the prefix as a glob pattern, so a model dir named e.g. 'runs/lr[1]'
  finds nothing (and one named 'runs/lr*' another run's files).
  """
  for name in reversed(checkpoint_names(model_dir)):
    prefix = os.path.join(model_dir, name)
    if os.path.isfile(prefix + '.index'):
      return prefix
  return None


def best_checkpoint(model_dir):
  """The best-validation checkpoint prefix, or None."""
  prefix = os.path.join(model_dir, BEST_DIR, CHECKPOINT_NAME)
  return prefix if os.path.exists(prefix + '.index') else None


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
  _write_index(model_dir, kept)
  on_disk = _checkpoint_files(model_dir)
  for name in dropped:
    for file_name in on_disk.get(name, []):
      os.unlink(os.path.join(model_dir, file_name))


def _write_index(model_dir, names):
  """TensorFlow's CheckpointState text format naming `names` (the last the
  latest), with paths relative to model_dir (so the folder can move)."""
  with files.atomic_write(os.path.join(model_dir, 'checkpoint'), 'w') as out:
    if names:
      out.write('model_checkpoint_path: %s\n' % json.dumps(names[-1]))
    for name in names:
      out.write('all_model_checkpoint_paths: %s\n' % json.dumps(name))


def set_aside(model_dir, name):
  """Moves a damaged step checkpoint's files into MODEL_DIR/damaged/ (kept,
  never deleted) and drops it from the index; returns where."""
  aside = os.path.join(model_dir, DAMAGED_DIR)
  os.makedirs(aside, exist_ok=True)
  for file_name in _checkpoint_files(model_dir).get(name, []):
    os.replace(os.path.join(model_dir, file_name),
               os.path.join(aside, file_name))
  _write_index(model_dir, [n for n in checkpoint_names(model_dir)
                           if n != name])
  return aside


def remove_unnamed(model_dir):
  """Removes step checkpoint files the index does not name (a write that
  failed or was cut short); returns their names."""
  named, removed = set(checkpoint_names(model_dir)), []
  for name, file_names in _checkpoint_files(model_dir).items():
    if name not in named:
      for file_name in file_names:
        os.unlink(os.path.join(model_dir, file_name))
      removed.extend(file_names)
  return removed


# Names a training run leaves in its model dir, besides RECORD_NAME.
_RUN_FILES = re.compile(r'^(?:checkpoint|damaged|%s|%s|%s|\.lock.*|\.tmp_.*|'
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
  removed.extend(remove_unnamed(model_dir))
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
