"""atomic_write and write_folder: the old file (folder) or the new one, never
half of one."""

import os
import pathlib
import stat

import pytest

from resnet_v2 import files


def test_writes_with_ordinary_permissions(tmp_path):
  path = tmp_path / 'out.txt'
  old_umask = os.umask(0o022)
  try:
    with files.atomic_write(str(path), 'w') as out:
      out.write('new')
  finally:
    os.umask(old_umask)
  assert path.read_text() == 'new'
  assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_an_interrupt_keeps_the_old_file_and_no_temp(tmp_path):
  path = tmp_path / 'out.bin'
  path.write_bytes(b'old')
  with pytest.raises(KeyboardInterrupt):
    with files.atomic_write(str(path)) as out:
      out.write(b'half of the new')
      raise KeyboardInterrupt
  assert path.read_bytes() == b'old'
  assert [p.name for p in tmp_path.iterdir()] == ['out.bin']


def test_write_folder_replaces_whole_or_leaves_the_old_one(tmp_path):
  target = tmp_path / 'out'

  def fill(text):
    def write(folder):
      (pathlib.Path(folder) / 'a.txt').write_text(text)
      if text == 'boom':
        raise RuntimeError('interrupted')
    return write
  files.write_folder(str(target), fill('one'))
  assert (target / 'a.txt').read_text() == 'one'
  with pytest.raises(RuntimeError):
    files.write_folder(str(target), fill('boom'))
  assert (target / 'a.txt').read_text() == 'one'
  assert sorted(p.name for p in tmp_path.iterdir()) == ['out']
  files.write_folder(str(target), fill('two'))
  assert (target / 'a.txt').read_text() == 'two'
