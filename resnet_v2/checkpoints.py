"""Restoring TF-Slim checkpoints into built nets, all-or-nothing.

A restore is planned before anything is assigned: every model variable is
matched to a checkpoint key (after an optional scope rename), and every
missing, unexpected or shape-mismatched variable is reported by name in one
error. Only a plan without problems is applied, by one restore op (graph
mode) or by assignments after every tensor was read (eager mode), so a bad
or truncated checkpoint leaves the variables as they were.
"""

import collections
import fnmatch
import re

import tensorflow as tf

from resnet_v2 import checkpoint_files

# Keys a training run leaves beside the model variables; never expected.
TRAINING_STATE_PATTERNS = ('global_step', '*/Momentum', '*/Adam', '*/Adam_1',
                           '*/RMSProp', '*/RMSProp_1', '*/ExponentialMovingAverage',
                           'beta1_power', 'beta2_power')

# Raised where a checkpoint does not fit a net (`checkpoint_files`).
CheckpointMismatchError = checkpoint_files.CheckpointMismatchError

RestorePlan = collections.namedtuple(
    'RestorePlan', ['assignments', 'excluded', 'ignored_in_checkpoint'])
RestorePlan.__doc__ = """What a restore will do.

assignments: list of (variable, checkpoint key).
excluded: names of model variables left as they are (matched `exclude`).
ignored_in_checkpoint: checkpoint keys outside the restored scopes, or
  training state (global step, optimizer slots).
"""


def _variable_name(variable):
  return variable.name[:-2] if variable.name.endswith(':0') else variable.name


def split_patterns(patterns):
  """Patterns as the user gives them (a string or a list; each may be a
  comma-separated list, as TF-Slim's --checkpoint_exclude_scopes) ->
  a list."""
  if isinstance(patterns, str):
    patterns = [patterns]
  return [p.strip() for item in patterns for p in item.split(',')
          if p.strip()]


def matches(name, patterns):
  """Whether a variable name matches any pattern: an fnmatch pattern
  ('*' also crosses '/': '*/logits/*' matches any scope), or a TF-Slim
  scope ('resnet_v2_50/logits' matches everything under it)."""
  for pattern in split_patterns(patterns):
    if fnmatch.fnmatchcase(name, pattern):
      return True
    scope = pattern.rstrip('/')
    if not any(c in scope for c in '*?[') and (
        name == scope or name.startswith(scope + '/')):
      return True
  return False



def _rename(name, scope_map):
  for model_prefix, checkpoint_prefix in scope_map.items():
    if name == model_prefix or name.startswith(model_prefix.rstrip('/') + '/'):
      return checkpoint_prefix.rstrip('/') + name[len(model_prefix.rstrip('/')):]
  return name


def _class_count_hint(variable_shapes, checkpoint_shapes, mismatched):
  """Explains a logits mismatch of 1000 against 1001 classes."""
  for name, key in mismatched:
    if not name.endswith('logits/biases'):
      continue
    ours, theirs = variable_shapes[name][-1], checkpoint_shapes[key][-1]
    if {ours, theirs} == {1000, 1001}:
      return (' The checkpoint has %d classes and the net %d: the TF-Slim '
              'ImageNet checkpoints have 1001 (index 0 is "background"). '
              'Build the net with num_classes=%d, or exclude the logits '
              "(exclude=['*/logits/*']) to train a new head." %
              (theirs, ours, theirs))
    return (' The checkpoint has %d classes and the net %d: exclude the '
            "logits (exclude=['*/logits/*']) to fine-tune to new classes." %
            (theirs, ours))
  return ''


EXAMPLES = 3


def describe_net(shapes):
  """A net's shape in words, from {variable name: shape}: its scope, units
  per block and classes, e.g. 'resnet_v2_101 (blocks of 3, 4, 23, 3 units,
  1001 classes)'."""
  scopes = collections.Counter(n.split('/')[0] for n in shapes
                               if not matches(n, TRAINING_STATE_PATTERNS))
  if not scopes:
    return 'no variables'
  scope = scopes.most_common(1)[0][0]
  units = collections.defaultdict(set)
  for name in shapes:
    match = re.match(re.escape(scope) + r'/(block\d+)/(unit_\d+)/', name)
    if match:
      units[match.group(1)].add(match.group(2))
  details = []
  if units:
    details.append('blocks of %s units' % ', '.join(
        str(len(units[b])) for b in sorted(units, key=lambda b: int(b[5:]))))
  logits = shapes.get(scope + '/logits/biases')
  details.append('%d classes' % logits[0] if logits else 'no logits')
  return '%s (%s)' % (scope, ', '.join(details))


def _mismatch_message(path, checkpoint_shapes, variable_shapes, scope_map,
                      missing, mismatched, unexpected):
  """At most ~10 lines: which net the checkpoint holds, which the net is,
  how many variables disagree and a few of each."""
  def some(items):
    items = sorted(items)
    return ', '.join(items[:EXAMPLES]) + (
        ', ...' if len(items) > EXAMPLES else '')
  lines = ['Checkpoint %s does not fit the net; nothing was restored.' % path,
           'The checkpoint holds %s; the net is %s.' % (
               describe_net(checkpoint_shapes), describe_net(
                   {_rename(n, scope_map): s
                    for n, s in variable_shapes.items()}))]
  if missing:
    lines.append('%d model variables are not in the checkpoint, e.g. %s' %
                 (len(missing), some(missing)))
  if mismatched:
    lines.append('%d variables have other shapes in the checkpoint, e.g. %s'
                 % (len(mismatched), some(
                     '%s: net %s, checkpoint %s' % (
                         name, variable_shapes[name], checkpoint_shapes[key])
                     for name, key in mismatched)))
  if unexpected:
    lines.append('%d checkpoint variables have no variable in the net, '
                 'e.g. %s' % (len(unexpected), some(unexpected)))
  lines.append(_class_count_hint(variable_shapes, checkpoint_shapes,
                                 mismatched).strip() or
               'Is it the same depth and scope? Use scope_map for another '
               'scope name, exclude for variables you mean to train anew.')
  return '\n'.join(lines)


def plan_restore(variables, checkpoint_path, scope_map=None, exclude=()):
  """Matches variables to checkpoint keys and checks every one.

  Args:
    variables: The model variables to restore (e.g. a net's global
      variables).
    checkpoint_path: Checkpoint prefix or directory.
    scope_map: Optional {model scope: checkpoint scope}, e.g.
      {'my_backbone': 'resnet_v2_50'}, for a net built under another scope.
    exclude: fnmatch patterns of model variable names to leave alone, e.g.
      ['*/logits/*'] when the head is new.

  Returns:
    (RestorePlan, resolved checkpoint path).

  Raises:
    CheckpointMismatchError: listing every missing, unexpected and
      shape-mismatched variable, with a hint for 1000 vs 1001 classes.
    ValueError: if the checkpoint cannot be read.
  """
  scope_map = dict(scope_map or {})
  checkpoint_shapes, path = checkpoint_files.read_checkpoint_shapes(checkpoint_path)
  assignments, excluded, missing, mismatched = [], [], [], []
  variable_shapes = {}
  for variable in variables:
    name = _variable_name(variable)
    if matches(name, exclude):
      excluded.append(name)
      continue
    key = _rename(name, scope_map)
    variable_shapes[name] = variable.shape.as_list()
    if key not in checkpoint_shapes:
      missing.append('%s (looked for %s)' % (name, key) if key != name
                     else name)
    elif list(checkpoint_shapes[key]) != variable_shapes[name]:
      mismatched.append((name, key))
    else:
      assignments.append((variable, key))
  restored_keys = {key for _, key in assignments} | {k for _, k in mismatched}
  scopes = {key.split('/')[0] for key in restored_keys} | {
      _rename(n, scope_map).split('/')[0] for n in variable_shapes}
  excluded_keys = {_rename(n, scope_map) for n in excluded}
  unexpected, ignored = [], []
  for key in sorted(checkpoint_shapes):
    if key in restored_keys:
      continue
    if (key in excluded_keys or matches(key, exclude)
        or matches(key, TRAINING_STATE_PATTERNS)
        or key.split('/')[0] not in scopes):
      ignored.append(key)
    else:
      unexpected.append(key)
  if missing or mismatched or unexpected:
    raise CheckpointMismatchError(_mismatch_message(
        path, checkpoint_shapes, variable_shapes, scope_map, missing,
        mismatched, unexpected))
  return RestorePlan(assignments, sorted(excluded), ignored), path


def restore(session, checkpoint_path, variables=None, scope_map=None,
            exclude=()):
  """Restores a checkpoint into a graph's variables, all or nothing.

  Args:
    session: The `tf.compat.v1.Session` of the net's graph.
    checkpoint_path: Checkpoint prefix or directory.
    variables: Variables to restore; default the model variables of the
      session's graph (every variable the nets create, not optimizer slots
      or the global step).
    scope_map: Optional {model scope: checkpoint scope}.
    exclude: fnmatch patterns of model variable names not to restore.

  Returns:
    The `RestorePlan` that was applied.

  Raises:
    CheckpointMismatchError, ValueError: see `plan_restore`; nothing is
      restored then.
  """
  with session.graph.as_default():
    if variables is None:
      variables = tf.compat.v1.model_variables()
    plan, path = plan_restore(variables, checkpoint_path, scope_map, exclude)
    saver = tf.compat.v1.train.Saver(
        {key: variable for variable, key in plan.assignments},
        reshape=False, sharded=False)
    # One restore op reads every tensor before any assignment runs.
    checkpoint_files.check_whole(path)
    try:
      with checkpoint_files.readable(path) as readable_path:
        saver.restore(session, readable_path)
    except tf.errors.OpError as error:
      raise checkpoint_files.DamagedCheckpointError(
          'Reading checkpoint %s failed; no variable was changed: %s' % (
              path, checkpoint_files.first_line(error))) from None
  return plan


def restore_eager(variables, checkpoint_path, scope_map=None, exclude=()):
  """Restores a checkpoint into eager (TF2) variables, all or nothing.

  Every tensor is read before the first assignment.

  Args and Returns: as `restore`, with `variables` required.
  """
  plan, path = plan_restore(variables, checkpoint_path, scope_map, exclude)
  values = checkpoint_files.read_tensors(
      path, [key for _, key in plan.assignments])
  for variable, key in plan.assignments:
    variable.assign(values[key])
  return plan


