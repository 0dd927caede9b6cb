"""Published ImageNet weights by name: fetched once, verified, cached.

`record(model, 'tf-slim' | 'keras')` returns a `record.Record` whose
weights are in the cache, `$RESNET_V2_HOME` (default ~/.cache/resnet_v2):

  tf-slim  TF-Slim's checkpoints (tensorflow/models, research/slim):
           resnet_v1/v2 50/101/152 tarballs. Only the expected `.ckpt`
           members are taken, read from the tarball as a stream; a tarball
           with any member outside its folder, a link or a device is
           refused. The checkpoint's variable names and shapes are then
           checked against the net.
  keras    keras.applications' ResNet50V2/101V2/152V2 `.h5` files,
           checked by the md5 Keras publishes, converted (`convert`) into
           a model dir with Keras's conventions.

Downloads go to a `.part` file that an interrupted fetch resumes (HTTP
Range) or restarts; nothing is used before it is verified, and everything
is renamed into place only when whole. Processes fetching at once (Ray
workers on one node) take a lock per file: one downloads, the others wait
and use its result. `RESNET_V2_WEIGHTS_URL` names a mirror: a base URL or
a local folder holding the published file names.
"""

import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.request

from resnet_v2 import files
from resnet_v2 import lock
from resnet_v2 import record as record_lib
from resnet_v2.nets import registry

HOME_VARIABLE = 'RESNET_V2_HOME'
MIRROR_VARIABLE = 'RESNET_V2_WEIGHTS_URL'
NAMES = ('tf-slim', 'keras')
TF_SLIM_URL = 'http://download.tensorflow.org/models/'
KERAS_URL = 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/'
# net -> (tarball, checkpoint name inside it)
TF_SLIM_FILES = {
    'resnet_v1_%s' % depth: ('resnet_v1_%s_2016_08_28.tar.gz' % depth,
                             'resnet_v1_%s.ckpt' % depth)
    for depth in (50, 101, 152)}
TF_SLIM_FILES.update({
    'resnet_v2_%s' % depth: ('resnet_v2_%s_2017_04_14.tar.gz' % depth,
                             'resnet_v2_%s.ckpt' % depth)
    for depth in (50, 101, 152)})
# net -> (file, md5), as keras/src/applications/resnet.py publishes them.
KERAS_FILES = {
    'resnet_v2_50': ('resnet50v2_weights_tf_dim_ordering_tf_kernels.h5',
                     '3ef43a0b657b3be2300d5770ece849e0'),
    'resnet_v2_101': ('resnet101v2_weights_tf_dim_ordering_tf_kernels.h5',
                      '6343647c601c52e1368623803854d971'),
    'resnet_v2_152': ('resnet152v2_weights_tf_dim_ordering_tf_kernels.h5',
                      'a49b44d1979771252814e80f8ec446f9'),
}
_CHUNK = 1 << 20
TIMEOUT = 60


class WeightsError(ValueError):
  """Weights that cannot be had or do not verify; the message says what
  to do."""


def home():
  """The cache folder."""
  return os.path.expanduser(os.environ.get(HOME_VARIABLE) or os.path.join(
      '~', '.cache', 'resnet_v2'))


def published(model, weights):
  """(file name, official base URL) of a net's published weights.

  Raises:
    WeightsError: for an unknown name, or a net without those weights.
  """
  table = {'tf-slim': (TF_SLIM_FILES, TF_SLIM_URL),
           'keras': (KERAS_FILES, KERAS_URL)}
  if weights not in table:
    raise WeightsError('Unknown weights %r: give one of %s, or a checkpoint.'
                       % (weights, ', '.join(NAMES)))
  catalogue, url = table[weights]
  if model not in catalogue:
    raise WeightsError('%s has no published %s weights; those nets have: %s.'
                       % (model, weights, ', '.join(sorted(catalogue))))
  return catalogue[model][0], url


def _source_of(name, base_url):
  """Where to read a published file: the mirror's, else the official URL."""
  mirror = os.environ.get(MIRROR_VARIABLE)
  if not mirror:
    return base_url + name
  if '://' not in mirror:
    return os.path.join(mirror, name)
  return mirror.rstrip('/') + '/' + name


def _download(source, path, progress=None):
  """Fetches source (a URL or a local file) into path whole: through
  path.part, resumed with an HTTP Range where the server allows it.

  Raises:
    WeightsError: naming the URL, the file and where to put it by hand.
  """
  part = path + '.part'
  os.makedirs(os.path.dirname(path), exist_ok=True)
  manual = ('or put %s there by hand (from %s)' % (os.path.basename(path),
                                                  source))
  if '://' not in source:
    if not os.path.isfile(source):
      raise WeightsError('%s is not in the mirror folder %s=%s; copy it '
                         'there, %s.' % (os.path.basename(path),
                                         MIRROR_VARIABLE,
                                         os.path.dirname(source), manual))
    shutil.copyfile(source, part)
  else:
    _fetch_url(source, part, path, manual, progress)
  files.fsync_path(part)
  os.replace(part, path)


def _fetch_url(url, part, path, manual, progress):
  """Downloads url into part, resuming what part holds."""
  have = os.path.getsize(part) if os.path.exists(part) else 0
  request = urllib.request.Request(url, headers={'User-Agent': 'resnet_v2'})
  if have:
    request.add_header('Range', 'bytes=%d-' % have)
  try:
    response = urllib.request.urlopen(request, timeout=TIMEOUT)
  except urllib.error.HTTPError as error:
    if error.code == 416 and have:   # part holds the whole file already
      return
    raise WeightsError('Downloading %s failed: HTTP %d %s; try again later, '
                       'set %s to a mirror, %s (folder %s).' % (
                           url, error.code, error.reason, MIRROR_VARIABLE,
                           manual, os.path.dirname(path))) from None
  except (urllib.error.URLError, OSError) as error:
    reason = getattr(error, 'reason', error)
    raise WeightsError('Cannot reach %s (%s): offline? Set %s to a mirror, '
                       '%s (folder %s).' % (url, reason, MIRROR_VARIABLE,
                                            manual, os.path.dirname(path))
                       ) from None
  with response:
    resumed = response.status == 206
    total = response.headers.get('Content-Length')
    total = int(total) + (have if resumed else 0) if total else None
    shown = progress(total or 0, os.path.basename(path)) if (
        progress and total) else None
    done = have if resumed else 0
    try:
      with open(part, 'ab' if resumed else 'wb') as out:
        while True:
          chunk = response.read(_CHUNK)
          if not chunk:
            break
          out.write(chunk)
          done += len(chunk)
          if shown:
            shown.update(done, [0.0])
    except (OSError, http.client.HTTPException) as error:
      raise WeightsError('Downloading %s broke off after %d bytes (%s); run '
                         'again to resume.' % (url, done, error)) from None
  if total is not None and done != total:
    raise WeightsError('Downloading %s broke off after %d of %d bytes; run '
                       'again to resume.' % (url, done, total))


def _md5(path):
  digest = hashlib.md5()
  with open(path, 'rb') as handle:
    for chunk in iter(lambda: handle.read(_CHUNK), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _fetch(model, weights, progress):
  """The verified published file in the cache, downloaded if needed."""
  name, base_url = published(model, weights)
  path = os.path.join(home(), 'downloads', name)
  if not os.path.isfile(path):
    _download(_source_of(name, base_url), path, progress)
  if weights == 'keras':
    expected = KERAS_FILES[model][1]
    found = _md5(path)
    if found != expected:
      os.replace(path, path + '.bad')
      raise WeightsError(
          '%s has md5 %s, not the %s Keras publishes: a damaged or '
          'different file (kept aside as %s.bad); run again to download it '
          'anew.' % (name, found, expected, name))
  return path


def _extract_checkpoint(tarball, member_name, folder):
  """Extracts a TF-Slim tarball's checkpoint (V1 `NAME.ckpt`, or V2
  `NAME.ckpt.index` + `.data-*`) into folder, read as a stream.

  Raises:
    WeightsError: on a member outside the tarball's folder, a link or a
      device, a damaged tarball, or no checkpoint.
  """
  wanted = []
  try:
    with tarfile.open(tarball, 'r|*') as archive:
      for member in archive:
        name = os.path.normpath(member.name)
        if name.startswith(('/', '..')) or os.path.isabs(member.name) or (
            not (member.isfile() or member.isdir())):
          raise WeightsError(
              '%s holds %s (%s): not a TF-Slim tarball; refused and kept '
              'aside as %s.bad, nothing extracted. Check %s, or the mirror.'
              % (os.path.basename(tarball), member.name,
                 'a link or device' if not name.startswith(('/', '..'))
                 else 'outside its folder', os.path.basename(tarball),
                 os.path.dirname(tarball)))
        base = os.path.basename(name)
        if member.isfile() and (base == member_name or base.startswith(
            member_name + '.')):
          with archive.extractfile(member) as stream, open(
              os.path.join(folder, base), 'wb') as out:
            shutil.copyfileobj(stream, out, _CHUNK)
          wanted.append(base)
  except (tarfile.TarError, EOFError, OSError) as error:
    raise WeightsError('%s is damaged (%s): kept aside as %s.bad; run again '
                       'to download it anew.' % (
                           os.path.basename(tarball), error,
                           os.path.basename(tarball))) from None
  if not (member_name in wanted or member_name + '.index' in wanted):
    raise WeightsError('%s holds no %s: not the TF-Slim tarball (kept aside '
                       'as %s.bad); check the mirror, and run again.' % (
                           os.path.basename(tarball), member_name,
                           os.path.basename(tarball)))


def _verify_checkpoint(model, prefix):
  """Raises WeightsError unless prefix holds the net's variables, by name
  and shape (what a restore into the net needs)."""
  # pylint: disable=g-import-not-at-top
  from resnet_v2 import checkpoint_files
  from resnet_v2.nets import module as module_lib
  try:
    shapes, _ = checkpoint_files.read_checkpoint_shapes(prefix)
  except ValueError as error:
    raise WeightsError('The %s checkpoint in the tarball is unreadable: %s'
                       % (model, error)) from None
  scope = registry.get_spec(model).scope
  classes = shapes.get(scope + '/logits/biases', [None])[0]
  net = module_lib.ResNetModule(model, classes)
  wrong = [name for name, variable in net.variables_by_name.items()
           if list(shapes.get(name, [])) != variable.shape.as_list()]
  if wrong:
    raise WeightsError('The checkpoint in the %s tarball does not match %s '
                       '(%d variables missing or of another shape, e.g. %s).'
                       % (model, model, len(wrong), wrong[0]))


def _tf_slim_record(model, progress):
  name, member = TF_SLIM_FILES[model]
  folder = os.path.join(home(), 'tf-slim', name[:-len('.tar.gz')])
  prefix = '.extract_%s_' % os.path.basename(folder)
  with lock.waiting(folder):
    if not os.path.isfile(os.path.join(folder, files.OWNER_MARK)):
      # What a killed extraction of this tarball left (under the lock, no
      # other process is extracting it).
      parent = os.path.dirname(folder)
      for name in os.listdir(parent):
        if name.startswith(prefix):
          shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
      tarball = _fetch(model, 'tf-slim', progress)

      def write(temp):
        try:
          _extract_checkpoint(tarball, member, temp)
          _verify_checkpoint(model, os.path.join(temp, member))
        except WeightsError:
          os.replace(tarball, tarball + '.bad')
          raise
      files.write_folder(folder, write, prefix=prefix)
  return record_lib.Record.from_checkpoint(model,
                                           os.path.join(folder, member))


def _keras_record(model, progress):
  name = KERAS_FILES[model][0]
  folder = os.path.join(home(), 'keras', name[:-len('.h5')])
  with lock.waiting(folder):
    if not os.path.isfile(os.path.join(folder, record_lib.model_dir_lib
                                       .RECORD_NAME)):
      h5 = _fetch(model, 'keras', progress)
      from resnet_v2.serve import convert  # pylint: disable=g-import-not-at-top
      convert.from_keras(h5, folder, background=True)
  return record_lib.Record.from_model_dir(folder)


def record(model, weights, progress=None):
  """A `record.Record` of a net with its published weights, from the cache
  (fetched and verified first if needed).

  Args:
    model: 'resnet_v2_50/101/152' (both), 'resnet_v1_50/101/152' (tf-slim).
    weights: 'tf-slim' or 'keras'.
    progress: None, or a callback `progress(bytes, file name)` returning an
      object whose `update(done, durations)` is called as bytes arrive.

  Raises:
    WeightsError: one line: what failed and what to do.
  """
  published(model, weights)
  if weights == 'tf-slim':
    return _tf_slim_record(model, progress)
  return _keras_record(model, progress)


def record_for(model, weights, model_dir=None, checkpoint=None,
               progress=None):
  """`record` of a net named with its published weights, where the caller
  may also have named weights another way (the one check of that, for
  `Model.load` and the command line).

  Raises:
    ValueError: with model_dir or checkpoint, or without model.
    WeightsError: see `record`.
  """
  if model_dir or checkpoint:
    raise ValueError('`weights` names published weights for `model`; drop '
                     '`model_dir` and `checkpoint`.')
  if not model:
    raise ValueError('`weights` needs `model`, the net to fetch them for.')
  return record(model, weights, progress)
