"""webdataset / img2dataset tar shards as a source, read as streams.

A shard `NNNNN.tar` holds samples as consecutive members sharing a key:
`KEY.jpg` (or .jpeg, .png, .webp, .bmp, .gif) with `KEY.json`, `KEY.txt`
(img2dataset's metadata and caption) and, in webdataset's convention,
`KEY.cls` (a class number). Members are read one after the other from the
tar stream (`tarfile` 'r|*'), never extracted to disk; only the image and
the class of each sample are kept.
"""

import os
import tarfile

import numpy as np

from resnet_v2.data import sources

IMAGE_EXTENSIONS = ('jpg', 'jpeg', 'png', 'webp', 'bmp', 'gif')


def webdataset_source(paths):
  """A source of tar shards (in the order given).

  Raises:
    ValueError: naming a shard that does not exist.
  """
  missing = [p for p in paths if not os.path.isfile(p)]
  if missing:
    raise ValueError('%s does not exist: give webdataset .tar shards.' %
                     missing[0])
  return sources.Source('webdataset', list(paths), list(paths), None, None)


def _key_and_extension(name):
  """webdataset's split of a member name: the key is everything before the
  first dot of the base name."""
  folder, base = os.path.split(name)
  key, _, extension = base.partition('.')
  return os.path.join(folder, key), extension.lower()


def samples(path, skipped=None):
  """Yields (encoded image bytes, class or -1, name 'SHARD/KEY') of one
  shard, streamed; a damaged shard is named in skipped (when given) from
  where it breaks, and the samples before stay.

  Raises:
    ValueError: on a damaged shard when skipped is None.
  """
  current, image, label = None, None, -1

  def sample():
    return image, label, '%s/%s' % (path, current)
  try:
    with tarfile.open(path, 'r|*') as archive:
      for member in archive:
        if not member.isfile():
          continue
        key, extension = _key_and_extension(member.name)
        if key != current:
          if image is not None:
            yield sample()
          current, image, label = key, None, -1
        if extension in IMAGE_EXTENSIONS and image is None:
          image = archive.extractfile(member).read()
        elif extension == 'cls':
          text = archive.extractfile(member).read().strip()
          label = int(text) if text.isdigit() else -1
  except (tarfile.TarError, EOFError, OSError, zlib_error()) as error:
    if skipped is None:
      raise ValueError('%s is damaged after sample %s: %s' % (
          path, current, error)) from None
    skipped.add('%s/%s' % (path, current or '(start)'),
                'damaged tar shard from here on: %s' % error)
    return
  if image is not None:
    yield sample()


def zlib_error():
  import zlib  # pylint: disable=g-import-not-at-top
  return zlib.error


def chunks(source, skipped, size):
  """Yields (names [n] object, images [n] object, labels [n] int64) of
  every shard of a source, `size` samples at a time."""
  batch = []
  for path in source.items:
    for item in samples(path, skipped):
      batch.append(item)
      if len(batch) == size:
        yield _columns(batch)
        batch = []
  if batch:
    yield _columns(batch)


def _columns(batch):
  images, labels, names = zip(*batch)
  return (np.asarray(images, object), np.asarray(labels, np.int64),
          np.asarray([os.fsencode(n) for n in names], object))
