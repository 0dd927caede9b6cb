"""Inception preprocessing and decoding."""

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2.data import preprocessing

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)


def test_eval_scales_to_minus_one_one_and_crops_the_center():
  image = np.zeros((80, 80, 3), np.uint8)
  image[10:70, 10:70] = 255          # the central 75% is white
  out = preprocessing.preprocess_for_eval(image, 32, 48,
                                          central_fraction=0.75).numpy()
  assert out.shape == (32, 48, 3) and out.dtype == np.float32
  np.testing.assert_allclose(out, 1.0, atol=1e-6)   # the border was cut off
  whole = preprocessing.preprocess_for_eval(image, 80, 80,
                                            central_fraction=None).numpy()
  assert whole.min() == -1.0 and whole.max() == 1.0


def test_unit_range_scaling_is_inceptions_not_vggs():
  pixels = np.array([[[0, 128, 255]]], np.uint8)
  np.testing.assert_allclose(preprocessing.scale_to_unit_range(pixels),
                             [[[-1.0, 128 / 255 * 2 - 1, 1.0]]], atol=1e-6)


def test_train_crops_flips_and_stays_in_range():
  image = np.tile(np.linspace(0, 255, 64, dtype=np.float32)[None, :, None],
                  (64, 1, 3)).astype(np.uint8)
  outs = [preprocessing.preprocess_for_train(image, 24, 24, [0, i]).numpy()
          for i in range(8)]
  assert all(o.shape == (24, 24, 3) for o in outs)
  assert all(-1.0 <= o.min() and o.max() <= 1.0 for o in outs)
  # The left-to-right ramp is mirrored in some crops and not in others.
  slopes = {np.sign(o[:, -1].mean() - o[:, 0].mean()) for o in outs}
  assert slopes == {-1.0, 1.0}
  # Stateless: the same seed gives the same crop.
  np.testing.assert_array_equal(
      outs[3], preprocessing.preprocess_for_train(image, 24, 24, [0, 3]))


@pytest.mark.parametrize('scheme', sorted(preprocessing.SCHEMES))
def test_every_scheme_gives_the_size_asked_for(scheme):
  image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), np.uint8)
  fn = preprocessing.SCHEMES[scheme]
  for training in (False, True):
    out = fn(image, 32, 32, training=training, seed=[1, 2]).numpy()
    assert out.shape == (32, 32, 3) and out.dtype == np.float32
  assert np.allclose(fn(image, 32, 32, True, [1, 2]),
                     fn(image, 32, 32, True, [1, 2]))


def test_vgg_subtracts_the_imagenet_means():
  image = np.full((300, 400, 3), 128, np.uint8)
  out = preprocessing.vgg_preprocess(image, 224, 224).numpy()
  np.testing.assert_allclose(out[0, 0], 128 - np.array(
      preprocessing.VGG_MEANS), atol=1e-3)


def test_decode_png_and_jpeg_bytes():
  image = np.random.default_rng(0).integers(0, 255, (9, 7, 3), np.uint8)
  png = tf.io.encode_png(image)
  np.testing.assert_array_equal(preprocessing.decode_image(png), image)
  jpeg = tf.io.encode_jpeg(image, quality=100)
  assert preprocessing.decode_image(jpeg).shape == (9, 7, 3)
  gray = tf.io.encode_png(image[:, :, :1])
  assert preprocessing.decode_image(gray).shape == (9, 7, 3)
  with pytest.raises(tf.errors.InvalidArgumentError):
    preprocessing.decode_image(b'not an image')


def test_header_pixels_agree_eager_and_in_a_graph():
  import io  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  encoded = []
  for fmt, size in (('JPEG', (30, 20)), ('PNG', (7, 300)), ('GIF', (25, 9)),
                    ('BMP', (11, 13))):
    out = io.BytesIO()
    Image.new('RGB', size).save(out, fmt)
    encoded.append((out.getvalue(), size[0] * size[1]))
  # A top-down BMP stores its height negative.
  flipped = bytearray(encoded[3][0])
  flipped[22:26] = (2 ** 32 - 13).to_bytes(4, 'little')
  encoded += [(bytes(flipped), 11 * 13), (b'not an image at all, no', -1),
              (b'\x89PNG', -1)]
  graph = tf.function(preprocessing.encoded_image_pixels,
                      input_signature=[tf.TensorSpec([], tf.string)])
  for data, pixels in encoded:
    assert int(preprocessing.encoded_image_pixels(data)) == pixels
    assert int(preprocessing.encoded_image_pixels(tf.constant(data))) == pixels
    assert int(graph(tf.constant(data))) == pixels


def test_a_batch_is_refused_with_a_hint():
  with pytest.raises(ValueError, match='map the function over a batch'):
    preprocessing.preprocess_for_eval(np.zeros((2, 8, 8, 3)), 4, 4)
