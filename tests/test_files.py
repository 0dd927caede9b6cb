"""atomic_write and write_folder: the old file (folder) or the new one, never
half of one."""

import os
import pathlib
import stat

import pytest

from resnet_v2 import files

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


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


def _fill(text):
  def write(folder):
    (pathlib.Path(folder) / 'a.txt').write_text(text)
  return write


def test_a_folder_the_user_had_is_never_replaced_without_overwrite(tmp_path):
  mine = tmp_path / 'mine'
  mine.mkdir()
  (mine / 'thesis.tex').write_text('years of work')
  with pytest.raises(files.OutputError, match='was not written by resnet_v2.*'
                     '`overwrite`'):
    files.write_folder(str(mine), _fill('export'))
  assert (mine / 'thesis.tex').read_text() == 'years of work'
  assert sorted(p.name for p in tmp_path.iterdir()) == ['mine']
  # A file is not replaced by a folder either.
  (tmp_path / 'notes.txt').write_text('keep')
  with pytest.raises(files.OutputError):
    files.write_folder(str(tmp_path / 'notes.txt'), _fill('export'))
  assert (tmp_path / 'notes.txt').read_text() == 'keep'
  # With overwrite it is replaced whole.
  files.write_folder(str(mine), _fill('export'), overwrite=True)
  assert sorted(p.name for p in mine.iterdir()) == [files.OWNER_MARK,
                                                    'a.txt']


def test_our_own_folder_and_an_empty_one_are_replaced(tmp_path):
  (tmp_path / 'empty').mkdir()
  files.write_folder(str(tmp_path / 'empty'), _fill('one'))
  files.write_folder(str(tmp_path / 'empty'), _fill('two'))
  assert (tmp_path / 'empty' / 'a.txt').read_text() == 'two'


@pytest.mark.parametrize('output', ['.', 'model', 'model/export', '..'])
def test_an_input_is_never_the_output_nor_inside_it(tmp_path, output,
                                                    monkeypatch):
  model = tmp_path / 'work' / 'model'
  model.mkdir(parents=True)
  (model / 'model.ckpt-1.index').write_text('weights')
  monkeypatch.chdir(tmp_path / 'work')
  with pytest.raises(files.OutputError, match='input'):
    files.write_folder(output, _fill('x'), overwrite=True, inputs=['model'])
  assert (model / 'model.ckpt-1.index').read_text() == 'weights'


def test_destination_problems_are_found_before_any_work(tmp_path):
  (tmp_path / 'a_file').write_text('x')
  with pytest.raises(files.OutputError, match='a_file is a file'):
    files.check_output(str(tmp_path / 'a_file' / 'out'))
  files.check_output(str(tmp_path / 'new' / 'deeper' / 'out'))  # fine


def test_the_folder_gets_the_users_umask_not_0700(tmp_path):
  old_umask = os.umask(0o022)
  try:
    files.write_folder(str(tmp_path / 'out'), _fill('x'))
  finally:
    os.umask(old_umask)
  assert stat.S_IMODE((tmp_path / 'out').stat().st_mode) == 0o755


def test_the_swap_keeps_the_old_folder_if_the_rename_fails(tmp_path,
                                                           monkeypatch):
  target = tmp_path / 'out'
  files.write_folder(str(target), _fill('old'))
  real_replace = os.replace

  def failing_rename_into_place(src, dst):
    if dst == str(target) and not str(src).endswith('old'):
      raise OSError('disk gone')
    return real_replace(src, dst)
  monkeypatch.setattr(os, 'replace', failing_rename_into_place)
  with pytest.raises(OSError, match='disk gone'):
    files.write_folder(str(target), _fill('new'))
  monkeypatch.undo()
  assert (target / 'a.txt').read_text() == 'old'
  assert [p.name for p in tmp_path.iterdir()] == ['out']
