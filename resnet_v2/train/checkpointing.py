"""What a training run writes besides its events: step checkpoints named
in the model dir's index once whole, with the train-state `Counters`;
`best/` swapped in whole; and the history a resume continues."""

import dataclasses
import json
import os
import shutil

import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2 import errors
from resnet_v2 import files
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2.train import distribute


@dataclasses.dataclass(frozen=True)
class Counters:
  """The train-state variables a checkpoint holds besides the net's and
  the optimizer's: where the run is, and the plateau's state."""
  global_step: tf.Variable
  epoch: tf.Variable
  epoch_start: tf.Variable
  rate_scale: tf.Variable
  best_accuracy: tf.Variable
  stale_epochs: tf.Variable

  @classmethod
  def create(cls):
    """New variables (under the caller's strategy scope), named as the
    checkpoints name them."""
    def state(name, value, dtype):
      return tf.Variable(value, dtype=dtype, trainable=False, name=name)
    return cls(state('global_step', 0, tf.int64),
               state('train_state/epoch', 0, tf.int64),
               state('train_state/epoch_start_step', 0, tf.int64),
               state('train_state/rate_scale', 1.0, tf.float32),
               state('train_state/best_accuracy', -1.0, tf.float32),
               state('train_state/stale_epochs', 0, tf.int64))

  def by_name(self):
    """{checkpoint name: variable}."""
    variables = [getattr(self, field.name)
                 for field in dataclasses.fields(self)]
    return {v.name.split(':')[0]: v for v in variables}


def write_failure(what, model_dir, error):
  """One line: what could not be written, why, the latest intact checkpoint
  and how to go on."""
  if isinstance(error, tf.errors.OpError):
    reason = errors.op_error_reason(error)
  else:
    reason = getattr(error, 'strerror', None) or str(error)
  latest = model_dir_lib.latest_checkpoint(model_dir)
  return ('Writing %s failed: %s. Nothing of it was kept; %s. Free space (or '
          'fix the disk) and run again with `resume` to continue.' % (
              what, reason.rstrip('.'), 'the latest intact checkpoint is %s'
              % latest if latest else 'there is no earlier checkpoint'))


def save_step(variables, model_dir, role, step):
  """Saves {name: variable} as model.ckpt-STEP; every worker takes part
  (each reads the variables), only the chief's is kept and indexed, once
  it is verified whole (`checkpoint_files.check_whole`): a write cut short
  by a full disk or a dying file server is never the latest.

  Raises:
    ValueError: one line naming the file, why, and the latest intact
      checkpoint; the files of this one are removed.
  """
  folder = distribute.write_dir(model_dir, role)
  try:
    prefix = os.path.join(folder, '%s-%d' % (model_dir_lib.CHECKPOINT_NAME,
                                             step))
    try:
      checkpoint_files.save_by_name(variables, prefix)
      if role.is_chief:
        checkpoint_files.check_whole(prefix)
    except (tf.errors.OpError, OSError,
            checkpoint_files.DamagedCheckpointError) as error:
      if role.is_chief:
        model_dir_lib.remove_leftovers(model_dir)   # this one's files
      raise ValueError(write_failure(prefix, model_dir, error)) from None
    if role.is_chief:
      model_dir_lib.add_checkpoint(model_dir, prefix)
  finally:
    distribute.remove_write_dir(folder, role)


def save_best(variables, model_dir, role):
  """Writes best/ whole (chief): into a temporary folder renamed over it.
  Every worker reads the variables."""
  if not role.is_chief:
    folder = distribute.write_dir(model_dir, role)
    checkpoint_files.save_by_name(variables, os.path.join(folder, 'best'))
    distribute.remove_write_dir(folder, role)
    return
  temp = files.temporary_folder(model_dir, '.best_')
  try:
    prefix = os.path.join(temp, model_dir_lib.CHECKPOINT_NAME)
    try:
      checkpoint_files.save_by_name(variables, prefix)
      checkpoint_files.check_whole(prefix)
    except (tf.errors.OpError, OSError,
            checkpoint_files.DamagedCheckpointError) as error:
      raise ValueError(write_failure(
          os.path.join(model_dir, model_dir_lib.BEST_DIR) +
          ' (the previous best/ is intact)', model_dir, error)) from None
    for name in os.listdir(temp):
      files.fsync_path(os.path.join(temp, name))
    best = os.path.join(model_dir, model_dir_lib.BEST_DIR)
    if os.path.exists(best):
      old = best + '.old'
      os.replace(best, old)
      os.replace(temp, best)
      shutil.rmtree(old)
    else:
      os.replace(temp, best)
  except BaseException:
    shutil.rmtree(temp, ignore_errors=True)
    raise


def new_history(config_dict, replicas, workers):
  """The history.json of a run that starts now."""
  return {'config': config_dict, 'steps': [], 'epochs': [],
          'skipped_files': [], 'replicas': replicas, 'workers': workers}


def resumed_history(model_dir, step, fresh):
  """history.json cut back to `step` (what the checkpoint resumed holds),
  or `fresh` if the model dir has none."""
  path = os.path.join(model_dir, model_dir_lib.HISTORY_NAME)
  if not os.path.exists(path):
    return fresh
  with open(path) as handle:
    history = json.load(handle)
  history['steps'] = [s for s in history['steps'] if s[0] <= step]
  history['epochs'] = [e for e in history['epochs'] if e['step'] <= step]
  return history


def epoch_line(record, epochs):
  """The log line of a finished epoch: its speed by the wall clock (start
  to checkpoint, validation and start-up included) and in the steps."""
  return ('epoch %d/%d: loss %.4f, train error %.4f%s, %.1f images/s '
          '(%.0f s wall; steps %.1f images/s)' % (
              record['epoch'], epochs, record['train_loss'] or 0,
              record['train_error'] or 0,
              ', val accuracy %.4f' % record['val_accuracy']
              if 'val_accuracy' in record else '',
              record['wall_images_per_second'], record['wall_seconds'],
              record['images_per_second']))


def whole_latest(model_dir, role, log):
  """The newest checkpoint of model_dir that reads whole; damaged newer
  ones are named and (by the chief) set aside in MODEL_DIR/damaged/, never
  deleted.

  Raises:
    ValueError: if every checkpoint is damaged.
  """
  names = model_dir_lib.checkpoint_names(model_dir)
  for name in reversed(names):
    prefix = os.path.join(model_dir, name)
    try:
      checkpoint_files.check_whole(prefix)
      return prefix
    except checkpoint_files.DamagedCheckpointError as error:
      where = (model_dir_lib.set_aside(model_dir, name)
               if role.is_chief else 'place')
      log('skipped %s (%s): kept aside in %s' % (name, error, where))
  if names:
    raise ValueError('Every checkpoint in %s is damaged (kept aside in '
                     '%s/); copy whole ones back, or start anew in another '
                     '`model_dir`.' % (model_dir, model_dir_lib.DAMAGED_DIR))
  return None
