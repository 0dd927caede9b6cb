"""`python -m benchmarks`: forward timing of resnet_v2_152, batch 32, 224x224."""

import sys

from benchmarks.cli import main

sys.exit(main())
