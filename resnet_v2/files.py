"""Writing files whole or not at all."""

import contextlib
import json
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_write(path, mode='wb'):
  """Yields a file object whose contents replace `path` only on success.

  The data goes to a temporary file beside `path`, renamed over it when the
  block ends without an exception (an interrupt included), so readers see
  the old file or the new one, never half of one. The new file gets the
  permissions an ordinary `open` would give it.

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
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)
    os.replace(temp, path)
  except BaseException:
    if os.path.exists(temp):
      os.unlink(temp)
    raise


def write_json(path, data, indent=None):
  """Writes data as JSON to path, whole or not at all."""
  with atomic_write(path, 'w') as out:
    json.dump(data, out, indent=indent)


def write_folder(path, write, prefix='.tmp_'):
  """Calls write(temporary folder) beside path, then renames the folder over
  path: readers see the old folder or the whole new one, and a failure
  (an interrupt included) leaves no trace.

  Args:
    path: The folder to write (replaced if it exists).
    write: Function of one argument, the folder to fill.
    prefix: Name prefix of the temporary folder.
  """
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  temp = tempfile.mkdtemp(dir=parent, prefix=prefix)
  try:
    write(temp)
    if os.path.exists(path):
      shutil.rmtree(path)
    os.replace(temp, path)
  except BaseException:
    shutil.rmtree(temp, ignore_errors=True)
    raise
