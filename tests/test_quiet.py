"""The command line keeps TensorFlow's start-up lines (and Ray's C++ log
lines) off the terminal."""

import os
import subprocess
import sys

from resnet_v2.cli import quiet

NATIVE_LINES = [
    'WARNING: All log messages before absl::InitializeLog() is called are '
    'written to STDERR',
    'I0000 00:00:1795512001.899018   15135 port.cc:153] oneDNN custom '
    'operations are on.',
    'E0000 00:00:1795511418.296792   13746 cuda_platform.cc:52] failed call '
    'to cuInit',
    'To enable the following instructions: AVX2 AVX512F FMA, in other '
    'operations, rebuild TensorFlow with the appropriate compiler flags.',
    # libjpeg, on corrupt files (the pipeline names those files itself).
    'Input file read error',
    'Unsupported marker type 0x61',
    'Corrupt JPEG data: 33 extraneous bytes before marker 0xc4',
    'Improper call to JPEG library in state 201',
    # Ray's C++ log (in its session's log files too).
    "[2026-12-03 03:26:29,868 E 21587 21587] core_worker.cc:2465: Actor with "
    "class name: 'MapWorker(MapBatches(ShardWriter))' has constructor "
    "arguments in the object store and max_restarts > 0.",
]


def test_native_log_lines_are_recognized_and_ours_are_not():
  assert all(quiet.is_native_log(line) for line in NATIVE_LINES)
  for line in ('resnet-v2 eval: error: x does not exist',
               'Traceback (most recent call last):',
               'WARNING: no checkpoint given: resnet_v2_50 has RANDOM weights',
               "note: 1 Ray node(s) left the cluster during the run (1.2.3.4); "
               "Ray's log: /tmp/ray/x.log"):
    assert not quiet.is_native_log(line)


def test_the_command_prints_its_error_alone_unless_verbose(tmp_path):
  command = os.path.join(os.path.dirname(sys.executable), 'resnet-v2')
  args = ['eval', '--model-dir', str(tmp_path / 'none'), '--data',
          str(tmp_path / 'none')]
  done = subprocess.run([command] + args, capture_output=True, text=True,
                        check=False)
  assert done.returncode == 1
  assert done.stderr.strip().splitlines() == [
      'resnet-v2 eval: error: %s does not exist: give a folder of class '
      'folders, a TFRecord file or pattern, or a cifar-10-batches-py '
      'folder.' % (tmp_path / 'none')]
  verbose = subprocess.run([command, '--verbose'] + args,
                           capture_output=True, text=True, check=False)
  assert verbose.returncode == 1
  assert verbose.stderr.strip().splitlines()[-1].startswith(
      'resnet-v2 eval: error:')
