"""`python -m benchmarks`: forward timing of resnet_v2_152, batch 32, 224x224."""

import sys

from resnet_v2 import cpu
from resnet_v2.cli import quiet

if __name__ == '__main__':
  # Before TensorFlow loads: oneDNN as measured fastest for forward passes
  # on this CPU, unless the user set it (--onednn on|off|best set it in
  # child processes).
  CHOICE = cpu.use_fastest_onednn('benchmarks')
  if '--verbose' in sys.argv[1:]:
    print('benchmarks: %s' % CHOICE, file=sys.stderr)
  if '--verbose' not in sys.argv[1:]:
    # Before TensorFlow loads: its start-up lines stay off the terminal.
    quiet.filter_native_logs()
  from benchmarks.cli import main  # pylint: disable=g-import-not-at-top
  sys.exit(main())
