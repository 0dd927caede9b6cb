"""The project's errors, and TensorFlow's in the user's words: no op text
reaches a user.

`MissingDependencyError` and `require` are the one way an optional
package (an extra of setup.py) is imported: the error names the package
and the pip command. `TrainingDiverged` is raised where a run stops at a
non-finite loss, gradient or weight.

`op_error_reason` is the one line of a TensorFlow error that says what went
wrong, without `{{function_node ...}}`, `[Op:...]`, `name:` tails or device
strings, and an image decoder's failure as 'a truncated or corrupt JPEG'
and the like. The command line prints nothing else of TensorFlow's unless
`--verbose`.
"""

import importlib
import re


class MissingDependencyError(ImportError):
  """An optional package is not installed; the message says which, and the
  pip command that installs it. The command line prints it as one line."""


class TrainingDiverged(ValueError):
  """A step's loss or gradients were not finite; the run stopped there."""


def require(module, extra, needed_by):
  """Imports an optional package (or a module of it) and returns it.

  Args:
    module: Its import name ('faiss', 'pyarrow.parquet').
    extra: The setup.py extra that installs it ('search').
    needed_by: What needs it, with its verb ('the index needs').

  Raises:
    MissingDependencyError: "<needed_by> the optional package <name>,
      which is not installed: pip install 'resnet_v2[<extra>]'".
  """
  try:
    return importlib.import_module(module)
  except ImportError:
    raise MissingDependencyError(
        "%s the optional package %s, which is not installed: pip install "
        "'resnet_v2[%s]'" % (needed_by, module.split('.')[0], extra)
    ) from None

# TensorFlow's op text around a message: '{{function_node ...}} ', ' [Op:X]',
# ' name: ...', and device strings.
_OP_TEXT = re.compile(r'\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\]|'
                      r'\s*name: ?\S*$|\s*\[\[\{\{node [^]]*\]\]|'
                      r'/job:[\w/:]*')
# What the image decoders say, in the user's words.
_DECODE_REASONS = (
    ('Input is empty', 'an empty file, not an image'),
    ('Unknown image file format', 'not an image'),
    ('JPEG', 'a truncated or corrupt JPEG'),
    ('jpeg', 'a truncated or corrupt JPEG'),
    ('PNG', 'a truncated or corrupt PNG'),
    ('GIF', 'a truncated or corrupt GIF'),
    ('gif', 'a truncated or corrupt GIF'),
    ('bmp', 'a truncated or corrupt BMP'),
    ('BMP', 'a truncated or corrupt BMP'),
)


def without_op_text(message):
  """A TensorFlow message without its op text (function and node names,
  [Op:...], name:, devices)."""
  return _OP_TEXT.sub('', message).strip()


def op_error_reason(error):
  """The line of a TensorFlow op error that says what went wrong, without
  op text; an image decoder's error in the user's words (e.g. 'a truncated
  or corrupt JPEG (Invalid JPEG data, size 321)')."""
  lines = [line for line in error.message.splitlines() if line.strip()]
  reasons = [line for line in lines if not line[0].isspace() and
             not line.startswith(('Graph execution error', 'Detected at'))]
  reason = without_op_text((reasons or lines or ['unknown error'])[-1])
  if 'Decode' in error.message or 'Jpeg' in error.message:
    for clue, words in _DECODE_REASONS:
      if clue in reason:
        return '%s (%s)' % (words, reason.rstrip('.'))
  return reason or 'unknown error'
