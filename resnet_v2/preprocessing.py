"""Image preprocessing the published checkpoints expect.

The TF-Slim ResNet v2 checkpoints (resnet_v2_50/101/152, 2017) were trained
and evaluated with Inception preprocessing at 299x299: pixels scaled to
[-1, 1], evaluation on a central crop of 87.5% of the image. ResNet v1
checkpoints used VGG preprocessing (per-channel mean subtraction) instead;
feeding a v2 net VGG-style input is a common, silent accuracy loss.
"""

import tensorflow as tf

# Which preprocessing and size each published checkpoint expects.
CHECKPOINT_PREPROCESSING = {
    'resnet_v2_50': ('inception', 299),
    'resnet_v2_101': ('inception', 299),
    'resnet_v2_152': ('inception', 299),
}

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


def preprocess_for_train(image, height, width, seed=None,
                         area_range=(0.08, 1.0),
                         aspect_ratio_range=(3 / 4, 4 / 3)):
  """Inception training preprocessing: random crop, flip, resize, scale.

  Args:
    image: One image [height, width, 3], uint8 or float in [0, 1].
    height, width: Output size.
    seed: Optional op seed.
    area_range: Range of the crop's fraction of the image area.
    aspect_ratio_range: Range of the crop's width / height.

  Returns:
    float32 [height, width, 3] in [-1, 1].
  """
  image = tf.image.convert_image_dtype(_check_image(image), tf.float32)
  begin, size, _ = tf.image.sample_distorted_bounding_box(
      tf.shape(image), tf.zeros([0, 0, 4]), seed=seed,
      min_object_covered=0.1, aspect_ratio_range=aspect_ratio_range,
      area_range=area_range, max_attempts=100,
      use_image_if_no_bounding_boxes=True)
  image = tf.slice(image, begin, size)
  image = tf.image.random_flip_left_right(image, seed=seed)
  image = tf.image.resize(image, [height, width], method='bilinear')
  return (tf.clip_by_value(image, 0.0, 1.0) - 0.5) * 2.0


def decode_image(contents):
  """Decodes JPEG, PNG, GIF (first frame) or BMP bytes to uint8 [H, W, 3]."""
  return tf.io.decode_image(contents, channels=3, expand_animations=False)


def read_image(path):
  """Reads and decodes one image file (eager or graph)."""
  return decode_image(tf.io.read_file(path))
