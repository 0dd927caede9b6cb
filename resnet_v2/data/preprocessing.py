"""Image preprocessing the published checkpoints expect.

The TF-Slim ResNet v2 checkpoints (resnet_v2_50/101/152, 2017) were trained
and evaluated with Inception preprocessing at 299x299: pixels scaled to
[-1, 1], evaluation on a central crop of 87.5% of the image. ResNet v1
checkpoints used VGG preprocessing (per-channel mean subtraction) instead;
feeding a v2 net VGG-style input is a common, silent accuracy loss.
"""

import tensorflow as tf

CENTRAL_FRACTION = 0.875


def _check_image(image):
  image = tf.convert_to_tensor(image)
  if image.shape.rank != 3:
    raise ValueError('image must be one [height, width, channels] image, got '
                     'shape %s; map the function over a batch.' % image.shape)
  return image


def scale_to_unit_range(image):
  """Converts an image to float32 in [-1, 1] (uint8 0..255 or float 0..1)."""
  image = tf.image.convert_image_dtype(image, tf.float32)
  return (image - 0.5) * 2.0


def preprocess_for_eval(image, height, width,
                        central_fraction=CENTRAL_FRACTION):
  """Inception evaluation preprocessing.

  Args:
    image: One image [height, width, 3], uint8 or float in [0, 1].
    height, width: Output size.
    central_fraction: Fraction of the image kept by the central crop; None
      keeps all of it.

  Returns:
    float32 [height, width, 3] in [-1, 1].

  Raises:
    ValueError: if image is not one rank-3 image.
  """
  image = tf.image.convert_image_dtype(_check_image(image), tf.float32)
  if central_fraction:
    image = tf.image.central_crop(image, central_fraction)
  image = tf.image.resize(image, [height, width], method='bilinear')
  return (tf.clip_by_value(image, 0.0, 1.0) - 0.5) * 2.0


def preprocess_for_train(image, height, width, seed=(0, 0), bboxes=None,
                         area_range=(0.08, 1.0),
                         aspect_ratio_range=(3 / 4, 4 / 3)):
  """Inception training preprocessing: random crop, flip, resize, scale.

  Stateless: the same `seed` gives the same crop and flip, so a resumed
  epoch sees exactly the images the interrupted one would have.

  Args:
    image: One image [height, width, 3], uint8 or float in [0, 1].
    height, width: Output size.
    seed: Shape [2] int seed of the stateless random ops.
    bboxes: Optional [1, N, 4] boxes (ymin, xmin, ymax, xmax in [0, 1]) the
      crop should cover at least 10% of; None uses the whole image.
    area_range: Range of the crop's fraction of the image area.
    aspect_ratio_range: Range of the crop's width / height.

  Returns:
    float32 [height, width, 3] in [-1, 1].
  """
  image = tf.image.convert_image_dtype(_check_image(image), tf.float32)
  if bboxes is None:
    bboxes = tf.zeros([1, 0, 4])
  begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
      tf.shape(image), bboxes, seed=seed, min_object_covered=0.1,
      aspect_ratio_range=aspect_ratio_range, area_range=area_range,
      max_attempts=100, use_image_if_no_bounding_boxes=True)
  image = tf.slice(image, begin, size)
  image = tf.image.stateless_random_flip_left_right(image, seed=seed)
  image = tf.image.resize(image, [height, width], method='bilinear')
  return (tf.clip_by_value(image, 0.0, 1.0) - 0.5) * 2.0


# ImageNet RGB means of TF-Slim's VGG preprocessing (ResNet v1 checkpoints).
VGG_MEANS = (123.68, 116.78, 103.94)
VGG_RESIZE_SIDE = 256


def vgg_preprocess(image, height, width, training=False, seed=(0, 0)):
  """TF-Slim's VGG preprocessing, as the ResNet v1 checkpoints expect.

  Resizes the smaller side to 256 (scaled with the output size), crops
  height x width (centre, or random in training with a flip) and subtracts
  the ImageNet RGB means; pixels stay in 0..255.

  Returns:
    float32 [height, width, 3].
  """
  image = tf.cast(_check_image(image), tf.float32)
  side = float(VGG_RESIZE_SIDE * max(height, width) / 224)
  shape = tf.cast(tf.shape(image)[:2], tf.float32)
  scale = side / tf.reduce_min(shape)
  image = tf.image.resize(image, tf.cast(tf.round(shape * scale), tf.int32),
                          method='bilinear')
  if training:
    image = tf.image.stateless_random_crop(image, [height, width, 3], seed)
    image = tf.image.stateless_random_flip_left_right(image, seed=seed)
  else:
    image = tf.image.resize_with_crop_or_pad(image, height, width)
  return image - tf.constant(VGG_MEANS)


def cifar_preprocess(image, height, width, training=False, seed=(0, 0),
                     pad=4):
  """The CIFAR papers' preprocessing: [0, 1] pixels; in training, pad by 4,
  crop back at a random offset and flip half (He et al. 2016, 4.2). The
  per-pixel mean is subtracted by the net's input layer (`pixel_mean`).

  Returns:
    float32 [height, width, 3] in [0, 1].
  """
  image = tf.image.convert_image_dtype(_check_image(image), tf.float32)
  image = tf.image.resize(image, [height, width], method='area')
  if training:
    image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    image = tf.image.stateless_random_crop(image, [height, width, 3], seed)
    image = tf.image.stateless_random_flip_left_right(image, seed=seed)
  return image


def cifar_preprocess_batch(images, height, width, training=False,
                           seed=(0, 0), pad=4):
  """`cifar_preprocess` of a whole batch at once: each image its own crop
  offset and flip, drawn from one seed, in a few vectorized ops.

  Args:
    images: uint8 [batch, h, w, 1 or 3] (gray is repeated to 3 channels).
    height, width: Output size.
    training: Pad by `pad`, crop back at a random offset and flip half.
    seed: Shape [2] int seed of the batch's stateless random ops.

  Returns:
    float32 [batch, height, width, 3] in [0, 1].
  """
  images = tf.image.convert_image_dtype(images, tf.float32)
  if images.shape[-1] == 1:
    images = tf.image.grayscale_to_rgb(images)
  if images.shape[1:3] != (height, width):
    images = tf.image.resize(images, [height, width], method='area')
  if not training:
    return images
  count = tf.shape(images)[0]
  offsets = tf.random.stateless_uniform([count, 2], seed, 0, 2 * pad + 1,
                                        dtype=tf.int32)
  flips = tf.random.stateless_uniform(
      [count], tf.random.experimental.stateless_fold_in(seed, 1)) < 0.5
  padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
  rows = offsets[:, :1] + tf.range(height)[None]
  columns = offsets[:, 1:] + tf.range(width)[None]
  columns = tf.where(flips[:, None], tf.reverse(columns, [1]), columns)
  cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
  return tf.gather(cropped, columns, axis=2, batch_dims=1)


def inception_preprocess(image, height, width, training=False, seed=(0, 0),
                         bboxes=None):
  """Inception preprocessing: `preprocess_for_train` or `_for_eval`."""
  if training:
    return preprocess_for_train(image, height, width, seed, bboxes)
  return preprocess_for_eval(image, height, width)


# name -> fn(image, height, width, training, seed) -> float32 image.
SCHEMES = {'inception': inception_preprocess, 'vgg': vgg_preprocess,
           'cifar': cifar_preprocess}


# Pillow's default decompression-bomb limit (Image.MAX_IMAGE_PIXELS): one
# image larger than this would need gigabytes once decoded to floats.
MAX_IMAGE_PIXELS = 89478485


def _header_integer(contents, offset, size, big_endian):
  """An unsigned integer of `size` bytes at `offset` of a string tensor."""
  raw = tf.cast(tf.io.decode_raw(tf.strings.substr(contents, offset, size),
                                 tf.uint8), tf.int64)
  if big_endian:
    raw = tf.reverse(raw, [0])
  return tf.reduce_sum(raw * tf.constant([256 ** i for i in range(size)],
                                         tf.int64))


def _header_pixels(data):
  """`encoded_image_pixels` of Python bytes, in Python: the same header
  fields, read with `int.from_bytes` (one eager op for JPEG) instead of a
  dozen eager string ops, which cost about 2 ms an image in the input
  pipeline's decode."""
  if len(data) < 26:
    return -1
  if data[:3] == b'\xff\xd8\xff':
    height, width = tf.image.extract_jpeg_shape(data)[:2].numpy()
    return int(height) * int(width)
  if data[:4] == b'\x89PNG':
    return int.from_bytes(data[16:20], 'big') * int.from_bytes(data[20:24],
                                                               'big')
  if data[:4] == b'GIF8':
    return int.from_bytes(data[6:8], 'little') * int.from_bytes(data[8:10],
                                                                'little')
  if data[:2] == b'BM':
    height = int.from_bytes(data[22:26], 'little')
    height = 2 ** 32 - height if height >= 2 ** 31 else height
    return int.from_bytes(data[18:22], 'little') * height
  return -1


def encoded_image_pixels(contents):
  """Height x width of encoded JPEG, PNG, GIF or BMP bytes, read from the
  header without decoding (graph or eager); -1 for other bytes (the
  decoder then says what is wrong)."""
  if tf.executing_eagerly():
    data = contents if isinstance(contents, bytes) else tf.convert_to_tensor(
        contents, tf.string).numpy()
    return tf.constant(_header_pixels(data), tf.int64)
  contents = tf.convert_to_tensor(contents, tf.string)
  long_enough = tf.strings.length(contents) >= 26
  magic = tf.strings.substr(contents, 0, 4)

  def header(offset, size, big_endian):
    return lambda: _header_integer(contents, offset, size, big_endian)

  def bmp():
    height = _header_integer(contents, 22, 4, False)
    height = tf.where(height >= 2 ** 31, 2 ** 32 - height, height)
    return _header_integer(contents, 18, 4, False) * height

  def jpeg():
    shape = tf.cast(tf.image.extract_jpeg_shape(contents), tf.int64)
    return shape[0] * shape[1]

  def unknown():
    return tf.constant(-1, tf.int64)
  return tf.case([
      (tf.logical_and(long_enough, tf.equal(tf.strings.substr(
          contents, 0, 3), b'\xff\xd8\xff')), jpeg),
      (tf.logical_and(long_enough, tf.equal(magic, b'\x89PNG')),
       lambda: header(16, 4, True)() * header(20, 4, True)()),
      (tf.logical_and(long_enough, tf.equal(magic, b'GIF8')),
       lambda: header(6, 2, False)() * header(8, 2, False)()),
      (tf.logical_and(long_enough, tf.equal(tf.strings.substr(
          contents, 0, 2), b'BM')), bmp),
  ], default=unknown, exclusive=True)


def decode_image(contents, max_pixels=MAX_IMAGE_PIXELS):
  """Decodes JPEG, PNG, GIF (first frame) or BMP bytes to uint8 [H, W, 3].

  Grayscale becomes RGB, alpha is dropped, 16-bit PNGs are scaled to 8 bits.
  An image of more than `max_pixels` pixels (by its header) is refused
  before it is decoded: an InvalidArgumentError naming its size (graph
  mode) or a ValueError (eager); None: no limit.
  """
  if max_pixels:
    pixels = encoded_image_pixels(contents)
    message = 'image larger than the %d-pixel limit' % max_pixels
    if tf.executing_eagerly():
      if int(pixels) > max_pixels:
        raise ValueError('%s: %d pixels' % (message, int(pixels)))
    else:
      with tf.control_dependencies([tf.debugging.assert_less_equal(
          pixels, tf.constant(max_pixels, tf.int64), message=message)]):
        contents = tf.identity(contents)
  image = tf.io.decode_image(contents, channels=3, expand_animations=False,
                             dtype=tf.uint8)
  image.set_shape([None, None, 3])
  return image


def read_image(path):
  """Reads and decodes one image file (eager or graph)."""
  return decode_image(tf.io.read_file(path))
