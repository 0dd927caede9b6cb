"""The oneDNN choice per command and CPU, and the user's setting winning."""

import subprocess
import sys

import pytest

from resnet_v2 import cpu

AVX2 = frozenset({'sse4_2', 'avx', 'avx2', 'fma'})
AVX512 = AVX2 | set(cpu.AVX512_CORE_FLAGS) | {'avx512_vnni'}


@pytest.mark.quick
def test_avx2_cpus_get_onednn_where_tensorflow_leaves_it_off():
  setting, reason = cpu.choose_onednn('train', {}, AVX2)
  assert setting == '1' and 'AVX2-only' in reason and '=1' in reason
  for command in ('eval', 'predict', 'features', 'benchmarks'):
    setting, reason = cpu.choose_onednn(command, {}, AVX2)
    assert setting == '1' and 'inference' in reason


@pytest.mark.quick
def test_avx512_cpus_run_everything_with_onednn():
  for command in cpu.WORK:
    assert cpu.choose_onednn(command, {}, AVX512)[0] == '1'


@pytest.mark.quick
def test_the_users_setting_always_wins():
  for value in ('0', '1'):
    setting, reason = cpu.choose_onednn(
        'train', {cpu.ONEDNN_VARIABLE: value}, AVX2)
    assert setting is None and 'set by you' in reason and value in reason


@pytest.mark.quick
def test_unknown_cpus_and_work_keep_tensorflows_default():
  assert cpu.choose_onednn('train', {}, frozenset({'sse2'}))[0] is None
  assert cpu.choose_onednn('help', {}, AVX2)[0] is None
  assert cpu.kind(frozenset()) is None
  assert cpu.kind(AVX512) == 'avx512' and cpu.kind(AVX2) == 'avx2'


def test_the_choice_is_set_before_tensorflow_loads_and_never_after():
  environ = {}
  reason = cpu.use_fastest_onednn('train', environ)
  setting = cpu.choose_onednn('train', {})[0]
  if 'tensorflow' in sys.modules:
    assert cpu.ONEDNN_VARIABLE not in environ
    assert (setting is None) or 'imported before' in reason
  # A fresh process: the command line chooses before TensorFlow loads,
  # and TensorFlow then runs as chosen.
  code = ('import os, sys; from resnet_v2 import cpu; '
          'print(cpu.use_fastest_onednn("train")); '
          'print(os.environ.get(cpu.ONEDNN_VARIABLE)); '
          'assert "tensorflow" not in sys.modules')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, check=True,
                       env={'PATH': '/usr/bin:/bin'}).stdout.splitlines()
  assert out[1] == str(setting)


def test_verbose_says_what_the_command_line_chose(tmp_path):
  import os  # pylint: disable=g-import-not-at-top
  env = {k: v for k, v in os.environ.items() if k != cpu.ONEDNN_VARIABLE}
  done = subprocess.run(
      [sys.executable, '-m', 'resnet_v2.cli', '--verbose', 'eval',
       '--model-dir', str(tmp_path / 'none'), '--data', str(tmp_path)],
      capture_output=True, text=True, env=env, check=False)
  expected = cpu.choose_onednn('eval', {})[1]
  assert 'resnet-v2 eval: ' + expected in done.stderr
  kept = subprocess.run(
      [sys.executable, '-m', 'resnet_v2.cli', '--verbose', 'eval',
       '--model-dir', str(tmp_path / 'none'), '--data', str(tmp_path)],
      capture_output=True, text=True, check=False,
      env=dict(env, **{cpu.ONEDNN_VARIABLE: '0'}))
  assert 'TF_ENABLE_ONEDNN_OPTS=0 was set by you; kept' in kept.stderr


def test_a_second_choice_in_one_process_is_not_taken_for_the_users():
  # The command line chooses, then `import resnet_v2.train` asks again: the
  # second call must give the first one's reason, not "set by you".
  code = ('import os; from resnet_v2 import cpu; '
          'first = cpu.use_fastest_onednn("train"); '
          'second = cpu.use_fastest_onednn("train"); '
          'print(first); print(second); '
          'print(cpu.use_fastest_onednn("train", {cpu.ONEDNN_VARIABLE: '
          'os.environ.get(cpu.ONEDNN_VARIABLE, "1")}))')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, check=True,
                       env={'PATH': '/usr/bin:/bin'}).stdout.splitlines()
  if cpu.choose_onednn('train', {})[0] is None:
    return  # nothing is chosen on this CPU: nothing to mistake
  assert out[1] == out[0] and 'set by you' not in out[1]
  # A user's own environment (another mapping) is still the user's.
  assert 'set by you' in out[2]
