"""`python -m resnet_v2.cli`: the `resnet-v2` command."""

import sys

from resnet_v2.cli import main

sys.exit(main())
