"""The features job on a real Ray cluster: a head and a second node, each
its own raylet and worker processes (`ray.cluster_utils.Cluster`, what
`ray start --head` and `ray start --address` start), the second node
killed mid-run. The job finishes and its output equals a single process's,
array for array."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from ray.cluster_utils import Cluster

from resnet_v2 import errors
from resnet_v2.serve import ray_distributor
from resnet_v2.serve import features
from resnet_v2.serve import model as model_lib
from resnet_v2.serve import shards
from test_shards import END_POINTS
from test_shards import MODEL
from test_shards import _images
from test_shards import checkpoint  # noqa: F401 (a fixture)


def _listing(root):
  return sorted(os.path.relpath(os.path.join(r, n), root)
                for r, _, names in os.walk(root) for n in names)


def test_a_node_killed_mid_run_changes_nothing_in_the_output(
    tmp_path, checkpoint):  # pylint: disable=redefined-outer-name
  images = _images(tmp_path / 'images', 96, broken=(5,))
  single = tmp_path / 'single'
  net = model_lib.Model.load(model=MODEL, checkpoint=checkpoint)
  features.extract_to_folder([str(images)], str(single), net, END_POINTS,
                             shard_size=8, batch_size=8)
  cluster = Cluster(initialize_head=True, head_node_args={'num_cpus': 1})
  try:
    second = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    output = tmp_path / 'cluster'
    child = subprocess.Popen(
        [sys.executable, '-m', 'resnet_v2.cli', 'features', '--model',
         MODEL, '--checkpoint', checkpoint, '--shard-size', '8',
         '--batch-size', '8', '--end-point', END_POINTS[0], '--end-point',
         END_POINTS[1], '--ray', cluster.address, str(images), '--output',
         str(output)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    deadline = time.time() + 300
    while (len(shards.complete_shards(str(output), 12)) < 2 and
           child.poll() is None and time.time() < deadline):
      time.sleep(0.2)
    assert child.poll() is None, child.communicate()
    cluster.remove_node(second)   # its raylet and workers die
    out, err = child.communicate(timeout=900)
    assert child.returncode == 0, err[-3000:]
    assert 'wrote %s: 95 image(s) in 12 shard(s)' % output in out
    # One line of ours says the node was lost; what Ray said meanwhile
    # (its warnings, the lost actors' retries) is in Ray's log, not here.
    lost = [line for line in err.splitlines() if 'left the cluster' in line]
    assert len(lost) == 1 and lost[0].startswith('note: 1 Ray node(s)'), err
    rays_log = lost[0].rsplit("Ray's log: ", 1)[1]
    assert os.path.isfile(rays_log), lost
    assert not [line for line in err.splitlines() if line not in lost and (
        'ray' in line.lower() or 'warning' in line.lower())], err[-3000:]
  finally:
    cluster.shutdown()
  assert _listing(output) == _listing(single)
  for name in END_POINTS:
    np.testing.assert_array_equal(shards.load(str(output), name),
                                  shards.load(str(single), name))


def test_without_ray_the_message_says_what_to_install(monkeypatch):
  monkeypatch.setitem(sys.modules, 'ray', None)
  with pytest.raises(errors.MissingDependencyError, match=(
      r"--ray needs the optional package ray, which is not installed: "
      r"pip install 'resnet_v2\[ray\]'")):
    ray_distributor.run_shards('auto', {}, None, [], [0])


def test_dedup_on_a_cluster_finds_what_one_process_finds(tmp_path):
  import pyarrow.parquet  # pylint: disable=g-import-not-at-top
  from features_for_tests import write_folder  # pylint: disable=g-import-not-at-top
  from resnet_v2.search import dedup  # pylint: disable=g-import-not-at-top
  from resnet_v2.search import index  # pylint: disable=g-import-not-at-top
  from test_dedup import planted  # pylint: disable=g-import-not-at-top
  vectors, copies = planted()
  folder = str(tmp_path / 'f')
  write_folder(tmp_path / 'f', [vectors[:200], vectors[200:400], vectors[400:]])
  index.build(folder)
  dedup.dedup(folder, 0.95, str(tmp_path / 'here.parquet'))
  cluster = Cluster(initialize_head=True, head_node_args={'num_cpus': 1})
  try:
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    done = subprocess.run(
        [sys.executable, '-m', 'resnet_v2.cli', 'dedup', folder, '--ray',
         cluster.address, '--output', str(tmp_path / 'ray.parquet')],
        capture_output=True, text=True, timeout=300)
  finally:
    cluster.shutdown()
  assert done.returncode == 0, done.stderr[-3000:]
  assert done.stdout.startswith('600 images: %d near-duplicate groups, %d '
                                'duplicates' % (len(set(copies.values())),
                                                len(copies))), done.stdout
  here = pyarrow.parquet.read_table(tmp_path / 'here.parquet').to_pydict()
  assert pyarrow.parquet.read_table(
      tmp_path / 'ray.parquet').to_pydict() == here
  assert sum(here['keep']) == 600 - len(copies)


def test_a_leak_report_is_not_sent_to_ray(tmp_path, capsys):
  from resnet_v2 import cli  # pylint: disable=g-import-not-at-top
  assert cli.main(['dedup', str(tmp_path), '--against', str(tmp_path),
                   '--ray', 'local', '-o', str(tmp_path / 'x.parquet')]) == 1
  assert 'drop --ray' in capsys.readouterr().err
  assert not (tmp_path / 'x.parquet').exists()
