"""Locks between processes.

`Lock`: one writer per model dir (a `.lock` file naming its holder), which
refuses a second writer. `waiting(path)`: an flock beside a shared file
(the weights cache) that makes other processes wait their turn.

The `Lock` file is created with O_EXCL and holds the host, pid and process
start time; a dead holder on this host (or a pid reused by another process) is
taken over by an atomic rename; a live holder, or one on another host, is
refused by name, with how to remove a lock whose holder is gone.
"""

import contextlib
import fcntl
import json
import os
import socket
import time


LOCK_NAME = '.lock'


def _process_start(pid):
  """A process's start time in clock ticks since boot (Linux), else None:
  with the pid it tells a live holder from a new process that reuses a
  dead one's pid."""
  try:
    with open('/proc/%d/stat' % pid, 'rb') as handle:
      return int(handle.read().rsplit(b')', 1)[1].split()[19])
  except (OSError, ValueError, IndexError):
    return None


def _alive(holder):
  """Whether the lock's holder (on this host) still runs."""
  try:
    os.kill(int(holder['pid']), 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    pass
  start = holder.get('start')
  return start is None or _process_start(int(holder['pid'])) in (None,
                                                                  start)


class LockError(ValueError):
  """Another process holds the model dir."""


class Lock:
  """An exclusive lock on a model dir, held by the process that writes it.

  A file `LOCK_NAME` created exclusively, holding the holder's host, pid
  and start time. A lock whose holder on this host is gone is taken over;
  a live holder, or one on another host (whose life cannot be checked
  from here), is refused with its name.

  Use as a context manager, or acquire() and release().
  """

  def __init__(self, model_dir):
    self.path = os.path.join(model_dir, LOCK_NAME)
    self.me = {'host': socket.gethostname(), 'pid': os.getpid(),
               'start': _process_start(os.getpid()),
               'since': time.strftime('%Y-%m-%d %H:%M:%S')}
    self.held = False

  def _read(self):
    try:
      with open(self.path) as handle:
        return json.load(handle)
    except FileNotFoundError:
      return {}
    except (OSError, ValueError):
      return None

  def acquire(self):
    """Takes the lock.

    Raises:
      LockError: if another live process holds it, naming it.
    """
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    for _ in range(3):
      try:
        handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                         0o666)
      except FileExistsError:
        holder = self._read()
        if holder == {}:
          continue   # released meanwhile
        if holder is None:
          # Being written by its holder this instant, or left half-written.
          if time.time() - os.path.getmtime(self.path) < 10:
            raise LockError('%s is being locked by another process; try '
                            'again.' % self.path)
        elif holder.get('host') != self.me['host'] or _alive(holder):
          raise LockError(
              '%s is in use: pid %s on host %s has written it since %s. '
              'Wait for that run to end (or stop it); if it is gone, '
              'remove %s.' % (os.path.dirname(self.path), holder.get('pid'),
                              holder.get('host'), holder.get('since'),
                              self.path))
        # A dead holder's lock: move it aside (one taker wins), then retry.
        try:
          os.replace(self.path, '%s.stale.%d' % (self.path, os.getpid()))
          os.unlink('%s.stale.%d' % (self.path, os.getpid()))
        except FileNotFoundError:
          pass
        continue
      with os.fdopen(handle, 'w') as out:
        json.dump(self.me, out)
        out.flush()
        os.fsync(out.fileno())
      self.held = True
      return self
    raise LockError('Could not lock %s; try again.' % self.path)

  def release(self):
    """Removes the lock if this process still holds it."""
    if self.held and self._read() == self.me:
      os.unlink(self.path)
    self.held = False

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *unused):
    self.release()


@contextlib.contextmanager
def waiting(path):
  """Holds an exclusive flock on `path.lock` (made with its folder); other
  processes asking for it wait until it is released, or its holder dies."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path + '.lock', 'a') as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(handle, fcntl.LOCK_UN)
