"""One served features folder: its index, its net (loaded on first image
query, behind a `batcher.Batcher`), and the answers clip-retrieval's API
gives (`knn`, `describe`)."""

import threading

import numpy as np

from resnet_v2.search import dedup
from resnet_v2.search import nearest
from resnet_v2.service import batcher as batcher_lib

# Pixels an uploaded query image may have (by its header, before decoding).
QUERY_MAX_PIXELS = 40_000_000
# clip-retrieval's: results this close to an earlier one are dropped when
# `deduplicate` is asked.
DEDUPLICATE_SIMILARITY = 0.94
QUERY_SECONDS = 60


class RequestError(Exception):
  """A request the service refuses: an HTTP status and why, in words."""

  def __init__(self, status, message):
    super().__init__(message)
    self.status, self.message = status, message


class Collection:
  """An indexed features folder, served under its folder's name."""

  def __init__(self, name, folder, queue_size, window, max_batch):
    self.name, self.folder = name, folder
    self.index = nearest.Index.load(folder)
    self._options = (queue_size, window, max_batch)
    self._batcher, self._lock = None, threading.Lock()

  def batcher(self):
    """The net's batcher (the net loads on first use)."""
    with self._lock:
      if self._batcher is None:
        net, end_point = self.index.net(), self.index.end_point
        queue_size, window, max_batch = self._options
        self._batcher = batcher_lib.Batcher(
            lambda images: self.index.vectors(net.run(images, [end_point])[
                end_point]), queue_size, window, max_batch)
      return self._batcher

  def image_vector(self, contents):
    """The vector of an encoded image, through the batched net.

    Raises:
      RequestError: 400 for what is not a readable image, 503 when the
        queue is full.
    """
    batcher = self.batcher()
    try:
      image = self.index.net().read_image(contents, QUERY_MAX_PIXELS)
    except ValueError as error:
      raise RequestError(400, 'image: not a readable image (%s).' %
                         error) from None
    try:
      future = batcher.submit(image)
    except batcher_lib.Overloaded:
      raise RequestError(503, 'the server is at capacity; retry in a '
                         'second.') from None
    return future.result(timeout=QUERY_SECONDS)

  def check_id(self, item_id):
    """Raises RequestError (404) for an id the index does not hold."""
    if not 0 <= item_id < len(self.index.names):
      raise RequestError(404, 'id %d: %s holds ids 0 to %d.' % (
          item_id, self.name, len(self.index.names) - 1))

  def stored_vector(self, item_id):
    """The indexed vector of one id.

    Raises:
      RequestError: 404 for an id the index does not hold.
    """
    self.check_id(item_id)
    return self.index.vectors(dedup.vectors_of(self.index, np.array(
        [item_id])))[0]

  def knn(self, vector, count, deduplicate, keep):
    """[(id, similarity)] of the nearest indexed images, nearest first: of
    the count nearest, the first keep (with deduplicate, those not as
    close as DEDUPLICATE_SIMILARITY to one kept before them)."""
    hits = self.index.search(np.asarray(vector, np.float32)[None], count)[0]
    key = 'similarity' if self.index.record['metric'] == 'ip' else 'distance'
    found = [(hit['id'], hit[key]) for hit in hits]
    if not deduplicate or len(found) < 2:
      return found[:keep]
    stored = self.index.vectors(dedup.vectors_of(
        self.index, np.array([i for i, _ in found])))
    kept = [0]
    for position in range(1, len(found)):
      if len(kept) == keep:
        break
      if float(np.max(stored[kept] @ stored[position])) < (
          DEDUPLICATE_SIMILARITY):
        kept.append(position)
    return [found[position] for position in kept]

  def describe(self, item_id, base_url):
    """clip-retrieval's metadata of one image: url (served here), caption
    (its name), and its label where known."""
    meta = {'url': '%simages/%s/%d' % (base_url, self.name, item_id),
            'caption': self.index.names[item_id]}
    label = int(self.index.labels[item_id])
    if label >= 0:
      meta['label'] = label
    return meta
