"""serve/worker.py: the net runs its warm-up on blank images before the
input pipeline starts."""

import numpy as np
import pytest

from resnet_v2.data import collection
from resnet_v2.serve import worker
from test_inputs import write_image


class _Stop(Exception):
  pass


class _RecordingNet:
  """Records the net's calls; stops the run when the pipeline is built."""
  image_size = 24

  def __init__(self):
    self.events = []

  def run(self, images, names):
    self.events.append(('run', images.shape, float(np.abs(images).max()),
                        tuple(names)))

  def dataset(self, *args, **kwargs):
    del args, kwargs
    self.events.append(('dataset',))
    raise _Stop()


@pytest.mark.quick
def test_the_net_warms_up_on_blank_images_before_the_pipeline_starts(
    tmp_path):
  for index in range(3):
    write_image(tmp_path / 'images' / ('%d.png' % index),
                np.full((10, 12, 3), index, np.uint8))
  source = collection.open_collection([str(tmp_path / 'images')])
  job = worker.ShardJob(str(tmp_path / 'out'), ('global_pool', 'logits'),
                        {'global_pool': [1, 1, 4], 'logits': [1, 1, 2]},
                        batch_size=32)
  net = _RecordingNet()
  with pytest.raises(_Stop):
    worker.run_shards(net, job, [(0, source)])
  runs, images = worker.WARM_UP
  assert runs >= 1 and images >= 2   # a batch function, not batch 1's
  assert net.events == [('run', (images, 24, 24, 3), 0.0,
                         ('global_pool', 'logits'))] * runs + [('dataset',)]
  # Never more than a batch, and nothing at all without shards.
  small = worker.ShardJob(job.folder, job.end_points, job.shapes,
                          batch_size=2)
  net = _RecordingNet()
  with pytest.raises(_Stop):
    worker.run_shards(net, small, [(0, source)])
  assert net.events[0][1] == (2, 24, 24, 3)
  net = _RecordingNet()
  assert worker.run_shards(net, job, []) == 0 and net.events == []
  # Once per net: a second call (a Ray actor's next batch of shards) goes
  # straight to the pipeline.
  warmed = _RecordingNet()
  for _ in range(2):
    with pytest.raises(_Stop):
      worker.run_shards(warmed, job, [(0, source)])
  assert [e[0] for e in warmed.events] == ['run'] * runs + ['dataset'] * 2
