"""One writer per model dir: a live holder is refused by name, a dead or
reused one is taken over, another host's is left alone."""

import json
import os
import subprocess
import sys

import pytest

from resnet_v2 import lock as lock_lib

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
  holder = subprocess.Popen([sys.executable, '-c', 'import time; '
                             'time.sleep(60)'])
  try:
    lock = lock_lib.Lock(str(tmp_path))
    lock.me = dict(lock.me, pid=holder.pid,
                   start=lock_lib._process_start(holder.pid))
    lock.acquire()                                  # as if held by `holder`
    with pytest.raises(lock_lib.LockError, match=r'in use: pid %d on host '
                       % holder.pid):
      lock_lib.Lock(str(tmp_path)).acquire()
  finally:
    holder.kill()
    holder.wait()
  # The holder is gone: its lock is taken over.
  with lock_lib.Lock(str(tmp_path)) as mine:
    with open(mine.path) as handle:
      assert json.load(handle)['pid'] == os.getpid()
  assert not os.path.exists(mine.path)


def test_a_lock_of_another_host_is_not_taken_over(tmp_path):
  (tmp_path / lock_lib.LOCK_NAME).write_text(json.dumps(
      {'host': 'pod-7f9c', 'pid': 1, 'since': '2026-12-01 10:00:00'}))
  with pytest.raises(lock_lib.LockError, match='pid 1 on host pod-7f9c.*'
                     r'if it is gone, remove'):
    lock_lib.Lock(str(tmp_path)).acquire()


def test_a_pid_reused_by_another_process_is_a_stale_lock(tmp_path):
  lock = lock_lib.Lock(str(tmp_path))
  stale = dict(lock.me, start=(lock.me['start'] or 0) + 12345)
  (tmp_path / lock_lib.LOCK_NAME).write_text(json.dumps(stale))
  with lock_lib.Lock(str(tmp_path)):
    pass
