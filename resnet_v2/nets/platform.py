"""What the nets need to know of the machine, handed in as values.

The nets never probe the machine. An entry point (the TF-Slim face
`import resnet_v2`, the compat facades, `serve`, `train`, the benchmarks)
hands in where the facts come from with `use(runtime.platform_facts)`;
they are asked for once, when a graph first needs one. Without them the
nets build what runs on every machine: NCHW through transposes, batch norm
fused.
"""

import collections

Facts = collections.namedtuple('Facts', ['nchw_native',
                                         'fused_inference_batch_norm'])
Facts.__doc__ = """Machine facts that change how a graph is built.

nchw_native: NCHW convolutions run as they are (oneDNN or a GPU); else an
  NCHW net is built NHWC between two transposes (same variables, results).
fused_inference_batch_norm: inference batch norm may use the fused kernel
  (False where oneDNN's fused conv + batch norm is slow: AVX2 kernels).
"""

PORTABLE = Facts(nchw_native=False, fused_inference_batch_norm=True)

_provider = [None]
_known = [None]


def use(provider):
  """Where the facts come from: a function returning `Facts` (or a
  `Facts`); None goes back to PORTABLE."""
  _provider[0] = provider
  _known[0] = None


def facts():
  """The facts to build with (asked of the provider once)."""
  if _known[0] is None:
    provider = _provider[0]
    _known[0] = (PORTABLE if provider is None else
                 provider if isinstance(provider, Facts) else
                 Facts(**provider()))
  return _known[0]
