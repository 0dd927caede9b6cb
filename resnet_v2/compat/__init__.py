"""Drop-ins for code written against tf-slim or tensorflow/models.

Change the imports only:

  tf-slim:            from tf_slim.nets import resnet_utils, resnet_v1, resnet_v2
                   -> from resnet_v2.compat.slim.nets import resnet_utils, resnet_v1, resnet_v2
                      import tf_slim as slim -> from resnet_v2.compat import slim
  tensorflow/models:  from nets import resnet_utils, resnet_v1, resnet_v2
                   -> from resnet_v2.compat.models import resnet_utils, resnet_v1, resnet_v2

Every module here is a thin facade over the one builder (`nets.resnet`)
and the one set of blocks: they differ in defaults, positional order and
end points, never in how a net is built.
"""

from resnet_v2 import runtime as _runtime
from resnet_v2.nets import platform as _platform

# The facades build for this machine (`nets.platform`).
_platform.use(_runtime.platform_facts)
