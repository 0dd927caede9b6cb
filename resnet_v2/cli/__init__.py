"""The `resnet-v2` command line: its flags, and errors in their terms.

Parsing needs no TensorFlow (`--help` answers at once): `parser` and its
`flags`; `commands` runs what the flags ask for, passing `progress` (a
display on a terminal) down as a callback; `quiet` keeps TensorFlow's
start-up lines off the terminal. Every command reads images through the
one input pipeline and reaches nets by their registry name; a trained
model dir (`model.json`) tells later commands everything else, so they
take `--model-dir` alone.
"""

import sys
import traceback

from resnet_v2 import cpu
from resnet_v2.cli import commands
from resnet_v2.cli import flags
from resnet_v2.cli import quiet
from resnet_v2.cli.parser import build_parser


def main(argv=None):
  parser = build_parser()
  args = parser.parse_args(argv)
  # Before TensorFlow loads (the commands import it): oneDNN as measured
  # fastest for this command on this CPU, unless the user set it.
  choice = cpu.use_fastest_onednn(args.command)
  if args.verbose:
    print('resnet-v2 %s: %s' % (args.command, choice), file=sys.stderr)
  if not args.verbose:
    # Before TensorFlow loads (the commands import it): its start-up lines.
    quiet.filter_native_logs()
  try:
    commands.COMMANDS[args.command](args)
  except Exception as error:  # pylint: disable=broad-except
    line = _error_line(error)
    if line is None:
      raise
    if args.verbose:
      traceback.print_exc()   # TensorFlow's own text, for bug reports
    print('resnet-v2 %s: error: %s' % (args.command, line), file=sys.stderr)
    return 1
  return 0


def _error_line(error):
  """The one line a user sees for an error, or None for a bug (raised)."""
  from resnet_v2 import errors  # pylint: disable=g-import-not-at-top
  if isinstance(error, errors.MissingDependencyError):
    # An optional package that is not installed: the message says what to
    # install.
    return str(error)
  if isinstance(error, ImportError):
    return None
  if isinstance(error, ValueError):
    return flags.in_flags(str(error))
  if isinstance(error, OSError):
    # A file that cannot be read or written: which one, and why.
    where = ' '.join(commands.printable(name) for name in (
        error.filename, error.filename2) if name is not None)
    return '%s%s' % (where + ': ' if where else '', error.strerror or error)
  if hasattr(error, 'error_code'):
    # A TensorFlow op error met while running (e.g. a TFRecord label
    # outside the classes): its one meaningful line, without op text.
    return errors.op_error_reason(error)
  return None
