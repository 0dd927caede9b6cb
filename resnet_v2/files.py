"""Writing files whole or not at all, and never over what the user had.

Every output of the project goes through here: a file (`atomic_write`) or
a folder (`write_folder`) is written beside its destination under a
temporary name and renamed into place only when complete, so a reader
sees the old one or the whole new one. `check_output` decides, before any
work starts, whether a destination may be written: a new path, an empty
folder, or something this project wrote earlier (a folder holding
`OWNER_MARK`, a file `is_ours` recognises) is replaced; anything else
only with `overwrite`; and never an input, a folder holding an input, or
a place inside one.
"""

import contextlib
import glob
import json
import os
import shutil
import tempfile

# Written into every folder that `write_folder` writes: what marks a folder
# as this project's, and so replaceable without --overwrite.
OWNER_MARK = '.resnet_v2'


class OutputError(ValueError):
  """A destination that must not be written; the message names the fix."""


def _umask():
  umask = os.umask(0)
  os.umask(umask)
  return umask


def fsync_path(path):
  """Flushes a file's (or a folder's entries') data to disk."""
  handle = os.open(path, os.O_RDONLY)
  try:
    os.fsync(handle)
  finally:
    os.close(handle)


@contextlib.contextmanager
def atomic_write(path, mode='wb'):
  """Yields a file object whose contents replace `path` only on success.

  The data goes to a temporary file beside `path`, flushed to disk and
  renamed over it when the block ends without an exception (an interrupt
  included), so readers see the old file or the new one, never half of
  one, even after a power loss. The new file gets the permissions an
  ordinary `open` would give it.

  Args:
    path: The file to write.
    mode: 'wb' or 'w'.
  """
  directory = os.path.dirname(os.path.abspath(path))
  handle, temp = tempfile.mkstemp(dir=directory, prefix='.tmp_',
                                  suffix=os.path.basename(path))
  try:
    with os.fdopen(handle, mode) as out:
      yield out
      out.flush()
      os.fsync(out.fileno())
    os.chmod(temp, 0o666 & ~_umask())
    os.replace(temp, path)
    fsync_path(directory)
  except BaseException:
    if os.path.exists(temp):
      os.unlink(temp)
    raise


def write_json(path, data, indent=None):
  """Writes data as JSON to path, whole or not at all."""
  with atomic_write(path, 'w') as out:
    json.dump(data, out, indent=indent)


def _inside(path, folder):
  """Whether real path `path` is `folder` or lies below it."""
  return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _real_inputs(path):
  """The real paths of an input; a glob pattern (TFRecords) stands for the
  files it matches."""
  if not os.path.lexists(path) and glob.has_magic(path):
    return [os.path.realpath(p) for p in glob.glob(path)]
  return [os.path.realpath(path)]


def check_not_input(path, inputs, holding=True):
  """Raises OutputError if writing `path` would touch an input: `path` is
  one of `inputs`, lies inside one, or (if `holding`: it would be replaced
  whole) holds one."""
  real = os.path.realpath(path)
  for item, source in [(i, s) for i in inputs if i
                       for s in _real_inputs(i)]:
    if _inside(real, source):
      raise OutputError(
          '%s is %s the input %s: writing it would change what you gave; '
          'choose an output outside it.' % (
              path, 'the same as' if real == source else 'inside', item))
    if holding and _inside(source, real):
      raise OutputError(
          '%s holds the input %s: replacing it would delete it; choose '
          'another output.' % (path, item))


def check_output(path, overwrite=False, inputs=(), is_ours=None,
                 flag='`overwrite`'):
  """Raises OutputError unless `path` may be written (and replaced).

  Args:
    path: The file or folder an operation will write.
    overwrite: The user asked to replace whatever is there.
    inputs: Paths the operation reads (model dir, data, checkpoint); the
      output may be none of them, hold none of them and lie in none of
      them, whatever `overwrite` says.
    is_ours: For a file output: function(path) -> whether an existing file
      is one this project wrote (then it is replaced without `overwrite`).
    flag: How the user says `overwrite`, for the message.

  Raises:
    OutputError: naming the problem and the fix; nothing was touched.
  """
  check_not_input(path, inputs)
  if not os.path.lexists(path):
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(parent):
      parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
      raise OutputError('Cannot write %s: %s is a file, not a folder.' %
                        (path, parent))
    if not os.access(parent, os.W_OK | os.X_OK):
      raise OutputError('Cannot write %s: no permission to write in %s.' %
                        (path, parent))
    return
  if overwrite:
    return
  if os.path.isdir(path) and not os.path.islink(path):
    if not os.listdir(path) or os.path.isfile(os.path.join(path,
                                                           OWNER_MARK)):
      return
  elif is_ours is not None and os.path.isfile(path) and is_ours(path):
    return
  raise OutputError('%s already exists and was not written by resnet_v2; '
                    'nothing was changed. Choose a new path, or pass %s to '
                    'replace it.' % (path, flag))


def temporary_folder(parent, prefix):
  """A new folder in parent (tempfile.mkdtemp) with the permissions an
  ordinary mkdir gives (mkdtemp's are 0700), for folders renamed into
  place."""
  folder = tempfile.mkdtemp(dir=parent, prefix=prefix)
  os.chmod(folder, 0o777 & ~_umask())
  return folder


def write_folder(path, write, prefix='.tmp_', overwrite=False, inputs=()):
  """Calls write(temporary folder) beside path, then swaps it in whole.

  The swap is two renames: the old `path` (if any) is moved aside, the new
  folder takes its name, and only then is the old one removed; a failure
  (an interrupt included) before that leaves the old one as it was and no
  trace of the new one. The folder gets the user's umask permissions and
  `OWNER_MARK`.

  Args:
    path: The folder to write.
    write: Function of one argument, the folder to fill.
    prefix: Name prefix of the temporary folder.
    overwrite, inputs: See `check_output` (checked again here; callers
      check before their work starts too).

  Raises:
    OutputError: if `path` may not be written (see `check_output`).
  """
  check_output(path, overwrite, inputs)
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  temp = temporary_folder(parent, prefix)
  try:
    write(temp)
    write_json(os.path.join(temp, OWNER_MARK),
               {'written_by': 'resnet_v2'})
    if os.path.lexists(path):
      aside = tempfile.mkdtemp(dir=parent, prefix='.old_')
      old = os.path.join(aside, 'old')
      os.replace(path, old)
      try:
        os.replace(temp, path)
      except BaseException:
        os.replace(old, path)
        os.rmdir(aside)
        raise
      shutil.rmtree(aside, ignore_errors=True)
    else:
      os.replace(temp, path)
    fsync_path(parent)
  except BaseException:
    shutil.rmtree(temp, ignore_errors=True)
    raise
