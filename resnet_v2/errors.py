"""TensorFlow's errors in the user's words: no op text reaches a user.

`op_error_reason` is the one line of a TensorFlow error that says what went
wrong, without `{{function_node ...}}`, `[Op:...]`, `name:` tails or device
strings, and an image decoder's failure as 'a truncated or corrupt JPEG'
and the like. The command line prints nothing else of TensorFlow's unless
`--verbose`.
"""

import re

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
