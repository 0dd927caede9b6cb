"""Each kind of source is one entry: its traits (`sources.KINDS`) and its
reader (`readers.READERS`) name the same kinds, and the traits say what
the readers yield."""

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2.data import readers
from resnet_v2.data import sources

pytestmark = pytest.mark.quick


def test_every_kind_has_traits_and_a_reader():
  assert set(readers.READERS) == set(sources.KINDS)
  with pytest.raises(ValueError, match="Unknown source kind 'zip'"):
    readers.records(sources.Source('zip', 'x', [], None, None), False, 0,
                    None)


def test_pixels_are_what_a_reader_yields_undecoded(tmp_path):
  image = np.full((8, 8, 3), 7, np.uint8)
  (tmp_path / 'a.png').write_bytes(tf.io.encode_png(image).numpy())
  files = sources.files_source([str(tmp_path / 'a.png')])
  arrays = sources.arrays_source(image[None], np.array([0]), ['x'])
  for source in (files, arrays):
    first, _, _ = next(iter(readers.records(source, False, 0, None)))
    # Encoded bytes (a path, read with the decoding) unless pixels.
    assert (first.dtype == tf.uint8) == sources.kind_of(source).pixels
  assert sources.kind_of(files).reads_files
  assert not sources.kind_of(arrays).reads_files


def test_each_kind_counts_what_its_reader_yields(tmp_path):
  from test_idx import write_split  # pylint: disable=g-import-not-at-top
  from test_inputs import write_tfrecord  # pylint: disable=g-import-not-at-top
  from resnet_v2.data import inputs  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  image = rng.integers(0, 255, (8, 8, 3), np.uint8)
  (tmp_path / 'a.png').write_bytes(tf.io.encode_png(image).numpy())
  (tmp_path / 'idx').mkdir()
  write_split(tmp_path / 'idx', 'train', 7, 0)
  for shard in range(2):
    write_tfrecord(tmp_path / ('train-%05d-of-00002' % shard),
                   [(image, 1)] * (shard + 2))
  kinds = [sources.files_source([str(tmp_path / 'a.png')]),
           sources.arrays_source(np.stack([image] * 3), np.zeros(3, int),
                                 ['x']),
           inputs.open_source(str(tmp_path / 'idx')),
           inputs.open_source(str(tmp_path / 'train-*'))]
  assert [s.kind for s in kinds] == ['files', 'arrays', 'idx', 'tfrecord']
  for source in kinds:
    yielded = sum(1 for _ in readers.records(source, False, 0, None))
    assert readers.count(source) == yielded, source.kind
  assert [readers.count(s) for s in kinds] == [1, 3, 7, 5]

