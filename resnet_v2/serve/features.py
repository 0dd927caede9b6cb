"""End points of image files, written to one .npz.

`extract_features` runs a `serve.model.Model` over image files and folders
(streamed through the input pipeline) and writes the chosen end_points of
every file that decodes, atomically; files that do not are skipped and
named.
"""

import os
import zipfile

import numpy as np

from resnet_v2 import files
from resnet_v2.data import preprocessing
from resnet_v2.data import sources


def is_features_file(path):
  """Whether path is an .npz this project wrote (a zip holding
  file_names.npy); read as a zip listing, nothing unpickled."""
  try:
    with zipfile.ZipFile(path) as archive:
      return 'file_names.npy' in archive.namelist()
  except (OSError, zipfile.BadZipFile):
    return False


def check_features_output(path, overwrite=False, inputs=()):
  """Raises files.OutputError unless features may be written to path: new,
  or an earlier features file; anything else only with overwrite; never
  inside an input. Missing parent folders are made."""
  files.check_output(path, overwrite, inputs, is_ours=is_features_file)
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)


def write_npz_atomically(path, arrays):
  """Writes arrays to path via a temp file and rename: never half-written."""
  with files.atomic_write(path) as out:
    np.savez(out, **arrays)


def extract_features(inputs, output, model, end_points=('global_pool',),
                     batch_size=16, progress=True, overwrite=False,
                     max_pixels=preprocessing.MAX_IMAGE_PIXELS):
  """Writes the end_points of image files to an .npz.

  Args:
    inputs: Image files and/or folders.
    output: Path of the .npz: one array per end point (keyed by its name)
      and 'file_names', in the same order as the arrays' first axis.
    model: A `serve.model.Model`.
    end_points: Names of end_points to save, e.g. 'global_pool' or
      'resnet_v2_50/block4'.
    batch_size: Images per run.
    progress: Show a progress line on a terminal.
    overwrite: Replace an existing output that is not a features file.
    max_pixels: Larger images are skipped without being decoded.

  Returns:
    (number of files written, list of (skipped path, reason)).

  Raises:
    ValueError: on missing inputs, unknown end_points, or no readable image.
    files.OutputError: if output may not be written (checked first).
  """
  if not end_points:
    raise ValueError('Give at least one end point name, e.g. global_pool.')
  if batch_size < 1:
    raise ValueError('batch_size must be >= 1, got %r.' % batch_size)
  paths = sources.list_image_files(inputs)
  check_features_output(output, overwrite, list(inputs))
  names, collected = [], {n: [] for n in end_points}
  for kept, outputs in model.iterate(paths, list(end_points), batch_size,
                                     'features' if progress else None,
                                     max_pixels):
    names.extend(kept)
    for n in end_points:
      collected[n].append(outputs[n])
  if not names:
    raise ValueError('None of the %d files could be read as an image; '
                     'nothing written. First: %s' % (len(paths),
                                                     model.skipped[0][1]))
  arrays = {n: np.concatenate(collected[n]) for n in end_points}
  arrays['file_names'] = np.array(names)
  write_npz_atomically(output, arrays)
  return len(names), model.skipped
