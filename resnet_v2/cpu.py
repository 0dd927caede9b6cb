"""The CPU, read without TensorFlow, and the oneDNN setting each kind of
work runs fastest with on it.

TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` once, when it is imported. Left
alone it turns oneDNN on only on CPUs with AVX-512 VNNI, BF16 or AMX, and
off elsewhere, e.g. on AVX2-only CPUs (AMD Zen 2/3, many cloud VMs), where
training then runs about 3x slower. `choose_onednn` picks the setting
measured fastest for the work on this kind of CPU (BENCHMARKS.md, "oneDNN
by default"); the user's own setting always wins. The command line, the
benchmarks and `resnet_v2.train` call it before TensorFlow is imported.
"""

import functools
import os
import sys

ONEDNN_VARIABLE = 'TF_ENABLE_ONEDNN_OPTS'
# CPU flags (as /proc/cpuinfo spells them) of native bf16 arithmetic.
BF16_FLAGS = ('avx512_bf16', 'amx_bf16', 'avx_ne_convert')
# oneDNN's AVX-512 kernels need these (it emulates bf16 with them, slowly).
AVX512_CORE_FLAGS = ('avx512f', 'avx512bw', 'avx512vl', 'avx512dq')

# Work -> kind of CPU -> (setting, what was measured). Measured on AMD EPYC
# Zen 4 (AVX-512) and on the same CPU with oneDNN capped to AVX2
# (ONEDNN_MAX_CPU_ISA=AVX2, a Zen 3 stand-in) and on a Zen 3; BENCHMARKS.md,
# "oneDNN by default", has each figure and its command.
FASTEST = {
    'train': {
        'avx512': ('1', 'training ran 1.5-1.8x faster with oneDNN on this kind '
                   'of CPU'),
        'avx2': ('1', 'training ran 2.6x faster with oneDNN on AVX2-only '
                 'CPUs'),
    },
    'inference': {
        'avx512': ('1', 'inference at batch 32 ran 6-15% faster with '
                   'oneDNN on this kind of CPU'),
        'avx2': ('1', 'inference at batch 32 ran 7-25% faster with '
                 'oneDNN on AVX2-only CPUs'),
    },
}
# Each command's kind of work.
WORK = {'train': 'train', 'eval': 'inference', 'predict': 'inference',
        'features': 'inference', 'export': 'inference',
        'quantize': 'inference', 'convert': 'inference',
        'benchmarks': 'inference'}


# id(environment) -> (setting, reason) of what `use_fastest_onednn` set in
# it, so that a second call does not take its own choice for the user's.
_SET_HERE = {}


@functools.lru_cache(maxsize=1)
def flags():
  """The CPU's feature flags, from /proc/cpuinfo; None where it is absent.

  Returns:
    A frozenset of lower-case flag names, e.g. {'avx2', 'avx512_bf16'}, or
    None where the flags cannot be read (not Linux).
  """
  try:
    with open('/proc/cpuinfo') as cpuinfo:
      for line in cpuinfo:
        if line.startswith('flags'):
          return frozenset(line.split(':', 1)[1].split())
  except OSError:
    pass
  return None


def kind(cpu_flags=None):
  """'avx512' (oneDNN's AVX-512 kernels run), 'avx2', or None (older, or
  unknown: not Linux)."""
  cpu_flags = flags() if cpu_flags is None else cpu_flags
  if not cpu_flags:
    return None
  if all(f in cpu_flags for f in AVX512_CORE_FLAGS):
    return 'avx512'
  return 'avx2' if 'avx2' in cpu_flags else None


def choose_onednn(command, environ=None, cpu_flags=None):
  """The oneDNN setting for a command on this CPU.

  Args:
    command: A `resnet-v2` command ('train', 'eval', ...) or 'benchmarks'.
    environ: The environment (default os.environ).
    cpu_flags: Default this CPU's.

  Returns:
    (setting, reason): setting is '1', '0', or None to leave TensorFlow's
    own default (the user set it, or nothing was measured for this CPU or
    work); reason says which and why, in a line.
  """
  environ = os.environ if environ is None else environ
  if ONEDNN_VARIABLE in environ:
    made_here = _SET_HERE.get(id(environ))
    if made_here and made_here[0] == environ[ONEDNN_VARIABLE]:
      # This process chose it earlier (the command line, then
      # `import resnet_v2.train`): the same choice, for the same reason.
      return None, made_here[1]
    return None, '%s=%s was set by you; kept' % (
        ONEDNN_VARIABLE, environ[ONEDNN_VARIABLE])
  work = WORK.get(command)
  cpu = kind(cpu_flags)
  if work is None or cpu not in FASTEST[work]:
    return None, ("TensorFlow's default (nothing measured for %s on this "
                  'CPU)' % command)
  setting, why = FASTEST[work][cpu]
  return setting, 'oneDNN %s for %s: %s (%s=%s)' % (
      'on' if setting == '1' else 'off', command, why, ONEDNN_VARIABLE,
      setting)


def use_fastest_onednn(command, environ=None):
  """Sets `TF_ENABLE_ONEDNN_OPTS` as `choose_onednn` says, if TensorFlow
  is not imported yet (it reads it once, then).

  Returns:
    The reason, or why nothing could be chosen.
  """
  environ = os.environ if environ is None else environ
  setting, reason = choose_onednn(command, environ)
  if setting is None:
    return reason
  if 'tensorflow' in sys.modules:
    return ('TensorFlow was imported before resnet_v2 could choose oneDNN '
            '(%s); set %s=%s before importing it' % (reason, ONEDNN_VARIABLE,
                                                     setting))
  environ[ONEDNN_VARIABLE] = setting
  _SET_HERE[id(environ)] = (setting, reason)
  return reason
