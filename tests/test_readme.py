"""Every Python example in README.md runs, in a folder with a checkpoint
(slim names, 1001 classes) and images, each in a fresh process."""

import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from nets_for_tests import write_checkpoint

README = pathlib.Path(__file__).resolve().parent.parent / 'README.md'
BLOCKS = re.findall(r'```python\n(.*?)```', README.read_text(), re.S)


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
  folder = tmp_path_factory.mktemp('readme')
  write_checkpoint(folder / 'resnet_v2_50.ckpt',
                   lambda x: resnet_v2.resnet_v2_50(x, num_classes=1001),
                   np.random.default_rng(0))
  (folder / 'images').mkdir()
  rng = np.random.default_rng(1)
  for name in ('cat.png', 'dog.png'):
    (folder / 'images' / name).write_bytes(tf.io.encode_png(
        rng.integers(0, 255, (64, 80, 3), np.uint8)).numpy())
  (folder / 'images' / 'notes.txt').write_text('not an image')
  return folder


# What each example prints, in README order.
EXPECTED = [
    r'\(2, 1, 1, 1001\) \(2, 7, 7, 2048\)',
    r'1001 classes and the net 1000.*background',
    r"\d+ restored; \['mine/logits/biases', 'mine/logits/weights'\] left new",
    r'\(299, 299, 3\) -?[01]\.\d+ -?[01]\.\d+',
    r"2 \(2, 1, 1, 2048\) \[.*cat.png.*dog.png.*\] \[\(.*notes.txt",
    r"\['global_pool', 'probabilities'\]",
    r"\['resnet_v2_50/predictions/Reshape_1'\]",
]


def test_every_example_has_an_expectation():
  assert len(BLOCKS) == len(EXPECTED)


@pytest.mark.parametrize('index', range(len(BLOCKS)))
def test_readme_example_runs(workdir, index):
  done = subprocess.run([sys.executable, '-c', BLOCKS[index]], cwd=workdir,
                        capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  assert re.search(EXPECTED[index], done.stdout, re.S), done.stdout
