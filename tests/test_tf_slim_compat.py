"""tf-slim's own resnet_v2 and resnet_v1 test files, run against this
project.

The files ship inside the tf-slim wheel. Their imports of tf_slim's
`resnet_utils`, `resnet_v1`, `resnet_v2` and `layers` are rewritten to this
package at run time (nothing of tf-slim's is copied into the repository)
and their test classes are collected here, each test running in graph mode
as the files expect, without turning eager execution off for the rest of
the suite.
"""

import importlib.util
import pathlib
import types

import tensorflow as tf
from tensorflow.python.framework import test_util  # pylint: disable=g-direct-tensorflow-import

# tf-slim's import -> this project's, per test file: the v2 file with the
# package itself (the drop-in for tf_slim.nets.resnet_v2 and resnet_utils),
# the v1 file with the tf-slim-style facades of resnet_v2.compat.slim.
IMPORT_REWRITES = {
    'resnet_v2_test.py': {
        'from tf_slim import layers\n': 'import resnet_v2 as layers\n',
        'from tf_slim.nets import resnet_utils\n':
            'import resnet_v2 as resnet_utils\n',
        'from tf_slim.nets import resnet_v2\n': 'import resnet_v2\n',
    },
    'resnet_v1_test.py': {
        'from tf_slim import layers\n':
            'from resnet_v2.compat import slim as layers\n',
        'from tf_slim.nets import resnet_utils\n':
            'from resnet_v2.compat.slim.nets import resnet_utils\n',
        'from tf_slim.nets import resnet_v1\n':
            'from resnet_v2.compat.slim.nets import resnet_v1\n',
    },
}


def tf_slim_test_source(name):
  """Returns (path, text) of tf_slim/nets/<name> with imports rewritten.

  Raises:
    AssertionError: if an import to rewrite is missing, so that a changed
      tf-slim file cannot silently test tf-slim instead of this project.
  """
  spec = importlib.util.find_spec('tf_slim')
  path = pathlib.Path(spec.origin).parent / 'nets' / name
  source = path.read_text()
  for original, replacement in IMPORT_REWRITES[name].items():
    assert source.count(original) == 1, 'not found in %s: %r' % (path,
                                                                  original)
    source = source.replace(original, replacement)
  return path, source


def _load_tf_slim_tests(name):
  path, source = tf_slim_test_source(name)
  module = types.ModuleType('tf_slim_%s_on_project' % name[:-3])
  module.__file__ = str(path)
  exec(compile(source, str(path), 'exec'), module.__dict__)  # pylint: disable=exec-used
  return module


_V2 = _load_tf_slim_tests('resnet_v2_test.py')
_V1 = _load_tf_slim_tests('resnet_v1_test.py')

# Graph mode per test, not tf.disable_eager_execution() for the whole run.
ResnetUtilsTest = test_util.deprecated_graph_mode_only(_V2.ResnetUtilsTest)
ResnetCompleteNetworkTest = test_util.deprecated_graph_mode_only(
    _V2.ResnetCompleteNetworkTest)
ResnetV1UtilsTest = test_util.deprecated_graph_mode_only(_V1.ResnetUtilsTest)
ResnetV1CompleteNetworkTest = test_util.deprecated_graph_mode_only(
    _V1.ResnetCompleteNetworkTest)


def test_rewritten_files_use_this_project():
  assert _V2.resnet_v2.__name__ == 'resnet_v2'
  assert _V2.resnet_utils.stack_blocks_dense.__module__ == (
      'resnet_v2.nets.blocks')
  assert _V2.layers.batch_norm.__module__ == 'resnet_v2.nets.layers'
  assert _V1.resnet_v1.__name__ == 'resnet_v2.compat.slim.nets.resnet_v1'
  assert _V1.resnet_v1.resnet_v1.__module__ == 'resnet_v2.nets.resnet'
  assert _V1.resnet_utils.stack_blocks_dense.__module__ == (
      'resnet_v2.nets.blocks')
  assert _V1.layers.batch_norm.__module__ == 'resnet_v2.nets.layers'


def test_every_tf_slim_test_is_collected():
  # The tests tf-slim 1.1.0's files define (TF's own `test_session` helper
  # is inherited, not defined there).
  def count(*classes):
    return len([name for cls in classes for name in vars(cls)
                if name.startswith('test')])
  assert count(ResnetUtilsTest, ResnetCompleteNetworkTest) == 15
  assert count(ResnetV1UtilsTest, ResnetV1CompleteNetworkTest) == 15
  assert tf.executing_eagerly()
