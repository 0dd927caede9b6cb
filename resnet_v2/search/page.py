"""An HTML page of `dedup`'s answer, to look at before dropping anything:
near-duplicate groups (largest first) or leaks, each image as a thumbnail
with its name and similarity.

The page is one self-contained file (thumbnails inline as JPEG data URIs),
so it opens anywhere the images are not; an image whose name is not a
readable file (a row of a dataset) shows its name alone. It is written
whole or not at all.
"""

import base64
import html

import numpy as np

from resnet_v2 import files

# Groups (or leaks) shown; the Parquet file holds them all.
MAX_SHOWN = 200
THUMBNAIL = 96      # pixels on the longer side, at most
# Bytes of an image file read for a thumbnail (larger files: name only).
MAX_FILE_BYTES = 32 * 2**20

_STYLE = ('body{font-family:sans-serif;margin:1em}'
          '.row{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 1.5em}'
          'figure{margin:0;width:%dpx;font-size:11px;word-break:break-all}'
          'figure.keep img{outline:3px solid #2a2}'
          'img{display:block;max-width:%dpx;max-height:%dpx}' % (
              (THUMBNAIL,) * 3))


def thumbnail(name):
  """A data URI of a small JPEG of the image file name, or None where name
  is not a readable image file."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    with open(name, 'rb') as handle:
      contents = handle.read(MAX_FILE_BYTES + 1)
    if len(contents) > MAX_FILE_BYTES:
      return None
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
  except (OSError, tf.errors.OpError):
    return None
  small = image
  if max(image.shape[:2]) > THUMBNAIL:    # shrunk, never enlarged
    small = tf.cast(tf.image.resize(image, (THUMBNAIL, THUMBNAIL),
                                    preserve_aspect_ratio=True), tf.uint8)
  return 'data:image/jpeg;base64,' + base64.b64encode(
      tf.io.encode_jpeg(small, quality=80).numpy()).decode()


def _figure(name, caption, keep=False):
  uri = thumbnail(name)
  picture = '<img src="%s" alt="">' % uri if uri else ''
  return '<figure%s>%s<figcaption>%s<br>%s</figcaption></figure>' % (
      ' class="keep"' if keep else '', picture, html.escape(name),
      html.escape(caption))


def _page(title, summary, rows):
  return ('<!doctype html><html><head><meta charset="utf-8"><title>%s'
          '</title><style>%s</style></head><body><h1>%s</h1><p>%s</p>%s'
          '</body></html>\n') % (html.escape(title), _STYLE,
                                 html.escape(title), html.escape(summary),
                                 ''.join(rows))


def groups_page(names, group, similarity, keep, threshold):
  """The page of near-duplicate groups (arrays as `dedup.groups` returns,
  names by id): the largest MAX_SHOWN groups, the kept image first."""
  sizes = np.bincount(group, minlength=len(group))
  shown = [g for g in np.argsort(-sizes, kind='stable') if sizes[g] > 1]
  rows = []
  for kept in shown[:MAX_SHOWN]:
    members = np.flatnonzero(group == kept)
    members = sorted(members, key=lambda i: (not keep[i], i))
    rows.append('<h2>%d images</h2><div class="row">%s</div>' % (
        len(members), ''.join(_figure(
            names[i], 'kept' if keep[i] else '%.4f' % similarity[i],
            bool(keep[i])) for i in members)))
  return _page('Near-duplicate groups', '%d groups of %d images at '
               'threshold %g (showing %d, largest first; the outlined image '
               'is kept)' % (len(shown), len(names), threshold,
                             min(len(shown), MAX_SHOWN)), rows)


def leaks_page(names, twins, similarity, threshold, metric='ip'):
  """The page of leaks: each image beside its near twin, closest first
  (highest similarity; lowest distance for metric l2)."""
  scores = np.asarray(similarity, np.float64)
  order = np.argsort(-scores if metric == 'ip' else scores, kind='stable')
  rows = ['<div class="row">%s%s</div>' % (
      _figure(names[i], 'leaked'), _figure(twins[i], '%.4f' % similarity[i]))
          for i in order[:MAX_SHOWN]]
  return _page('Leaks', '%d images have a near twin at threshold %g '
               '(showing %d, closest first)' % (
                   len(names), threshold, min(len(names), MAX_SHOWN)), rows)


def write(path, text):
  """Writes the page whole or not at all (the caller checked path)."""
  with files.atomic_write(path, 'w') as out:
    out.write(text)
