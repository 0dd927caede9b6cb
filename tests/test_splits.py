"""data.splits: which data trains and which validates, as each kind of
source says (`sources.SourceKind.validation`)."""

import os

import numpy as np
import pytest

from resnet_v2.data import splits
from resnet_v2.data import sources
from test_idx import write_split
from test_inputs import write_tfrecord

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def test_each_kind_says_where_training_finds_validation(tmp_path):
  assert {kind: traits.validation for kind, traits in sources.KINDS.items()
          } == {'folder': 'held out', 'files': None, 'arrays': None,
                'idx': 'held out', 'cifar10': 'test split',
                'tfrecord': 'beside', 'webdataset': None}
  write_split(tmp_path, 'train', 40, 0, classes=2)
  write_split(tmp_path, 't10k', 5, 1, classes=2)
  train, val, note = splits.training_sources(str(tmp_path), val_fraction=0.25)
  assert (len(train.items), len(val.items), note) == (30, 10, None)
  assert not set(train.items) & set(val.items)



def test_tfrecords_validate_on_the_validation_files_beside_them(tmp_path):
  image = np.zeros((8, 8, 3), np.uint8)
  write_tfrecord(tmp_path / 'train-00000-of-00001', [(image, 1)] * 3)
  _, val, note = splits.training_sources(str(tmp_path / 'train-*'))
  assert val is None and note.startswith('note: no validation data')
  write_tfrecord(tmp_path / 'validation-00000-of-00001', [(image, 2)] * 2)
  train, val, note = splits.training_sources(str(tmp_path / 'train-*'))
  assert (train.kind, val.kind) == ('tfrecord', 'tfrecord')
  assert [os.path.basename(p) for p in val.items] == [
      'validation-00000-of-00001']
  assert note == 'validating on %s' % val.path


def test_given_validation_data_is_read_as_its_test_split(tmp_path):
  for folder in ('a', 'b'):
    (tmp_path / folder).mkdir()
    write_split(tmp_path / folder, 'train', 8, 0, classes=2)
    write_split(tmp_path / folder, 't10k', 4, 1, classes=2)
  train, val, note = splits.training_sources(str(tmp_path / 'a'),
                                             str(tmp_path / 'b'))
  assert (len(train.items), len(val.items), note) == (8, 4, None)


def test_val_fraction_zero_trains_on_all_and_validates_nothing(tmp_path):
  write_split(tmp_path, 'train', 40, 0, classes=2)
  write_split(tmp_path, 't10k', 5, 1, classes=2)
  train, val, note = splits.training_sources(str(tmp_path), val_fraction=0)
  assert val is None and len(train.items) == 40
  assert note.startswith('note: `val_fraction` 0: all of %s trains' %
                         tmp_path)
  for fraction in (1, 1.5, -0.1):
    with pytest.raises(ValueError, match=r'`val_fraction` is %g: give a '
                       r'share .* from 0 \(none held out\)' % fraction):
      splits.training_sources(str(tmp_path), val_fraction=fraction)
