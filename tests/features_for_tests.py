"""Features folders written from arrays (no net), for the search tests."""

from resnet_v2.serve import shards

NET = {'model': 'cifar_resnet_v1_20', 'weights': None,
       'conventions': 'tf-slim', 'image_size': 32,
       'preprocessing': 'cifar', 'engine': 'tensorflow',
       'precision': 'fp32'}


def write_folder(folder, blocks, labels=None, end_point='global_pool',
                 planned=None, names=None, **net):
  """A features folder whose shard i holds blocks[i] ([rows, dims] arrays,
  written as [rows, 1, 1, dims]); names default 'img_<global row>'.

  Args:
    planned: Shards the run plans (default len(blocks)); only blocks'
      shards are written, so more can be added later.
    net: Overrides of NET (another net's folder).
  """
  settings = dict(NET, **net)
  dims = blocks[0].shape[1]
  settings.update(end_points={end_point: [1, 1, dims]}, dtype='float32',
                  inputs=[], source_kind='files', class_names=None,
                  shard_size=None, shards=planned or len(blocks),
                  net={'model': settings['model']})
  manifest = shards.open_folder(str(folder), settings)
  start = 0
  for index, block in enumerate(blocks):
    rows = len(block)
    shard_names = (names[start:start + rows] if names else
                   ['img_%05d' % i for i in range(start, start + rows)])
    shard_labels = (labels[start:start + rows] if labels is not None else
                    [-1] * rows)
    shards.write_shard(str(folder), index, {end_point: block.reshape(
        rows, 1, 1, dims)}, shard_names, shard_labels)
    start += rows
  return shards.finish(str(folder), manifest)


def add_shard(folder, index, block, first_row, end_point='global_pool'):
  """Writes one more shard of a folder's plan and finishes it again."""
  rows, dims = block.shape
  shards.write_shard(str(folder), index, {end_point: block.reshape(
      rows, 1, 1, dims)}, ['img_%05d' % i for i in range(
          first_row, first_row + rows)], [-1] * rows)
  return shards.finish(str(folder), shards.read_manifest(str(folder)))
