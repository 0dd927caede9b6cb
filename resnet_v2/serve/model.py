"""One way to run a trained net: `Model`.

`Model.load` is the one place that turns a model dir (or a registered net
and a checkpoint) into a runnable net: its record (net, classes, size,
preprocessing, pixel mean) and its weights, on an engine:
  tensorflow  the net as a TF2 module (`nets.module.ResNetModule`) run by
              `tf.function`, fp32;
  openvino    an OpenVINO model on the CPU: an int8 model dir's own, or the
              float net converted at load (fp32 or bf16).
Batches go in as numpy arrays or tensors, end points come out as numpy;
`dataset` and `iterate` read images through the one input pipeline.
`features`, `predict`, `evaluate`, `export` and `quantize` all start here.
"""

import os
import sys
import time

import numpy as np
import tensorflow as tf

from resnet_v2 import errors
from resnet_v2 import record as record_lib
from resnet_v2 import runtime
from resnet_v2.data import inputs
from resnet_v2.data import labels
from resnet_v2.data import preprocessing
from resnet_v2.data import sources
from resnet_v2.nets import module as module_lib
from resnet_v2.nets import platform

# Nets are built for this machine (`nets.platform`).
platform.use(runtime.platform_facts)

ENGINES = ('tensorflow', 'openvino')
PRECISIONS = ('fp32', 'bf16', 'int8')


class Model:
  """A net with its weights, preprocessing and classes, ready to run.

  Args:
    record: A `record.Record` (what the net is, how it is fed, and its
      weights: a TF-Slim checkpoint to restore, an int8 model's OpenVINO
      folder, or None for random weights, which a warning on stderr names).
    engine: 'tensorflow' or 'openvino'; default: the record's.
    precision: 'fp32' or 'bf16' (openvino engine only); an int8 record
      runs in int8.
    scope_map: Optional {net scope: checkpoint scope} for the restore.
    seed: Seeds TensorFlow's random generator before random weights are
      drawn, so they are reproducible.
    openvino_model: An int8 record's OpenVINO model held in memory
      (`quantize`'s, before it is written); default the one in its folder.

  Raises:
    ValueError: on an unknown net, engine or precision, or an unusable
      checkpoint.
  """

  def __init__(self, record, engine=None, precision=None, scope_map=None,
               seed=None, openvino_model=None):
    engine = engine or record.engine
    if engine not in ENGINES:
      raise ValueError('engine must be one of %s, got %r.' % (
          ', '.join(ENGINES), engine))
    int8 = record.holds_openvino_model
    precision = precision or record.precision
    if precision not in PRECISIONS or (precision == 'int8') != int8 or (
        precision == 'bf16' and engine != 'openvino'):
      raise ValueError(
          '%s runs in %s; precision %r needs %s.' % (
              record.model, 'int8' if int8 else 'fp32 (tensorflow) or fp32 '
              'and bf16 (openvino)', precision, 'a float model' if int8 else
              'the openvino engine' if precision == 'bf16' else
              "`resnet-v2 quantize` first (int8)"))
    if int8 and engine != 'openvino':
      raise ValueError('%s is an int8 OpenVINO model: it runs on the '
                       'openvino engine only.' % record.weights)
    self.record, self.checkpoint = record, record.weights
    self.engine, self.precision = engine, precision
    # The TF2 module (float records), the OpenVINO model and its runner
    # (openvino engine).
    self.module, self._functions = None, {}
    self.openvino_model, self.runner = None, None
    if not int8:
      if seed is not None:
        tf.random.set_seed(seed)
      self.module = module_lib.ResNetModule(
          record.model, record.num_classes, plain=record.plain,
          conventions=record.conventions)
      if record.weights is not None:
        self.module.restore(record.weights, scope_map=scope_map)
      else:
        print('WARNING: no checkpoint given: %s has RANDOM weights; its '
              'features and predictions mean nothing.' % record.model,
              file=sys.stderr)
    if engine == 'openvino':
      # pylint: disable=g-import-not-at-top
      from resnet_v2.serve import openvino
      if int8:   # it holds every end point; compiled, the three asked
        self._compile(openvino_model or openvino.load(record.weights),
                      openvino.OUTPUTS)
      else:
        self._compile(openvino.convert(self.module, record.image_size))
    self.skipped = []

  def _compile(self, openvino_model, outputs=None):
    """Compiles an OpenVINO model of this net as its runner (only its
    `outputs`, default all).

    Raises:
      ValueError: for bf16 where the CPU has no bf16 instructions.
    """
    from resnet_v2.serve import openvino  # pylint: disable=g-import-not-at-top
    runner = openvino.Runner(openvino_model, self.precision,
                             outputs=outputs)
    ran = runner.effective_precision()
    if self.precision == 'bf16' and ran != 'bf16':
      raise ValueError(
          'precision bf16: OpenVINO compiled the convolutions in %s on '
          'this CPU (it has no bf16 instructions); give `precision`=fp32.'
          % ran)
    self.openvino_model, self.runner = openvino_model, runner

  def _runner_for(self, names):
    """The compiled OpenVINO model that outputs names: the one there is,
    or one compiled again with these end points as outputs too (an int8
    model's own, which holds them; a float net converted again)."""
    have = self.runner.end_point_names
    missing = [n for n in names if n not in have]
    if missing:
      from resnet_v2.serve import openvino  # pylint: disable=g-import-not-at-top
      if self.module is None:
        self._compile(self.openvino_model, openvino.end_point_outputs(
            have + missing))
      else:
        self._compile(openvino.convert(self.module, self.image_size,
                                       have + missing))
    return self.runner

  @classmethod
  def load(cls, model_dir=None, model=None, checkpoint=None, image_size=None,
           num_classes=None, engine=None, precision=None, seed=None,
           weights=None, progress=None):
    """The net of a model dir, or a registered net with a checkpoint or
    published weights (`record.Record.open`, `weights.record`).

    Args:
      model_dir: A model dir (`resnet-v2 train` or `quantize` wrote it): its
        best checkpoint, else its latest; or its int8 OpenVINO model.
      model: Instead of model_dir: a registry name.
      checkpoint: With model: a TF-Slim checkpoint (e.g. a published one);
        None for random weights.
      image_size: Another input size (not for int8 models); default the
        model dir's, or what the checkpoint was trained at.
      num_classes: Logits to build without a checkpoint (None: features
        only); with one, what it has.
      engine, precision, seed: See `Model`.
      weights: With model, instead of checkpoint: 'tf-slim' or 'keras',
        the published ImageNet weights (fetched once into the cache).
      progress: A progress callback for a download (`weights.record`).

    Raises:
      ValueError: if model_dir is not a usable model dir, or both or
        neither of model_dir and model are given.
    """
    if weights is not None:
      from resnet_v2.serve import weights as weights_lib  # pylint: disable=g-import-not-at-top
      record = weights_lib.record_for(model, weights, model_dir, checkpoint,
                                      progress)
      if image_size:
        record = record.replace(image_size=image_size)
    else:
      record = record_lib.Record.open(model_dir, model, checkpoint,
                                      image_size, num_classes)
    return cls(record, engine, precision, seed=seed)

  def load_spec(self, weights=None, absolute=False):
    """The arguments of `Model.load` that load this net again (on a Ray
    worker, or for `search`'s queries): the published weights' name
    (fetched where it runs), else the record's paths (absolute: made so).
    """
    record = self.record
    where = os.path.abspath if absolute else (lambda path: path)
    spec = {'engine': self.engine, 'precision': self.precision,
            'image_size': record.image_size}
    if weights:
      return dict(spec, model=record.model, weights=weights)
    if record.model_dir:
      return dict(spec, model_dir=where(record.model_dir), image_size=(
          None if record.holds_openvino_model else record.image_size))
    return dict(spec, model=record.model,
                checkpoint=record.weights and where(record.weights),
                num_classes=None if record.weights else record.num_classes)

  @property
  def model(self):
    return self.record.model

  @property
  def num_classes(self):
    return self.record.num_classes

  @property
  def image_size(self):
    return self.record.image_size

  @property
  def class_names(self):
    return self.record.class_names

  @property
  def end_point_names(self):
    """What `run` can return: the net's end points, and 'logits' (the
    net's output) when it classifies; an int8 model's
    (`openvino.END_POINTS`, what it was quantized with)."""
    if self.module is None:
      from resnet_v2.serve import openvino  # pylint: disable=g-import-not-at-top
      return openvino.end_points_of(openvino.output_names(
          self.openvino_model))
    names = list(self.module.end_point_names)
    return names + ['logits'] if self.num_classes else names

  def check_end_points(self, names):
    """Raises ValueError naming unknown end_points and some known ones."""
    known = self.end_point_names
    unknown = [n for n in names if n not in known]
    if unknown:
      raise ValueError('Unknown end_points %s. %s has %d, e.g. %s.' % (
          unknown, self.model, len(known),
          [k for k in sorted(known) if k.count('/') <= 1][:8]))

  def _function(self, names):
    """A tf.function of images -> {name: tensor} for these end points."""
    if names not in self._functions:
      def run(images):
        logits, points = self.module(images)
        return {n: logits if n == 'logits' else points[n] for n in names}
      # reduce_retracing: one graph for every batch size (the last, short
      # batch of a run, a server's batches of 1 to 16), not a trace (a
      # second or more) for each.
      self._functions[names] = tf.function(run, autograph=False,
                                           reduce_retracing=True)
    return self._functions[names]

  def run(self, images, names=('predictions',)):
    """Runs one batch (float [batch, size, size, 3], preprocessed).

    Returns:
      {end point name: numpy array}.

    Raises:
      ValueError: on unknown end point names.
    """
    names = tuple(names)
    self.check_end_points(names)
    if self.runner is not None:
      return self._runner_for(names).end_points(images, names)
    images = tf.convert_to_tensor(images, tf.float32)
    return {n: t.numpy() for n, t in self._function(names)(images).items()}

  def dataset(self, source, batch_size, skipped=None, labelled=False,
              labels_offset=0, max_pixels=preprocessing.MAX_IMAGE_PIXELS):
    """(images, labels, file names) batches of a source, read and
    preprocessed as this net is fed (`inputs.make_dataset`); labelled:
    labels are checked against the net's classes."""
    record = self.record
    return inputs.make_dataset(
        source, record.preprocessing, record.image_size, batch_size,
        skipped=skipped, num_classes=record.num_classes if labelled else None,
        labels_offset=labels_offset, pixel_mean=record.pixel_mean,
        max_pixels=max_pixels)

  def read_image(self, path, max_pixels=preprocessing.MAX_IMAGE_PIXELS):
    """One file (a path, or its encoded bytes), decoded and preprocessed as
    the pipeline does.

    Raises:
      ValueError: if it is not a readable image, or has more than
        max_pixels pixels.
    """
    scheme = preprocessing.SCHEMES[self.record.preprocessing]
    is_bytes = isinstance(path, bytes)
    try:
      image = scheme(preprocessing.decode_image(
          path if is_bytes else tf.io.read_file(path), max_pixels),
                     self.image_size, self.image_size)
    except tf.errors.OpError as error:
      raise ValueError('%s%s' % ('' if is_bytes else path + ': ',
                                 errors.op_error_reason(error))) from None
    if self.record.pixel_mean is not None:
      image -= tf.constant(self.record.pixel_mean, tf.float32)
    return image.numpy()

  def iterate(self, paths, names, batch_size, progress=None,
              max_pixels=preprocessing.MAX_IMAGE_PIXELS):
    """Yields (file names, outputs) per batch, in file order.

    The files stream through the input pipeline (parallel decoding,
    prefetch). After the loop, `self.skipped` lists (path, reason) of files
    that did not decode; the run goes on without them. progress: None, or
    a callback `progress(total batches, label)` returning an object whose
    `update(done, durations)` is called after every batch (the command
    line passes a display).
    """
    names = tuple(names)
    self.check_end_points(names)
    skipped = inputs.SkippedFiles()
    source = sources.Source('files', paths, list(paths), None, None)
    batches = (len(paths) + batch_size - 1) // batch_size
    shown = progress(batches, 'batches') if progress else None
    durations = []
    for images, _, kept in self.dataset(source, batch_size, skipped,
                                        max_pixels=max_pixels):
      start = time.perf_counter()
      outputs = self.run(images, names)
      durations.append(time.perf_counter() - start)
      yield [os.fsdecode(k) for k in kept.numpy()], outputs
      if shown:
        shown.update(len(durations), durations)
    self.skipped = skipped.items()

  def top_k(self, probabilities, k=5):
    """[(class index, name or None, probability)] best first, named by the
    model's own classes, else ImageNet's for 1000/1001 classes."""
    return top_k(probabilities, k, self.class_names)


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
