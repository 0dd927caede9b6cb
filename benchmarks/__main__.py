"""`python -m benchmarks`: forward timing of resnet_v2_152, batch 32, 224x224."""

import sys

from resnet_v2 import quiet

if __name__ == '__main__':
  if '--verbose' not in sys.argv[1:]:
    # Before TensorFlow loads: its start-up lines stay off the terminal.
    quiet.filter_tensorflow_logs()
  from benchmarks.cli import main  # pylint: disable=g-import-not-at-top
  sys.exit(main())
