"""Keeping TensorFlow's (and Ray's) C++ log lines off the `resnet-v2`
terminal.

TensorFlow 2.21 writes its C++ log lines (oneDNN notes, CUDA probes, CPU
feature hints) to stderr before its logging is configured, so
TF_CPP_MIN_LOG_LEVEL does not silence them. The entry points (the
`resnet-v2` command and `python -m benchmarks`) call
`filter_native_logs` before they import TensorFlow, unless --verbose:
stderr then passes through a filter that drops lines of that form and keeps
every other line (errors, warnings of ours, tracebacks) as they come. The
library itself never touches stderr.
"""

import atexit
import os
import re
import sys
import threading

NATIVE_LOG_LINE = re.compile(
    r'^(?:[IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\]'
    # Ray's C++ log lines (a --ray run): Ray keeps every one of them in its
    # session's log files (python-core-driver-*.log).
    r'|\[\d{4}-\d\d-\d\d [\d:,]+ [IWEF] \d+ \d+\] [\w.]+:\d+:'
    r'|WARNING: All log messages before absl::InitializeLog'
    r'|To enable the following instructions:'
    # libjpeg's own messages (jerror.h), printed bare by TensorFlow's JPEG
    # decoder for a corrupt file; the pipeline names such files itself.
    r'|(?:Corrupt JPEG data|Premature end of JPEG|Unsupported marker type'
    r'|Improper call to JPEG library|Input file read error|Not a JPEG file'
    r'|Invalid JPEG file structure|Unsupported JPEG process'
    r'|Quantization table 0x|Huffman table 0x|Invalid SOS parameters'
    r'|Invalid component ID|Bogus |JPEG datastream contains no image'
    r'|Inconsistent progression sequence|Empty JPEG image'
    r'|Warning: unknown JFIF revision|Warning: thumbnail image size'
    r'|Unknown APP\d+ marker|Sampling factors too large'
    r'|Maximum supported image dimension|Arithmetic table 0x))')


def is_native_log(line):
  """Whether a stderr line is one of TensorFlow's or Ray's C++ log lines
  (or libjpeg's, printed by TensorFlow)."""
  return bool(NATIVE_LOG_LINE.match(line))


def filter_native_logs():
  """Routes this process's stderr (fd 2) through a filter thread.

  Restored, and the filter drained, when the process exits.
  """
  original = os.dup(2)
  read_end, write_end = os.pipe()
  os.dup2(write_end, 2)
  os.close(write_end)

  def pump():
    with os.fdopen(read_end, 'rb') as pipe, os.fdopen(
        os.dup(original), 'wb', buffering=0) as out:
      for line in pipe:
        if not is_native_log(line.decode('utf-8', 'replace')):
          out.write(line)

  thread = threading.Thread(target=pump, daemon=True)
  thread.start()

  def restore():
    sys.stderr.flush()
    os.dup2(original, 2)   # the pipe's last writer closes: the pump ends
    thread.join(timeout=5)

  atexit.register(restore)
