"""ImageNet class names, in the order of the published classifiers' logits."""

import functools
import importlib.resources


@functools.lru_cache(maxsize=None)
def _imagenet_names():
  text = importlib.resources.files('resnet_v2.data').joinpath(
      'imagenet_class_names.txt').read_text()
  return tuple(line.replace('_', ' ') for line in text.splitlines() if line)


def imagenet_class_names(num_classes):
  """Names of the logits of an ImageNet classifier.

  Args:
    num_classes: 1001 (TF-Slim checkpoints: index 0 is 'background') or 1000
      (Keras, torchvision).

  Returns:
    A tuple of num_classes names.

  Raises:
    ValueError: for any other number of classes.
  """
  names = _imagenet_names()
  if num_classes == 1001:
    return ('background',) + names
  if num_classes == 1000:
    return names
  raise ValueError('ImageNet class names exist for 1000 or 1001 classes, not '
                   '%r; use your own label list.' % (num_classes,))
