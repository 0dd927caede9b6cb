"""A one-line progress display for long loops on a terminal."""

import sys


class Progress:
  """A one-line progress display ('steps done, running mean') on a terminal.

  Prints nothing when the stream is not a terminal, so logs and pipes stay
  clean.
  """

  def __init__(self, total, label, stream=None):
    self._total, self._label = total, label
    self._stream = stream or sys.stderr
    self._enabled = hasattr(self._stream, 'isatty') and self._stream.isatty()

  def update(self, done, durations):
    if not self._enabled or not durations:
      return
    mean = sum(durations) / len(durations)
    self._stream.write('\r%s: %d/%d steps, mean %.3f s' %
                       (self._label, done, self._total, mean))
    self._stream.flush()
    if done == self._total:
      self._stream.write('\n')
