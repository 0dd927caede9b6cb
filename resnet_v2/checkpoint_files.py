"""Checkpoint files: the one place they are read and written.

TF-Slim checkpoints in TensorFlow's formats (V2: `.index` + `.data-*`; V1:
one file), read by exact file name (never as a glob), and written by
variable name (`save_by_name`), as the published TF-Slim checkpoints are.
`checkpoints` restores them into nets.
"""

import contextlib
import glob
import os
import re
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from resnet_v2 import errors
from resnet_v2 import model_dir as model_dir_lib


class CheckpointMismatchError(ValueError):
  """The checkpoint and the net disagree; the message lists every problem."""


class DamagedCheckpointError(ValueError):
  """A checkpoint that cannot be read whole; one line names the file, what
  is wrong and what to do."""


_DATA_FILE = re.compile(r'\.data-(\d+)-of-(\d+)$')
_ADVICE = ('copy it again from where it came from, or use an earlier '
           'checkpoint')


def _damaged(prefix, what):
  return DamagedCheckpointError('Checkpoint %s is damaged: %s; %s.' % (
      prefix, what, _ADVICE))


def check_whole(prefix):
  """Raises DamagedCheckpointError unless a checkpoint can be read whole:
  its index opens, every data shard it names is there, and together they
  are as long as the index says (TensorFlow's V2 format; a V1 single-file
  checkpoint must open). Reads the index and file sizes, not the tensors.
  """
  if not os.path.exists(prefix + '.index'):
    if os.path.isfile(prefix):   # V1: one file
      try:
        with readable(prefix) as readable_path:
          tf.train.load_checkpoint(readable_path)
      except (tf.errors.OpError, ValueError, IndexError) as error:
        raise _damaged(prefix, 'it does not open (%s)' % first_line(error)
                       ) from None
      return
    raise DamagedCheckpointError(
        'Checkpoint %s is missing: no %s.index (give the prefix, without '
        '.index or .data-*).' % (prefix, os.path.basename(prefix)))
  try:
    with readable(prefix) as readable_path:
      reader = tf.train.load_checkpoint(readable_path)
      shapes = reader.get_variable_to_shape_map()
      dtypes = reader.get_variable_to_dtype_map()
  except (tf.errors.OpError, ValueError, IndexError) as error:
    raise _damaged(prefix, '%s.index is unreadable (%s)' % (
        os.path.basename(prefix), first_line(error))) from None
  folder, base = os.path.split(os.path.abspath(prefix))
  shards = {}
  for name in os.listdir(folder):
    match = _DATA_FILE.search(name)
    if name.startswith(base + '.data-') and match:
      shards[int(match.group(1))] = (name, int(match.group(2)))
  count = max([of for _, of in shards.values()] or [1])
  missing = ['%s.data-%05d-of-%05d' % (base, i, count) for i in range(count)
             if i not in shards]
  if missing:
    raise _damaged(prefix, 'its data file %s is missing' % missing[0])
  if any(dtypes[name] == tf.string for name in dtypes):
    return   # strings have no fixed size to check
  expected = sum(int(np.prod(shapes[name])) * dtypes[name].size
                 for name in shapes)
  held = sum(os.path.getsize(os.path.join(folder, name))
             for name, _ in shards.values())
  if held < expected:
    raise _damaged(prefix, '%s cut short: %d of the %d bytes its index '
                   'names (an interrupted copy or a full disk?)' % (
                       ' + '.join(sorted(n for n, _ in shards.values())),
                       held, expected))


def first_line(error):
  text = error.message if hasattr(error, 'message') else str(error)
  return errors.without_op_text(text.strip().splitlines()[0] if text.strip()
                                 else type(error).__name__)


def read_tensors(prefix, keys):
  """{key: numpy value} of a checkpoint, read whole (the one place tensors
  are read from checkpoint files).

  Raises:
    DamagedCheckpointError: naming the file and what is wrong.
  """
  check_whole(prefix)
  try:
    with readable(prefix) as readable_path:
      reader = tf.train.load_checkpoint(readable_path)
      return {key: reader.get_tensor(key) for key in keys}
  except (tf.errors.OpError, ValueError, IndexError, OSError) as error:
    raise _damaged(prefix, 'reading it failed (%s)' % first_line(error)
                   ) from None


@contextlib.contextmanager
def readable(prefix):
  """Yields a prefix TensorFlow can read the checkpoint `prefix` by.

  TensorFlow's checkpoint readers match the prefix as a glob pattern, so a
  checkpoint under a folder named e.g. 'runs/lr[1]' cannot be read (or, for
  'runs/lr*', another folder's would be). Such a prefix is read through
  links, under a plain name in a temporary folder, to exactly its files.
  """
  if not glob.has_magic(prefix):
    yield prefix
    return
  folder, base = os.path.split(os.path.abspath(prefix))
  alias = tempfile.mkdtemp(prefix='resnet_v2_checkpoint_')
  try:
    for name in os.listdir(folder):
      if name == base + '.index' or name.startswith(base + '.data-'):
        os.symlink(os.path.join(folder, name), os.path.join(
            alias, 'checkpoint' + name[len(base):]))
    yield os.path.join(alias, 'checkpoint')
  finally:
    shutil.rmtree(alias, ignore_errors=True)


def read_checkpoint_shapes(checkpoint_path):
  """Returns {key: shape} of a checkpoint.

  Args:
    checkpoint_path: A checkpoint prefix (e.g. 'model.ckpt') or a directory
      holding a 'checkpoint' file.

  Raises:
    ValueError: if nothing readable is there, naming the path.
  """
  path = checkpoint_path
  if tf.io.gfile.isdir(path):
    path = model_dir_lib.latest_checkpoint(path)
    if path is None:
      raise ValueError('No checkpoint in directory %s (no "checkpoint" '
                       'file); pass the checkpoint prefix, e.g. '
                       'model.ckpt.' % checkpoint_path)
  try:
    with readable(path) as readable_path:
      reader = tf.train.load_checkpoint(readable_path)
      return dict(reader.get_variable_to_shape_map()), path
  except (tf.errors.OpError, ValueError, IndexError) as error:
    raise ValueError('Cannot read checkpoint %s: %s. Check the path (give '
                     'the prefix, without .index or .data-*) and that the '
                     'files are complete.' %
                     (checkpoint_path, first_line(error))) from None


def logits_classes(checkpoint_path, scope):
  """Number of classes of a checkpoint's `scope/logits`, or None without.

  Raises:
    ValueError: if the checkpoint cannot be read (see
      `read_checkpoint_shapes`).
  """
  shapes, _ = read_checkpoint_shapes(checkpoint_path)
  biases = shapes.get(scope + '/logits/biases')
  return biases[0] if biases else None


def save_by_name(variables, prefix):
  """Writes {name: variable or tensor} as a checkpoint keyed by those names.

  The format is TensorFlow's (V2), so TF-Slim code, `restore` and
  `tf.train.load_checkpoint` read it; the keys are the given names (TF-Slim
  names for the nets), not object paths. TensorFlow writes the files under
  temporary names and renames them when complete. Values are read in
  sorted-name order, so every worker of a multi-worker job reads its
  on-read synchronized variables in the same order.

  Args:
    variables: dict {name: variable or tensor}.
    prefix: Path prefix of the checkpoint files.

  Returns:
    prefix.
  """
  names = sorted(variables)
  tensors = [tf.convert_to_tensor(variables[name]) for name in names]
  with tf.device('/cpu:0'):
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names,
                      shape_and_slices=[''] * len(names), tensors=tensors)
  return prefix


def read_by_name(checkpoint_path, variables):
  """Reads {name: variable} from a checkpoint written by `save_by_name`,
  all or nothing.

  Raises:
    CheckpointMismatchError: naming every missing or mis-shaped key.
  """
  with readable(checkpoint_path) as readable_path:
    shapes = tf.train.load_checkpoint(
        readable_path).get_variable_to_shape_map()
  problems = ['%s: missing' % name for name in variables
              if name not in shapes]
  problems += ['%s: checkpoint %s, variable %s' % (
      name, shapes[name], variables[name].shape.as_list())
               for name in variables if name in shapes and
               list(shapes[name]) != variables[name].shape.as_list()]
  if problems:
    raise CheckpointMismatchError(
        '%s does not fit this run (%d problem(s)): %s' % (
            checkpoint_path, len(problems), '; '.join(problems[:10])))
  values = read_tensors(checkpoint_path, list(variables))
  for name, variable in variables.items():
    variable.assign(values[name])
