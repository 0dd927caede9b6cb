"""The project's errors: optional packages required one way, each missing
one named with its pip command in one line of the command line."""

import json
import sys

import pytest

from resnet_v2 import cli
from resnet_v2 import errors


@pytest.mark.quick
def test_require_returns_the_module_or_names_the_pip_command(monkeypatch):
  assert errors.require('json', 'search', 'x needs') is json
  monkeypatch.setitem(sys.modules, 'faiss', None)
  with pytest.raises(errors.MissingDependencyError) as error:
    errors.require('faiss', 'search', 'the index needs')
  assert str(error.value) == (
      "the index needs the optional package faiss, which is not installed: "
      "pip install 'resnet_v2[search]'")
  assert isinstance(error.value, ImportError)


@pytest.mark.quick
def test_a_missing_optional_package_is_one_line_and_other_imports_are_bugs():
  missing = errors.MissingDependencyError('x needs y: pip install z')
  assert cli._error_line(missing) == 'x needs y: pip install z'  # pylint: disable=protected-access
  assert cli._error_line(ImportError('No module named q')) is None  # pylint: disable=protected-access


@pytest.mark.quick
def test_the_index_command_names_faiss_when_it_is_missing(
    monkeypatch, tmp_path, capsys):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from features_for_tests import write_folder  # pylint: disable=g-import-not-at-top
  folder = tmp_path / 'features'
  write_folder(folder, [np.ones((4, 8), np.float32)])
  monkeypatch.setitem(sys.modules, 'faiss', None)
  assert cli.main(['index', str(folder)]) == 1
  assert capsys.readouterr().err.strip().splitlines() == [
      "resnet-v2 index: error: the index needs the optional package faiss, "
      "which is not installed: pip install 'resnet_v2[search]'"]
  assert not (folder / 'index').exists()


class _OpError:
  """What op_error_reason reads of TensorFlow's OpError: its message."""

  def __init__(self, message):
    self.message = message


@pytest.mark.quick
def test_op_text_is_removed_and_the_reason_kept():
  assert errors.without_op_text(
      '{{function_node __wrapped__X}} label 7 is outside 0..4 [Op:Assert] '
      'name: check') == 'label 7 is outside 0..4'
  error = _OpError('Graph execution error:\n\nDetected at node x\n'
                   'indices[0] = 9 is not in [0, 4)\n\t [[{{node Gather}}]]')
  assert errors.op_error_reason(error) == 'indices[0] = 9 is not in [0, 4)'


@pytest.mark.quick
def test_a_decoder_failure_is_said_in_the_users_words():
  error = _OpError('{{function_node __wrapped__DecodeJpeg}} Invalid JPEG '
                   'data or crop window [Op:DecodeJpeg]')
  assert errors.op_error_reason(error) == (
      'a truncated or corrupt JPEG (Invalid JPEG data or crop window)')
  assert errors.op_error_reason(_OpError('')) == 'unknown error'
