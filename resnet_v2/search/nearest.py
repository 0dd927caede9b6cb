"""The nearest images of a features folder to a query: `Index.load(DIR)`.

A query is a vector (as the folder holds them) or an image file, run
through the net, weights, end point and preprocessing the folder's
manifest records, so an image of the folder finds itself first.
"""

import os

import numpy as np

from resnet_v2.search import index as index_lib
from resnet_v2.search import vectors as vectors_lib


class Index:
  """A features folder's FAISS index, memory-mapped, with its images'
  names.

  Attributes:
    folder: The features folder.
    record: index.json (end point, metric, factory, nprobe, recall).
    names: The indexed images' names, in id order.
    labels: Their labels (-1 where unknown), in id order.
  """

  def __init__(self, folder, record, faiss_index, manifest):
    self.folder, self.record, self.faiss_index = folder, record, faiss_index
    self.manifest = manifest
    self.names, self.labels = vectors_lib.metadata(folder, record['shards'])
    self._net = None

  @classmethod
  def load(cls, folder):
    """The index `resnet-v2 index DIR` built in folder.

    Raises:
      ValueError: if folder has no index, or the features changed since.
    """
    faiss = index_lib.faiss_module()
    manifest = vectors_lib.open_folder(folder)
    record = index_lib.read_record(folder)
    path = os.path.join(folder, index_lib.FOLDER, index_lib.INDEX_FILE)
    if record is None or not os.path.isfile(path):
      raise ValueError('%s has no index; build it with `resnet-v2 index %s`.'
                       % (folder, folder))
    if record['features'] != index_lib.features_key(manifest):
      raise ValueError('the features in %s were rewritten after its index '
                       'was built; run `resnet-v2 index %s` again.' % (
                           folder, folder))
    flag = getattr(faiss, 'IO_FLAG_MMAP_IFC', faiss.IO_FLAG_MMAP)
    faiss_index = faiss.read_index(path, flag)
    if record['nprobe']:
      faiss.extract_index_ivf(faiss_index).nprobe = record['nprobe']
    return cls(folder, record, faiss_index, manifest)

  @property
  def end_point(self):
    return self.record['end_point']

  def net(self):
    """The net the folder's features came from (loaded once)."""
    if self._net is None:
      from resnet_v2.serve import model  # pylint: disable=g-import-not-at-top
      self._net = model.Model.load(**self.manifest['net'])
    return self._net

  def image_vectors(self, paths, batch_size=32):
    """Vectors of image files, as the folder's features run made them.

    Raises:
      ValueError: naming a file that is not a readable image.
    """
    net = self.net()
    found = {}
    for kept, outputs in net.iterate(list(paths), [self.end_point],
                                     batch_size):
      for name, row in zip(kept, vectors_lib.as_vectors(
          outputs[self.end_point])):
        found[name] = row
    if net.skipped:
      path, reason = net.skipped[0]
      raise ValueError('query %s is not a readable image: %s.' % (path,
                                                                  reason))
    return np.stack([found[os.fsdecode(p)] for p in paths])

  def vectors(self, queries):
    """Float32 [n, dims] vectors of queries: an array of vectors, or a
    list of image paths.

    Raises:
      ValueError: on vectors of another length.
    """
    if isinstance(queries, (list, tuple)) and queries and isinstance(
        queries[0], (str, bytes, os.PathLike)):
      found = self.image_vectors(queries)
    else:
      found = np.asarray(queries, np.float32)
      found = vectors_lib.as_vectors(found[None] if found.ndim == 1 else
                                     found)
    if found.shape[1] != self.record['dimensions']:
      raise ValueError('query vectors have %d numbers; the index holds %s '
                       'of %d.' % (found.shape[1], self.end_point,
                                   self.record['dimensions']))
    if self.record['metric'] == 'ip':
      found = vectors_lib.normalized(found)
    return np.ascontiguousarray(found, np.float32)

  def search(self, queries, k=10):
    """The k nearest indexed images to each query.

    Args:
      queries: Vectors [n, dims] (or one [dims]), or image paths.
      k: Neighbours a query.

    Returns:
      [n] lists of {'name', 'label', 'id', and 'similarity' (cosine, for
      metric ip) or 'distance' (squared L2)}, nearest first.
    """
    found = self.vectors(queries)
    scores, ids = self.faiss_index.search(found, min(k, len(self.names)))
    key = 'similarity' if self.record['metric'] == 'ip' else 'distance'
    return [[{'name': self.names[i], 'label': int(self.labels[i]),
              'id': int(i), key: float(s)}
             for s, i in zip(row_scores, row_ids) if i >= 0]
            for row_scores, row_ids in zip(scores, ids)]

