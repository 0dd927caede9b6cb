"""Restoring checkpoints: all or nothing, every problem named at once."""

import re

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2 import checkpoints
from nets_for_tests import randomize, tiny_net, write_checkpoint

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


@pytest.fixture
def saved(tmp_path, rng):
  path = tmp_path / 'tiny.ckpt'
  values = write_checkpoint(path, tiny_net, rng)
  return path, values


def build_and_restore(path, rng, images, **restore_kwargs):
  graph = tf.Graph()
  with graph.as_default():
    net_kwargs = restore_kwargs.pop('net_kwargs', {})
    logits, _ = tiny_net(tf.constant(images), **net_kwargs)
    session = tf.compat.v1.Session(graph=graph)
    session.run(tf.compat.v1.global_variables_initializer())
    before = randomize(session, rng)
  plan = checkpoints.restore(session, str(path), **restore_kwargs)
  return session, logits, before, plan


def current(session):
  with session.graph.as_default():
    return {v.op.name: session.run(v) for v in tf.compat.v1.global_variables()}


def test_restore_gives_the_saved_net(saved, rng):
  path, values = saved
  images = rng.normal(size=(2, 32, 32, 3)).astype(np.float32)
  session, logits, _, plan = build_and_restore(path, rng, images)
  assert len(plan.assignments) == len(values)
  for name, value in current(session).items():
    np.testing.assert_array_equal(value, values[name])
  # The same net restored twice computes the same logits.
  other, other_logits, _, _ = build_and_restore(path, rng, images)
  np.testing.assert_array_equal(session.run(logits), other.run(other_logits))


def test_scope_map_restores_a_renamed_net(saved, rng):
  path, values = saved
  session, _, _, _ = build_and_restore(
      path, rng, np.zeros((1, 32, 32, 3), np.float32),
      net_kwargs={'scope': 'backbone'}, scope_map={'backbone': 'tiny'})
  restored = current(session)
  assert restored['backbone/conv1/weights'].tolist() == (
      values['tiny/conv1/weights'].tolist())


def test_new_head_needs_exclude(saved, rng):
  path, values = saved
  images = np.zeros((1, 32, 32, 3), np.float32)
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match=r'(?s)tiny/logits/weights: net \[1, 1, 16, 7\], '
                     r'checkpoint \[1, 1, 16, 5\].*exclude the logits'):
    build_and_restore(path, rng, images, net_kwargs={'num_classes': 7})
  session, _, before, plan = build_and_restore(
      path, rng, images, net_kwargs={'num_classes': 7},
      exclude=['*/logits/*'])
  restored = current(session)
  assert plan.excluded == ['tiny/logits/biases', 'tiny/logits/weights']
  np.testing.assert_array_equal(restored['tiny/logits/weights'],
                                before['tiny/logits/weights'])
  np.testing.assert_array_equal(restored['tiny/postnorm/gamma'],
                                values['tiny/postnorm/gamma'])


def test_1001_against_1000_classes_is_explained(tmp_path, rng):
  path = tmp_path / 'with_background.ckpt'
  write_checkpoint(path, lambda x: tiny_net(x, num_classes=1001), rng)
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match='1001 classes and the net 1000.*background'):
    build_and_restore(path, rng, np.zeros((1, 32, 32, 3), np.float32),
                      net_kwargs={'num_classes': 1000})


def test_every_problem_is_listed_and_nothing_restored(tmp_path, rng):
  path = tmp_path / 'odd.ckpt'

  def odd_checkpoint():
    # Slim names, but: no conv1 biases, an extra unit, a wider postnorm.
    for name, shape in [('tiny/conv1/weights', [7, 7, 3, 64]),
                        ('tiny/block2/unit_2/bottleneck_v2/conv1/weights',
                         [1, 1, 16, 4]),
                        ('tiny/postnorm/beta', [32])]:
      tf.compat.v1.get_variable(name, shape)
    tf.compat.v1.get_variable('global_step', [], tf.int64)
    tf.compat.v1.get_variable('tiny/conv1/weights/Momentum', [7, 7, 3, 64])

  write_checkpoint(path, lambda x: None, rng, extra=odd_checkpoint)
  with pytest.raises(checkpoints.CheckpointMismatchError) as error:
    build_and_restore(path, rng, np.zeros((1, 32, 32, 3), np.float32))
  message = str(error.value)
  assert 'nothing was restored' in message
  # Every kind of problem counted, with examples; at most ten lines.
  assert re.search(r'\d+ model variables are not in the checkpoint, e\.g\. '
                   r'tiny/', message)                                # missing
  assert ('1 checkpoint variables have no variable in the net, e.g. '
          'tiny/block2/unit_2/bottleneck_v2/conv1/weights') in message  # extra
  assert 'tiny/postnorm/beta: net [16], checkpoint [32]' in message
  assert 'global_step' not in message and 'Momentum' not in message
  assert len(message.splitlines()) <= 10


def test_another_depth_is_named_in_a_few_lines(tmp_path):
  """A resnet_v2_101 checkpoint for a resnet_v2_50 net: says which net each
  is, in at most ten lines (not one line per variable)."""
  import resnet_v2  # pylint: disable=g-import-not-at-top
  path = tmp_path / 'deeper.ckpt'
  with tf.Graph().as_default():
    resnet_v2.resnet_v2_101(tf.zeros([1, 64, 64, 3]), num_classes=1001,
                            scope='resnet_v2_50')
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      tf.compat.v1.train.Saver().save(session, str(path))
  with tf.Graph().as_default():
    resnet_v2.resnet_v2_50(tf.zeros([1, 64, 64, 3]), num_classes=1001)
    with tf.compat.v1.Session() as session:
      with pytest.raises(checkpoints.CheckpointMismatchError) as error:
        checkpoints.restore(session, str(path))
  message = str(error.value)
  assert ('holds resnet_v2_50 (blocks of 3, 4, 23, 3 units, 1001 classes); '
          'the net is resnet_v2_50 (blocks of 3, 4, 6, 3 units, 1001 '
          'classes)') in message
  assert 'checkpoint variables have no variable in the net' in message
  assert len(message.splitlines()) <= 10


def test_truncated_checkpoint_changes_nothing(saved, rng):
  path, _ = saved
  (data,) = path.parent.glob('tiny.ckpt.data-*')
  data.write_bytes(data.read_bytes()[:len(data.read_bytes()) // 2])
  graph = tf.Graph()
  with graph.as_default():
    tiny_net(tf.zeros([1, 32, 32, 3]))
    session = tf.compat.v1.Session(graph=graph)
    session.run(tf.compat.v1.global_variables_initializer())
    before = randomize(session, rng)
  with pytest.raises(checkpoint_files.DamagedCheckpointError,
                     match='is damaged: tiny.ckpt.data-00000-of-00001 cut '
                     'short'):
    checkpoints.restore(session, str(path))
  for name, value in current(session).items():
    np.testing.assert_array_equal(value, before[name])


def test_unreadable_paths_are_named(tmp_path):
  with pytest.raises(ValueError, match='Cannot read checkpoint .*nowhere'):
    checkpoint_files.read_checkpoint_shapes(str(tmp_path / 'nowhere.ckpt'))
  with pytest.raises(ValueError, match='No checkpoint in directory'):
    checkpoint_files.read_checkpoint_shapes(str(tmp_path))
  (tmp_path / 'junk.ckpt.index').write_bytes(b'not an index')
  with pytest.raises(ValueError, match='Cannot read checkpoint'):
    checkpoint_files.read_checkpoint_shapes(str(tmp_path / 'junk.ckpt'))


def test_a_directory_resolves_to_its_latest_checkpoint(saved):
  path, values = saved
  shapes, resolved = checkpoint_files.read_checkpoint_shapes(str(path.parent))
  assert resolved == str(path)
  assert set(shapes) == set(values)
