"""`resnet-v2 index`, `search`, `dedup` and `probe` on features a net wrote:
an image finds itself, copied files are grouped, a labelled dataset's
features probe above chance."""

import json
import shutil

import numpy as np
import pyarrow.parquet
import pytest
import tensorflow as tf

from nets_for_tests import seeded_checkpoint
from resnet_v2 import cli
from test_idx import write_split

MODEL = 'cifar_resnet_v1_20'


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
  return seeded_checkpoint(tmp_path_factory.mktemp('checkpoint'), MODEL)


@pytest.fixture(scope='module')
def features(tmp_path_factory, checkpoint):
  """A features folder of 30 images, two of them copies of image 4."""
  images = tmp_path_factory.mktemp('images')
  rng = np.random.default_rng(0)
  for index in range(28):
    (images / ('%02d.png' % index)).write_bytes(tf.io.encode_png(
        rng.integers(0, 255, (32, 32, 3), np.uint8)).numpy())
  for copy in ('28.png', '29.png'):
    shutil.copy(images / '04.png', images / copy)
  folder = tmp_path_factory.mktemp('out') / 'features'
  assert cli.main(['features', '--model', MODEL, '--checkpoint', checkpoint,
                   str(images), '--output', str(folder), '--shard-size',
                   '8', '--batch-size', '4']) == 0
  assert cli.main(['index', str(folder)]) == 0
  return images, folder


def test_an_image_of_the_folder_finds_itself_first(features, capsys):
  images, folder = features
  capsys.readouterr()
  assert cli.main(['search', str(folder), str(images / '11.png'),
                   str(images / '04.png'), '-k', '3', '--json']) == 0
  results = json.loads(capsys.readouterr().out)
  first = results[0]['results']
  assert first[0]['name'] == str(images / '11.png')
  # A random net's global_pool of noise images are alike (cosine about
  # 0.999): the image itself is nearer still, to float rounding.
  assert first[0]['similarity'] > 0.99999 > first[1]['similarity']
  copies = {hit['name'] for hit in results[1]['results']}
  assert copies == {str(images / n) for n in ('04.png', '28.png', '29.png')}


def test_a_vector_file_is_a_query(features, tmp_path, capsys):
  _, folder = features
  from resnet_v2.serve import shards  # pylint: disable=g-import-not-at-top
  vectors = shards.load(str(folder), 'global_pool').reshape(30, -1)
  np.save(tmp_path / 'q.npy', vectors[9])
  capsys.readouterr()
  assert cli.main(['search', str(folder), '--vector',
                   str(tmp_path / 'q.npy'), '-k', '1']) == 0
  assert capsys.readouterr().out.splitlines()[1].endswith('09.png')


def test_copied_files_form_one_group_shown_on_a_page(features, tmp_path,
                                                    capsys):
  import base64  # pylint: disable=g-import-not-at-top
  import re  # pylint: disable=g-import-not-at-top
  images, folder = features
  output, page = tmp_path / 'groups.parquet', tmp_path / 'groups.html'
  assert cli.main(['dedup', str(folder), '--threshold', '0.99999', '--output',
                   str(output), '--html', str(page)]) == 0
  table = pyarrow.parquet.read_table(output).to_pandas()
  dropped = table[~table['keep']]
  assert sorted(dropped['name']) == [str(images / n)
                                     for n in ('28.png', '29.png')]
  assert (table.loc[dropped.index, 'group'] == 4).all()
  assert '1 near-duplicate groups, 2 duplicates' in capsys.readouterr().out
  text = page.read_text()
  figures = re.findall(r'<figure( class="keep")?><img src="data:image/jpeg;'
                       r'base64,([^"]+)" alt=""><figcaption>([^<]+)<br>',
                       text)
  # One group: the kept image first (outlined), then its two copies; each
  # a JPEG thumbnail of the 32x32 image.
  assert [(keep, name) for keep, _, name in figures] == [
      (' class="keep"', str(images / '04.png')),
      ('', str(images / '28.png')), ('', str(images / '29.png'))]
  for _, data, _ in figures:
    assert tf.io.decode_jpeg(base64.b64decode(data)).shape == (32, 32, 3)
  assert '<h2>3 images</h2>' in text


def test_bad_requests_get_one_line_naming_the_fix(features, tmp_path,
                                                  capsys):
  images, folder = features
  assert cli.main(['search', str(folder)]) == 1
  assert 'give query images, or --vector' in capsys.readouterr().err
  assert cli.main(['search', str(tmp_path), str(images / '01.png')]) == 1
  assert 'not a features folder' in capsys.readouterr().err
  (tmp_path / 'x.txt').write_text('text')
  assert cli.main(['search', str(folder), str(tmp_path / 'x.txt')]) == 1
  err = capsys.readouterr().err
  assert 'x.txt is not a readable image' in err and len(
      err.strip().splitlines()) == 1
  assert cli.main(['index', str(folder), '--max-index-memory', 'lots']) == 1
  assert '512M or 4G' in capsys.readouterr().err


def test_probe_of_a_labelled_dataset_prints_top1_per_method(
    checkpoint, tmp_path, capsys):
  data = tmp_path / 'idx'
  data.mkdir()
  write_split(data, 'train', 60, 0, classes=3, size=8)
  write_split(data, 't10k', 30, 1, classes=3, size=8)
  for split in ('train', 'test'):
    assert cli.main(['features', '--model', MODEL, '--checkpoint',
                     checkpoint, str(data), '--split', split, '--output',
                     str(tmp_path / split)]) == 0
  capsys.readouterr()
  assert cli.main(['probe', '--train', str(tmp_path / 'train'), '--test',
                   str(tmp_path / 'test'), '--json']) == 0
  results = json.loads(capsys.readouterr().out)
  assert set(results['global_pool']) == {'logistic', 'knn'}
  for method in results['global_pool'].values():
    assert 0 <= method['top1'] <= 1
  assert cli.main(['features', '--model', MODEL, '--checkpoint', checkpoint,
                   str(data), '--split', 'test', '--output',
                   str(tmp_path / 'train')]) == 1
  assert 'split: "train" in the folder, "test" now' in capsys.readouterr().err
