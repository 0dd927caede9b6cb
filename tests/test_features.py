"""Feature files, skipped files, atomic writes, and the resnet-v2 command."""

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import cli
from resnet_v2.data import labels
from resnet_v2.serve import features
from resnet_v2.serve import model as model_lib
from nets_for_tests import write_checkpoint
import resnet_v2


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
  folder = tmp_path_factory.mktemp('images')
  rng = np.random.default_rng(0)
  for name in ('b.png', 'a.png', 'sub/c.jpg'):
    path = folder / name
    path.parent.mkdir(exist_ok=True)
    pixels = rng.integers(0, 255, (40, 36, 3), np.uint8)
    encode = tf.io.encode_png if name.endswith('png') else tf.io.encode_jpeg
    path.write_bytes(encode(pixels).numpy())
  (folder / 'notes.txt').write_text('not an image')
  (folder / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
  return folder


@pytest.fixture(scope='module')
def model():
  # Seeded: random weights differ per draw, and so does how far oneDNN's
  # batch-size-dependent kernels drift on features of magnitude ~100.
  return model_lib.Model.load(model='resnet_v2_50', image_size=32, seed=0)


def test_features_file_holds_end_points_in_file_order(image_folder, model,
                                                      tmp_path):
  output = tmp_path / 'features.npz'
  names = ['global_pool', 'resnet_v2_50/block2']
  count, skipped = features.extract_features(
      [str(image_folder)], str(output), model, end_points=names, batch_size=2,
      progress=False)
  assert count == 3
  assert sorted(p.split('/')[-1] for p, _ in skipped) == ['broken.png',
                                                         'notes.txt']
  saved = np.load(output)
  files = [str(image_folder / n) for n in ('a.png', 'b.png', 'sub/c.jpg')]
  assert saved['file_names'].tolist() == files
  assert saved['global_pool'].shape == (3, 1, 1, 2048)
  assert saved['resnet_v2_50/block2'].shape == (3, 2, 2, 512)
  # Row i is what the net computes for file i on its own (oneDNN picks
  # other kernels for other batch sizes: equal to float32 rounding).
  for index, path in enumerate(files):
    alone = model.run(model.read_image(path)[None], names)
    for name in names:
      np.testing.assert_allclose(saved[name][index], alone[name][0],
                                 rtol=1e-4, atol=1e-4)


def test_interrupted_write_leaves_the_old_file(image_folder, model, tmp_path,
                                               monkeypatch):
  output = tmp_path / 'features.npz'
  output.write_bytes(b'previous results')

  def savez_then_interrupt(file, **arrays):
    file.write(b'half of an npz')
    raise KeyboardInterrupt
  monkeypatch.setattr(features.np, 'savez', savez_then_interrupt)
  with pytest.raises(KeyboardInterrupt):
    features.extract_features([str(image_folder / 'a.png')], str(output),
                              model, progress=False, overwrite=True)
  assert output.read_bytes() == b'previous results'
  assert [p.name for p in tmp_path.iterdir()] == ['features.npz']


def test_a_file_the_user_had_is_kept_unless_overwrite(image_folder, model,
                                                      tmp_path):
  output = tmp_path / 'results.npz'
  output.write_bytes(b'the user\'s own')
  with pytest.raises(ValueError, match='not written by resnet_v2.*'
                     '`overwrite`'):
    features.extract_features([str(image_folder / 'a.png')], str(output),
                              model, progress=False)
  assert output.read_bytes() == b'the user\'s own'
  # Its own earlier output is replaced; a missing parent folder is made.
  again = tmp_path / 'new' / 'f.npz'
  for _ in range(2):
    features.extract_features([str(image_folder / 'a.png')], str(again),
                              model, progress=False)
  assert list(np.load(again)['file_names']) == [str(image_folder / 'a.png')]
  with pytest.raises(ValueError, match='inside the input'):
    features.extract_features([str(image_folder)],
                              str(image_folder / 'f.npz'), model,
                              progress=False)


def test_bad_requests_are_refused(image_folder, model, tmp_path):
  output = str(tmp_path / 'f.npz')
  with pytest.raises(ValueError, match="Unknown end_points \\['block9'\\]"):
    features.extract_features([str(image_folder)], output, model,
                              end_points=['block9'])
  with pytest.raises(ValueError, match='does not exist'):
    features.extract_features([str(tmp_path / 'none')], output, model)
  with pytest.raises(ValueError, match='None of the 1 files'):
    features.extract_features([str(image_folder / 'notes.txt')], output,
                              model, progress=False)
  assert not (tmp_path / 'f.npz').exists()


def test_features_command_warns_about_random_weights(image_folder, tmp_path,
                                                     capsys):
  output = tmp_path / 'out.npz'
  assert cli.main(['features', str(image_folder / 'a.png'),
                   str(image_folder / 'notes.txt'), '--image-size', '32',
                   '--end-point', 'resnet_v2_50/block4', '-o',
                   str(output)]) == 0
  captured = capsys.readouterr()
  assert 'RANDOM weights' in captured.err
  assert 'skipped 1 unreadable image(s)' in captured.err
  assert 'notes.txt: not an image' in captured.err
  assert 'Unknown image file format' in captured.err
  assert np.load(output)['resnet_v2_50/block4'].shape == (1, 1, 1, 2048)


def test_predict_prints_imagenet_names(image_folder, tmp_path, rng, capsys):
  checkpoint = tmp_path / 'r50.ckpt'
  write_checkpoint(checkpoint, lambda x: resnet_v2.resnet_v2_50(
      x, num_classes=1001), rng)
  assert cli.main(['predict', str(image_folder / 'a.png'), '--checkpoint',
                   str(checkpoint), '--image-size', '32']) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].endswith('a.png') and len(lines) == 6
  names = labels.imagenet_class_names(1001)
  percents = []
  for line in lines[1:]:
    percent, index, name = line.split(None, 2)
    assert names[int(index)] == name
    percents.append(float(percent.rstrip('%')))
  assert percents == sorted(percents, reverse=True)


def test_class_names():
  assert labels.imagenet_class_names(1001)[0] == 'background'
  assert labels.imagenet_class_names(1001)[1] == 'tench'
  assert labels.imagenet_class_names(1000)[281] == 'tabby'
  # 'crane' (bird, machine) and 'maillot' appear twice in ImageNet.
  assert len(set(labels.imagenet_class_names(1000))) == 998
  with pytest.raises(ValueError, match='1000 or 1001'):
    labels.imagenet_class_names(10)


def test_seed_makes_random_weights_reproducible(image_folder, model):
  again = model_lib.Model.load(model='resnet_v2_50', image_size=32, seed=0)
  image = model.read_image(str(image_folder / 'a.png'))[None]
  np.testing.assert_array_equal(model.run(image, ['global_pool'])['global_pool'],
                                again.run(image, ['global_pool'])['global_pool'])
