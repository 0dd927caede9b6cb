"""Every Python example in README.md and docs/*.md runs, in a folder with a
checkpoint (slim names, 1001 classes) and images, each in a fresh process;
every link between them leads to a file."""

import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import resnet_v2
from nets_for_tests import write_checkpoint

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = ['README.md'] + sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / 'docs').glob('*.md'))
BLOCKS = {page: re.findall(r'```python\n(.*?)```', (ROOT / page).read_text(),
                           re.S) for page in PAGES}


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


# What each example prints, page by page, in page order.
EXPECTED = {
    'README.md': [
        r'\(2, 1, 1, 1001\) \(2, 7, 7, 2048\)',
        r"2 \(2, 1, 1, 2048\) \[.*cat.png.*dog.png.*\] \[\(.*notes.txt",
        r"\d+ restored; \['mine/logits/biases', 'mine/logits/weights'\] "
        r"left new",
    ],
    'docs/features.md': [
        r"2 \(2, 2048\) images/(cat|dog)\.png",
    ],
    'docs/search.md': [
        r'True 1\.0',
    ],
    'docs/python.md': [
        r'1001 classes and the net 1000.*background',
        r'\(299, 299, 3\) -?[01]\.\d+ -?[01]\.\d+',
        r"\['global_pool', 'probabilities'\]",
        r"\['resnet_v2_50/predictions/Reshape_1'\]",
    ],
}
EXAMPLES = [(page, index) for page in PAGES
            for index in range(len(BLOCKS[page]))]


@pytest.mark.quick
def test_every_example_has_an_expectation():
  assert {page: len(blocks) for page, blocks in BLOCKS.items() if blocks} == {
      page: len(expected) for page, expected in EXPECTED.items()}


@pytest.mark.quick
@pytest.mark.parametrize('page', PAGES)
def test_every_link_leads_to_a_file(page):
  text = (ROOT / page).read_text()
  links = re.findall(r'\]\(([^)#:]+)\)', text)
  missing = [link for link in links
             if not ((ROOT / page).parent / link).exists()]
  assert not missing, missing


@pytest.mark.parametrize('page, index', EXAMPLES)
def test_example_runs(workdir, page, index):
  done = subprocess.run([sys.executable, '-c', BLOCKS[page][index]],
                        cwd=workdir, capture_output=True, text=True,
                        timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  assert re.search(EXPECTED[page][index], done.stdout, re.S), done.stdout
