"""Choosing what to train when fine-tuning: variables by scope pattern."""

import tensorflow as tf

from resnet_v2 import checkpoints


def select_variables(patterns, variables=None):
  """Returns the variables whose names match any pattern or scope.

  '*' crosses '/', so 'resnet_v2_50/logits/*' selects the head and
  '*/block4/*' the last block of any net; a pattern without wildcards is
  a TF-Slim scope ('resnet_v2_50/logits': everything under it), and a
  string may list several, comma-separated (as TF-Slim's
  --trainable_scopes).

  Args:
    patterns: Patterns or scopes, e.g. ['resnet_v2_50/logits/*'] or
      'resnet_v2_50/block4,resnet_v2_50/logits'.
    variables: Variables to choose from; default the trainable variables
      of the default graph (or the given list in eager code).

  Returns:
    The matching variables, in their original order.

  Raises:
    ValueError: if a pattern matches nothing (a typo would otherwise train
      nothing, silently).
  """
  patterns = checkpoints.split_patterns(patterns)
  if variables is None:
    variables = tf.compat.v1.trainable_variables()
  names = [v.name[:-2] if v.name.endswith(':0') else v.name for v in variables]
  unmatched = [p for p in patterns
               if not any(checkpoints.matches(n, [p]) for n in names)]
  if unmatched:
    raise ValueError('No variable matches %s; names look like %s.' %
                     (unmatched, names[:3]))
  return [v for v, n in zip(variables, names)
          if checkpoints.matches(n, patterns)]


def head_patterns(scope):
  """Patterns of a net's new classifier: its logits."""
  return [scope + '/logits/*']


def last_block_patterns(scope, block='block4'):
  """Patterns of the last block and everything after it."""
  return [scope + '/%s/*' % block, scope + '/postnorm/*', scope + '/logits/*']
