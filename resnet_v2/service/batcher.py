"""Concurrent image queries batched through the net: a bounded queue and a
short batch window, in one thread that owns the net.

A request thread decodes and preprocesses its image (`Model.read_image`),
then `submit`s it: the batcher thread takes what is queued, waits at most
the window for more (up to max_batch), runs them as one batch and hands
each request its vector. A full queue refuses at once (`Overloaded`): past
capacity the server answers 503 quickly instead of letting requests time
out.
"""

import concurrent.futures
import queue
import threading
import time

import numpy as np


class Overloaded(Exception):
  """The queue is full: try again later."""


class Batcher:
  """Runs embed(images [n, size, size, 3]) -> vectors [n, dims] on batches.

  Attributes:
    batches, images: How many batches and images ran (for /metrics).
  """

  def __init__(self, embed, queue_size=64, window=0.005, max_batch=16):
    self._embed, self._window, self._max_batch = embed, window, max_batch
    self._queue = queue.Queue(maxsize=queue_size)
    self.batches = self.images = 0
    self._thread = threading.Thread(target=self._loop, daemon=True,
                                    name='resnet-v2 serve batcher')
    self._thread.start()

  def depth(self):
    return self._queue.qsize()

  def submit(self, image):
    """A future of image's vector.

    Raises:
      Overloaded: if the queue is full.
    """
    future = concurrent.futures.Future()
    try:
      self._queue.put_nowait((image, future))
    except queue.Full:
      raise Overloaded() from None
    return future

  def _take(self):
    items = [self._queue.get()]
    deadline = time.monotonic() + self._window
    while len(items) < self._max_batch:
      left = deadline - time.monotonic()
      try:
        items.append(self._queue.get(timeout=left) if left > 0 else
                     self._queue.get_nowait())
      except queue.Empty:
        break
    return items

  def _loop(self):
    while True:
      items = self._take()
      try:
        vectors = self._embed(np.stack([image for image, _ in items]))
      except Exception as error:  # pylint: disable=broad-except
        for _, future in items:
          future.set_exception(error)
        continue
      self.batches += 1
      self.images += len(items)
      for (_, future), vector in zip(items, vectors):
        future.set_result(vector)
