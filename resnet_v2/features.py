"""Image files in, features and predictions out: a net with its session.

`ImageModel` builds a registered net in inference mode, restores a
checkpoint (or says loudly that its weights are random), and runs batches
that the input pipeline (`inputs`) reads, decodes and preprocesses.
`extract_features` writes the chosen end_points of many files to one .npz,
atomically.
"""

import os
import sys
import time
import zipfile

import numpy as np
import tensorflow as tf

from resnet_v2 import checkpoints
from resnet_v2 import files
from resnet_v2 import inputs as inputs_lib
from resnet_v2 import labels
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import openvino_engine
from resnet_v2 import preprocessing
from resnet_v2 import registry
from resnet_v2 import timing



class ImageModel:
  """A registered net in inference mode, with its own graph and session.

  Args:
    model: A name from `registry.NETWORKS`, e.g. 'resnet_v2_50'.
    checkpoint: TF-Slim checkpoint to restore; None for random weights
      (a warning says so on stderr).
    image_size: Input size; default 299 for a checkpoint (what the published
      ones were trained at), else 224.
    num_classes: Logits to build; default what the checkpoint has, or None.
    scope_map: Optional {model scope: checkpoint scope} for the restore.
    seed: Graph-level random seed, so random weights are reproducible.
    plain, pixel_mean, class_names: as a model dir records them (see
      `from_model_dir`).
    openvino_dir: Instead of a TensorFlow net and checkpoint: a saved
      OpenVINO model (an int8 model dir's), run by its engine in the same
      graph. Its end points: global_pool, predictions and logits.

  Raises:
    ValueError: on an unknown model or an unusable checkpoint.
  """

  def __init__(self, model, checkpoint=None, image_size=None,
               num_classes=None, scope_map=None, seed=None, plain=False,
               pixel_mean=None, class_names=None, openvino_dir=None):
    spec = registry.get_spec(model)
    self.model, self.preprocessing = model, spec.preprocessing
    self.pixel_mean, self.class_names = pixel_mean, class_names
    if checkpoint is not None and num_classes is None:
      checkpoint_scope = dict(scope_map or {}).get(spec.scope, spec.scope)
      num_classes = checkpoints.logits_classes(checkpoint, checkpoint_scope)
    self.num_classes = num_classes
    self.image_size = image_size or preprocessing.default_image_size(
        model, checkpoint)
    self.graph = tf.Graph()
    with self.graph.as_default():
      if seed is not None:
        tf.compat.v1.set_random_seed(seed)
      self._path = tf.compat.v1.placeholder(tf.string, [], name='path')
      self._image = preprocessing.SCHEMES[self.preprocessing](
          preprocessing.read_image(self._path), self.image_size,
          self.image_size)
      if pixel_mean is not None:
        self._image -= tf.constant(pixel_mean, tf.float32)
      self.images = tf.compat.v1.placeholder(
          tf.float32, [None, self.image_size, self.image_size, 3],
          name='images')
      if openvino_dir:
        self.end_points, self.engine = openvino_engine.graph_end_points(
            openvino_dir, self.images)
      else:
        _, self.end_points = registry.get_network_fn(
            model, num_classes, plain=plain)(self.images)
        self.engine = None
      init = tf.compat.v1.global_variables_initializer()
    self.session = tf.compat.v1.Session(graph=self.graph)
    self.session.run(init)
    if checkpoint is not None:
      checkpoints.restore(self.session, checkpoint, scope_map=scope_map)
    elif not openvino_dir:
      print('WARNING: no checkpoint given: %s has RANDOM weights; its '
            'features and predictions mean nothing.' % model,
            file=sys.stderr)

  @classmethod
  def from_model_dir(cls, model_dir, image_size=None):
    """The trained net of a model dir (its best checkpoint, else latest).

    Raises:
      ValueError: if model_dir is not a model dir or has no checkpoint.
    """
    record = model_dir_lib.read_record(model_dir)
    if record.engine == 'openvino':
      model_dir_lib.check_int8_image_size(record, image_size, model_dir)
      return cls(record.model, None, record.image_size, record.num_classes,
                 pixel_mean=record.pixel_mean,
                 class_names=record.class_names,
                 openvino_dir=model_dir_lib.openvino_dir(model_dir))
    return cls(record.model, model_dir_lib.checkpoint_for_inference(
        model_dir), image_size or record.image_size, record.num_classes,
               plain=record.plain, pixel_mean=record.pixel_mean,
               class_names=record.class_names)

  def top_k(self, probabilities, k=5):
    """[(class index, name or None, probability)] best first, named by the
    model's own classes, else ImageNet's for 1000/1001 classes."""
    return top_k(probabilities, k, self.class_names)

  def check_end_points(self, names):
    """Raises ValueError naming unknown end_points and some known ones."""
    unknown = [n for n in names if n not in self.end_points]
    if unknown:
      known = sorted(self.end_points)
      raise ValueError('Unknown end_points %s. %s has %d, e.g. %s.' % (
          unknown, self.model, len(known),
          [k for k in known if k.count('/') <= 1][:8]))

  def load(self, path):
    """Decodes and preprocesses one file (as the pipeline does); raises
    ValueError if it can't."""
    try:
      return self.session.run(self._image, {self._path: path})
    except tf.errors.OpError as error:
      raise ValueError('%s: %s' % (path, inputs_lib.op_error_reason(error))
                       ) from None

  def run(self, images, names):
    """Runs a batch; returns {end point name: array}."""
    return self.session.run({n: self.end_points[n] for n in names},
                            {self.images: images})

  def iterate(self, paths, names, batch_size, progress_label=None,
              max_pixels=preprocessing.MAX_IMAGE_PIXELS):
    """Yields (file names, outputs) per batch, in file order.

    The files stream through the input pipeline (parallel decoding,
    prefetch). After the loop, `self.skipped` lists (path, reason) of files
    that did not decode; the run goes on without them.
    """
    self.check_end_points(names)
    skipped = inputs_lib.SkippedFiles()
    source = inputs_lib.Source('files', paths, list(paths), None, None)
    with self.graph.as_default():
      batch = tf.compat.v1.data.make_one_shot_iterator(inputs_lib.make_dataset(
          source, self.preprocessing, self.image_size, batch_size,
          skipped=skipped, pixel_mean=self.pixel_mean,
          max_pixels=max_pixels)).get_next()
    batches = (len(paths) + batch_size - 1) // batch_size
    progress = timing.Progress(batches, progress_label) if progress_label \
        else None
    durations = []
    while True:
      try:
        images, _, kept = self.session.run(batch)
      except tf.errors.OutOfRangeError:
        break
      start = time.perf_counter()
      outputs = self.run(images, names)
      durations.append(time.perf_counter() - start)
      yield [os.fsdecode(k) for k in kept], outputs
      if progress:
        progress.update(len(durations), durations)
    self.skipped = skipped.items()


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


def extract_features(inputs, output, model='resnet_v2_50', end_points=(
    'global_pool',), checkpoint=None, batch_size=16, image_size=None,
                     progress=True, image_model=None, overwrite=False,
                     max_pixels=preprocessing.MAX_IMAGE_PIXELS):
  """Writes the end_points of image files to an .npz.

  Args:
    inputs: Image files and/or folders.
    output: Path of the .npz: one array per end point (keyed by its name)
      and 'file_names', in the same order as the arrays' first axis.
    model, checkpoint, image_size: See `ImageModel`.
    end_points: Names of end_points to save, e.g. 'global_pool' or
      'resnet_v2_50/block4'.
    batch_size: Images per run.
    progress: Show a progress line on a terminal.
    image_model: An `ImageModel` to reuse instead of building one.
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
  paths = inputs_lib.list_image_files(inputs)
  check_features_output(output, overwrite, list(inputs))
  net = image_model or ImageModel(model, checkpoint, image_size)
  names, collected = [], {n: [] for n in end_points}
  for kept, outputs in net.iterate(paths, list(end_points), batch_size,
                                   'features' if progress else None,
                                   max_pixels):
    names.extend(kept)
    for n in end_points:
      collected[n].append(outputs[n])
  if not names:
    raise ValueError('None of the %d files could be read as an image; '
                     'nothing written. First: %s' % (len(paths),
                                                     net.skipped[0][1]))
  arrays = {n: np.concatenate(collected[n]) for n in end_points}
  arrays['file_names'] = np.array(names)
  write_npz_atomically(output, arrays)
  return len(names), net.skipped


def top_k(probabilities, k=5, class_names=None):
  """Returns [(class index, name or None, probability)] best first.

  Names: class_names if given, else ImageNet's for 1000 or 1001 classes.
  """
  order = np.argsort(-probabilities)[:k]
  names = class_names
  if names is None:
    try:
      names = labels.imagenet_class_names(probabilities.shape[-1])
    except ValueError:
      names = None
  return [(int(i), names[i] if names else None, float(probabilities[i]))
          for i in order]
