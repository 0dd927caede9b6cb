"""tf-slim's own resnet_v2 test file, run against this project.

The file ships inside the tf-slim wheel. Its imports of tf_slim's
`resnet_utils`, `resnet_v2` and `layers` are rewritten to this package at run
time (nothing of tf-slim's is copied into the repository) and its test
classes are collected here, each test running in graph mode as the file
expects, without turning eager execution off for the rest of the suite.
"""

import importlib.util
import pathlib
import types

import tensorflow as tf
from tensorflow.python.framework import test_util  # pylint: disable=g-direct-tensorflow-import

IMPORT_REWRITES = {
    'from tf_slim import layers\n': 'import resnet_v2 as layers\n',
    'from tf_slim.nets import resnet_utils\n':
        'import resnet_v2 as resnet_utils\n',
    'from tf_slim.nets import resnet_v2\n': 'import resnet_v2\n',
}


def tf_slim_test_source():
  """Returns the text of tf_slim/nets/resnet_v2_test.py with imports rewritten.

  Raises:
    AssertionError: if an import to rewrite is missing, so that a changed
      tf-slim file cannot silently test tf-slim instead of this project.
  """
  spec = importlib.util.find_spec('tf_slim')
  path = pathlib.Path(spec.origin).parent / 'nets' / 'resnet_v2_test.py'
  source = path.read_text()
  for original, replacement in IMPORT_REWRITES.items():
    assert source.count(original) == 1, 'not found in %s: %r' % (path,
                                                                  original)
    source = source.replace(original, replacement)
  return path, source


def _load_tf_slim_tests():
  path, source = tf_slim_test_source()
  module = types.ModuleType('tf_slim_resnet_v2_test_on_project')
  module.__file__ = str(path)
  exec(compile(source, str(path), 'exec'), module.__dict__)  # pylint: disable=exec-used
  return module


_TF_SLIM_TESTS = _load_tf_slim_tests()

# Graph mode per test, not tf.disable_eager_execution() for the whole run.
ResnetUtilsTest = test_util.deprecated_graph_mode_only(
    _TF_SLIM_TESTS.ResnetUtilsTest)
ResnetCompleteNetworkTest = test_util.deprecated_graph_mode_only(
    _TF_SLIM_TESTS.ResnetCompleteNetworkTest)


def test_rewritten_file_uses_this_project():
  assert _TF_SLIM_TESTS.resnet_v2.__name__ == 'resnet_v2'
  assert _TF_SLIM_TESTS.resnet_utils.stack_blocks_dense.__module__ == (
      'resnet_v2.blocks')
  assert _TF_SLIM_TESTS.layers.batch_norm.__module__ == 'resnet_v2.layers'


def test_every_tf_slim_test_is_collected():
  # The tests tf-slim 1.1.0's file defines (TF's own `test_session` helper
  # is inherited, not defined there).
  names = [name for cls in (ResnetUtilsTest, ResnetCompleteNetworkTest)
           for name in vars(cls) if name.startswith('test')]
  assert len(names) == 15, names
  assert tf.executing_eagerly()
