"""Near-duplicate groups and leak reports of features folders."""

import numpy as np
import pyarrow.parquet
import pytest

from features_for_tests import write_folder
from resnet_v2 import files
from resnet_v2.search import dedup
from resnet_v2.search import index

pytestmark = pytest.mark.quick


def planted(count=600, dims=48, seed=0):
  """Random vectors with near copies planted: rows 500+ copy rows 10, 20,
  24, 28, ... (two copies of row 10 and of row 20, one of the rest)."""
  rng = np.random.default_rng(seed)
  vectors = rng.normal(size=(count, dims)).astype(np.float32)
  sources = [10, 10, 20, 20] + list(range(24, 24 + 4 * (count - 504), 4))
  for row, source in zip(range(500, count), sources):
    vectors[row] = vectors[source] + 0.01 * rng.normal(size=dims)
  return vectors, dict(zip(range(500, count), sources))


@pytest.mark.parametrize('budget', [None, 600 * 48])
def test_planted_copies_form_groups_that_keep_the_first(tmp_path, budget):
  vectors, copies = planted()
  write_folder(tmp_path / 'f', [vectors[:250], vectors[250:]])
  index.build(str(tmp_path / 'f'), **({'max_memory': budget} if budget
                                      else {}))
  output = tmp_path / 'groups.parquet'
  summary = dedup.dedup(str(tmp_path / 'f'), 0.95, str(output))
  table = pyarrow.parquet.read_table(output).to_pydict()
  assert table['name'][:3] == ['img_00000', 'img_00001', 'img_00002']
  group, keep = np.array(table['group']), np.array(table['keep'])
  expected = np.arange(600)
  for copy, source in copies.items():
    expected[copy] = source
  np.testing.assert_array_equal(group, expected)
  np.testing.assert_array_equal(keep, expected == np.arange(600))
  similarity = np.array(table['similarity'])
  assert (similarity[~keep] > 0.99).all() and (similarity[keep] == 1).all()
  assert summary == {'images': 600, 'groups': len(set(copies.values())),
                     'duplicates': len(copies)}


def test_leaks_name_the_other_folders_images_with_a_twin(tmp_path):
  vectors, _ = planted()
  write_folder(tmp_path / 'train', [vectors[:500]])
  index.build(str(tmp_path / 'train'))
  rng = np.random.default_rng(5)
  test = rng.normal(size=(40, 48)).astype(np.float32)
  test[[3, 17]] = vectors[[42, 99]] + 0.01 * rng.normal(size=(2, 48))
  write_folder(tmp_path / 'test', [test[:20], test[20:]],
               names=['test_%02d' % i for i in range(40)])
  output = tmp_path / 'leaks.parquet'
  summary = dedup.dedup(str(tmp_path / 'train'), 0.95, str(output),
                        against=str(tmp_path / 'test'))
  table = pyarrow.parquet.read_table(output).to_pydict()
  assert table['name'] == ['test_03', 'test_17']
  assert table['twin'] == ['img_00042', 'img_00099']
  assert summary == {'images': 40, 'leaks': 2}


def test_folders_of_different_nets_are_not_compared(tmp_path):
  vectors, _ = planted()
  write_folder(tmp_path / 'a', [vectors])
  write_folder(tmp_path / 'b', [vectors], image_size=64)
  index.build(str(tmp_path / 'a'))
  with pytest.raises(ValueError, match='image_size differ'):
    dedup.dedup(str(tmp_path / 'a'), 0.95, str(tmp_path / 'x.parquet'),
                against=str(tmp_path / 'b'))


def test_a_loose_threshold_is_refused_before_it_fills_memory(tmp_path):
  vectors = np.ones([1200, 8], np.float32) + 0.001 * np.random.default_rng(
      0).normal(size=(1200, 8)).astype(np.float32)
  write_folder(tmp_path / 'f', [vectors])
  index.build(str(tmp_path / 'f'))
  with pytest.raises(ValueError, match='too loose'):
    dedup.dedup(str(tmp_path / 'f'), 0.5, str(tmp_path / 'g.parquet'))
  assert not (tmp_path / 'g.parquet').exists()


def test_a_file_the_user_had_is_kept_unless_overwrite(tmp_path):
  vectors, _ = planted()
  write_folder(tmp_path / 'f', [vectors])
  index.build(str(tmp_path / 'f'))
  mine = tmp_path / 'mine.parquet'
  mine.write_bytes(b'my own table')
  with pytest.raises(files.OutputError, match='--overwrite'):
    dedup.dedup(str(tmp_path / 'f'), 0.95, str(mine))
  assert mine.read_bytes() == b'my own table'
  # A page the user had is kept too, and nothing is written: both outputs
  # are checked before the work.
  page = tmp_path / 'mine.html'
  page.write_text('my own page')
  with pytest.raises(files.OutputError, match='--overwrite'):
    dedup.dedup(str(tmp_path / 'f'), 0.95, str(tmp_path / 'new.parquet'),
                html=str(page))
  assert page.read_text() == 'my own page'
  assert not (tmp_path / 'new.parquet').exists()
  dedup.dedup(str(tmp_path / 'f'), 0.95, str(mine), overwrite=True)
  assert pyarrow.parquet.read_table(mine).num_rows == 600


def test_a_page_shows_names_that_are_not_files_escaped_and_largest_first():
  from resnet_v2.search import page  # pylint: disable=g-import-not-at-top
  names = ['a<b>', 'c', 'd', 'e', 'f']
  group = np.array([0, 1, 0, 1, 1])
  keep = np.array([True, True, False, False, False])
  similarity = np.array([1.0, 1.0, 0.97, 0.96, 0.99])
  text = page.groups_page(names, group, similarity, keep, 0.95)
  assert '<img' not in text and 'a&lt;b&gt;' in text and 'a<b>' not in text
  # The group of three first, its kept image first; then the pair.
  assert text.index('<h2>3 images</h2>') < text.index('<h2>2 images</h2>')
  order = [text.index('<figcaption>%s<br>' % n) for n in
           ('c', 'e', 'f', 'a&lt;b&gt;', 'd')]
  assert order == sorted(order)
  leaks = page.leaks_page(['x', 'y'], ['tx', 'ty'], [0.96, 0.99], 0.95)
  assert leaks.index('>y<br>') < leaks.index('>x<br>')
  distances = page.leaks_page(['x', 'y'], ['tx', 'ty'], [0.1, 0.3], 0.5, 'l2')
  assert distances.index('>x<br>') < distances.index('>y<br>')


def test_a_thumbnail_is_a_small_jpeg_never_enlarged(tmp_path):
  import base64  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from resnet_v2.search import page  # pylint: disable=g-import-not-at-top
  big, small = tmp_path / 'big.png', tmp_path / 'small.png'
  big.write_bytes(tf.io.encode_png(np.zeros((300, 150, 3), np.uint8)).numpy())
  small.write_bytes(tf.io.encode_png(np.zeros((20, 10, 3), np.uint8)).numpy())
  shapes = [tf.io.decode_jpeg(base64.b64decode(page.thumbnail(str(p)).split(
      ',', 1)[1])).shape for p in (big, small)]
  assert shapes == [(96, 48, 3), (20, 10, 3)]
  (tmp_path / 'text.png').write_text('not an image')
  assert page.thumbnail(str(tmp_path / 'text.png')) is None
  assert page.thumbnail(str(tmp_path / 'missing.png')) is None
