"""tf_slim, with the layers that fail on current TensorFlow replaced.

`from resnet_v2.compat import slim` gives everything `import tf_slim as slim`
gives, except that `slim.batch_norm` (tf-slim 1.1.0's needs tf_keras'
legacy layers and fails on TensorFlow >= 2.13) and `slim.max_pool2d` (NCHW
on CPUs) are this project's, with tf-slim's interface, so that
`slim.arg_scope([slim.batch_norm], ...)` and `normalizer_fn=slim.batch_norm`
reach the batch norm the nets use. `slim.nets` holds tf-slim's ResNet
modules (`resnet_utils`, `resnet_v1`, `resnet_v2`).
"""

# pylint: disable=wildcard-import,unused-wildcard-import,g-bad-import-order
from tf_slim import *  # noqa: F401,F403
from tf_slim import utils  # noqa: F401

from resnet_v2.nets.layers import batch_norm  # noqa: F401
from resnet_v2.nets.layers import max_pool2d  # noqa: F401
