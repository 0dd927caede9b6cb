"""The oneDNN-dependent tests, run again with oneDNN the other way.

TensorFlow turns oneDNN on by default on CPUs with AVX-512 VNNI, BF16 or
AMX and leaves it off on others (AVX2-only CPUs); it decides when it loads.
The tests marked `onednn` (NCHW on the CPU, bf16) behave differently in the
two settings, so this test runs them in a child process with
TF_ENABLE_ONEDNN_OPTS flipped: one test command checks both.
"""

import os
import subprocess
import sys

import pytest

from resnet_v2 import runtime

FLIPPED_RUN = 'RESNET_V2_TESTS_ONEDNN_FLIPPED'


@pytest.mark.onednn
def test_the_requested_onednn_setting_took_effect():
  requested = os.environ.get('TF_ENABLE_ONEDNN_OPTS')
  if requested not in ('0', '1'):
    pytest.skip('TF_ENABLE_ONEDNN_OPTS is not set; TensorFlow chose')
  assert runtime.onednn_enabled() == (requested == '1')


@pytest.mark.skipif(bool(os.environ.get(FLIPPED_RUN)),
                    reason='this is the flipped run already')
def test_onednn_dependent_tests_pass_with_onednn_flipped():
  flipped = '0' if runtime.onednn_enabled() else '1'
  tests = os.path.dirname(os.path.abspath(__file__))
  done = subprocess.run(
      [sys.executable, '-m', 'pytest', '-q', '-m', 'onednn', '-p',
       'no:cacheprovider', '-rs', '-n', '0', tests],
      cwd=os.path.dirname(tests), capture_output=True, text=True,
      env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS=flipped,
               **{FLIPPED_RUN: '1'}), check=False)
  summary = done.stdout[-4000:]
  assert done.returncode == 0, summary
  assert ' passed' in summary and ' failed' not in summary, summary
  print('TF_ENABLE_ONEDNN_OPTS=%s: %s' % (flipped, summary.splitlines()[-1]))
