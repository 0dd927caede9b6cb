"""Published weights by name, against a local HTTP server serving
generated files under the published names: first download, cache, two
processes at once, resumed and damaged downloads, hostile tarballs,
missing files and servers, mirrors."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2.cli import flags
from resnet_v2.nets import module as module_lib
from resnet_v2.serve import model as model_lib
from resnet_v2.serve import weights
from http_server import closed_port_url
from http_server import serving

MODEL = 'resnet_v2_50'
TARBALL, MEMBER = weights.TF_SLIM_FILES[MODEL]


def _checkpoint_files(folder, value=0.0):
  """A resnet_v2_50 (1001 classes) V2 checkpoint of constant weights (it
  compresses to almost nothing): {member name: bytes}."""
  net = module_lib.ResNetModule(MODEL, 1001)
  prefix = str(folder / MEMBER)
  checkpoint_files.save_by_name(
      {name: tf.fill(v.shape, value) for name, v in
       net.variables_by_name.items()}, prefix)
  return {name: (folder / name).read_bytes() for name in os.listdir(folder)
          if name.startswith(MEMBER)}


def _tarball(members, extra=()):
  """A .tar.gz of {name: bytes} (as TF-Slim's: the checkpoint and its
  graphs), plus extra (TarInfo, bytes or None) members."""
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode='w:gz') as archive:
    for name, data in list(members.items()) + [('train.graph', b'graph')]:
      info = tarfile.TarInfo('./' + name)
      info.size = len(data)
      archive.addfile(info, io.BytesIO(data))
    for info, data in extra:
      archive.addfile(info, io.BytesIO(data) if data is not None else None)
  return buffer.getvalue()


@pytest.fixture(scope='module')
def published(tmp_path_factory):
  members = _checkpoint_files(tmp_path_factory.mktemp('checkpoint'))
  return {'members': members, 'tarball': _tarball(members)}


@pytest.fixture
def cache(tmp_path, monkeypatch):
  home = tmp_path / 'cache'
  monkeypatch.setenv(weights.HOME_VARIABLE, str(home))
  return home


def _gets(served, name):
  return [r for r in served.requests if r[1] == name]


@pytest.mark.quick
def test_a_first_call_downloads_and_a_second_makes_no_request(
    published, cache, monkeypatch):
  with serving({TARBALL: published['tarball']}) as (url, served):
    monkeypatch.setenv(weights.MIRROR_VARIABLE, url)
    record = weights.record(MODEL, 'tf-slim')
    assert record.weights.startswith(str(cache))
    assert (record.model, record.num_classes, record.image_size,
            record.conventions) == (MODEL, 1001, 299, 'tf_slim')
    again = weights.record(MODEL, 'tf-slim')
    assert again == record and len(_gets(served, TARBALL)) == 1
  # The net runs with them (all zeros: every logit 0).
  net = model_lib.Model(record.replace(image_size=64))
  logits = net.run(np.zeros([1, 64, 64, 3], np.float32), ['logits'])
  assert np.all(logits['logits'] == 0)
  # Only the checkpoint was taken from the tarball, never train.graph.
  extracted = os.listdir(os.path.dirname(record.weights))
  assert 'train.graph' not in extracted and MEMBER + '.index' in extracted


def test_two_processes_fetching_at_once_share_one_download(
    published, cache, tmp_path):
  code = ('from resnet_v2.serve import weights; '
          'print(weights.record("resnet_v2_50", "tf-slim").weights)')
  with serving({TARBALL: published['tarball']}) as (url, served):
    env = dict(os.environ, **{weights.MIRROR_VARIABLE: url})
    children = [subprocess.Popen([sys.executable, '-c', code], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]
    outputs = [child.communicate(timeout=300) for child in children]
  assert all(child.returncode == 0 for child in children), outputs
  paths = {out.strip().splitlines()[-1] for out, _ in outputs}
  assert len(paths) == 1 and len(_gets(served, TARBALL)) == 1
  assert not [p for p in _cache_files(cache) if '.part' in p or '.extract_'
              in p]


def _cache_files(cache):
  return [os.path.join(root, n) for root, _, names in os.walk(cache)
          for n in names]


@pytest.mark.quick
def test_a_download_cut_short_is_never_used_and_resumes(published, cache,
                                                        monkeypatch):
  data = published['tarball']
  with serving({TARBALL: data}) as (url, served):
    monkeypatch.setenv(weights.MIRROR_VARIABLE, url)
    served.truncate[TARBALL] = len(data) // 2
    with pytest.raises(weights.WeightsError, match='broke off after') as err:
      weights.record(MODEL, 'tf-slim')
    assert '\n' not in str(err.value)
    # Nothing extracted, nothing renamed into place: only the resumable part.
    assert [os.path.basename(p) for p in _cache_files(cache)
            if not p.endswith('.lock')] == [TARBALL + '.part']
    record = weights.record(MODEL, 'tf-slim')
    assert _gets(served, TARBALL)[-1][2] == 'bytes=%d-' % (len(data) // 2)
  assert os.path.isfile(record.weights + '.index')


@pytest.mark.quick
def test_a_tarball_with_a_path_outside_or_a_link_is_refused(
    published, cache, tmp_path, monkeypatch):
  outside = tarfile.TarInfo('../x')
  outside.size = 1
  link = tarfile.TarInfo('./' + MEMBER + '.index')
  link.type, link.linkname = tarfile.SYMTYPE, '/etc/passwd'
  members = dict(published['members'])
  del members[MEMBER + '.index']
  for extra, what in [((outside, b'x'), 'outside its folder'),
                      ((link, None), 'a link or device')]:
    with serving({TARBALL: _tarball(members if extra[0] is link else
                                    published['members'], [extra])}) as (
                                        url, _):
      monkeypatch.setenv(weights.MIRROR_VARIABLE, url)
      with pytest.raises(weights.WeightsError, match=what):
        weights.record(MODEL, 'tf-slim')
    assert not os.path.exists(cache / 'x') and not (tmp_path / 'x').exists()
    left = [os.path.basename(p) for p in _cache_files(cache)
            if not p.endswith('.lock')]
    # The tarball is kept aside, renamed: nothing else, nothing extracted.
    assert left == [TARBALL + '.bad'], left
    os.remove(cache / 'downloads' / (TARBALL + '.bad'))


@pytest.mark.quick
def test_a_keras_file_with_another_md5_is_refused_and_kept_aside(
    cache, monkeypatch):
  name = weights.KERAS_FILES[MODEL][0]
  with serving({name: b'not the published file'}) as (url, _):
    monkeypatch.setenv(weights.MIRROR_VARIABLE, url)
    with pytest.raises(weights.WeightsError, match='md5 .* not the '
                       '3ef43a0b657b3be2300d5770ece849e0 Keras publishes'):
      weights.record(MODEL, 'keras')
  assert [os.path.basename(p) for p in _cache_files(cache)
          if not p.endswith('.lock')] == [name + '.bad']


@pytest.mark.quick
def test_a_missing_file_and_no_server_say_where_to_put_it(cache,
                                                          monkeypatch):
  with serving({}) as (url, _):
    monkeypatch.setenv(weights.MIRROR_VARIABLE, url)
    with pytest.raises(weights.WeightsError) as err:
      weights.record(MODEL, 'tf-slim')
  assert 'HTTP 404' in str(err.value) and url + TARBALL in str(err.value)
  monkeypatch.setenv(weights.MIRROR_VARIABLE, closed_port_url())
  with pytest.raises(weights.WeightsError) as err:
    weights.record(MODEL, 'tf-slim')
  message = str(err.value)
  assert 'Cannot reach' in message and TARBALL in message
  assert str(cache / 'downloads') in message and '\n' not in message
  assert not [p for p in _cache_files(cache) if not p.endswith('.lock')]


@pytest.mark.quick
def test_a_mirror_folder_and_a_file_put_there_by_hand(published, cache,
                                                      tmp_path, monkeypatch):
  mirror = tmp_path / 'mirror'
  mirror.mkdir()
  monkeypatch.setenv(weights.MIRROR_VARIABLE, str(mirror))
  with pytest.raises(weights.WeightsError, match='not in the mirror folder'):
    weights.record(MODEL, 'tf-slim')
  (mirror / TARBALL).write_bytes(published['tarball'])
  assert os.path.isfile(weights.record(MODEL, 'tf-slim').weights + '.index')


@pytest.mark.quick
def test_unknown_names_and_nets_without_weights_are_named():
  assert weights.NAMES == flags.WEIGHTS
  with pytest.raises(weights.WeightsError, match="Unknown weights 'imagenet'"):
    weights.record(MODEL, 'imagenet')
  with pytest.raises(weights.WeightsError, match='resnet_v1_50 has no '
                     'published keras weights'):
    weights.record('resnet_v1_50', 'keras')


@pytest.fixture(scope='module')
def keras_h5(tmp_path_factory):
  """Keras 2's weights-only .h5 of a ResNet50V2 (as keras.applications
  downloads it), with its md5."""
  import h5py  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  from keras.src.legacy.saving import legacy_h5_format  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(0)
  net = keras.applications.ResNet50V2(weights=None)
  path = tmp_path_factory.mktemp('keras') / 'net.h5'
  with h5py.File(path, 'w') as handle:
    legacy_h5_format.save_weights_to_hdf5_group(handle, net)
  data = path.read_bytes()
  return data, hashlib.md5(data).hexdigest()


def test_keras_weights_become_a_model_dir_with_keras_conventions(
    keras_h5, cache, monkeypatch, tmp_path):
  data, md5 = keras_h5
  name = weights.KERAS_FILES[MODEL][0]
  monkeypatch.setitem(weights.KERAS_FILES, MODEL, (name, md5))
  with serving({name: data}) as (url, served):
    monkeypatch.setenv(weights.MIRROR_VARIABLE, url)
    net = model_lib.Model.load(model=MODEL, weights='keras')
    model_lib.Model.load(model=MODEL, weights='keras')
    assert len(_gets(served, name)) == 1
  record = net.record
  assert (record.conventions, record.num_classes, record.image_size) == (
      'keras', 1001, 224)
  assert record.model_dir.startswith(str(cache))
  manifest = json.loads((cache / 'keras' / name[:-3] / 'model.json'
                         ).read_text())
  assert manifest['conventions'] == 'keras'


def test_the_command_line_takes_weights_by_name(published, cache,
                                                monkeypatch, tmp_path,
                                                capsys):
  from resnet_v2 import cli  # pylint: disable=g-import-not-at-top
  image = tmp_path / 'images' / 'a.png'
  image.parent.mkdir()
  image.write_bytes(tf.io.encode_png(np.zeros([40, 40, 3], np.uint8)).numpy())
  with serving({TARBALL: published['tarball']}) as (url, _):
    monkeypatch.setenv(weights.MIRROR_VARIABLE, url)
    assert cli.main(['features', '--model', MODEL, '--weights', 'tf-slim',
                     '--image-size', '64', str(image.parent), '--output',
                     str(tmp_path / 'out')]) == 0
  manifest = json.loads((tmp_path / 'out' / 'manifest.json').read_text())
  assert (manifest['weights'], manifest['images']) == ('tf-slim', 1)
  assert cli.main(['predict', '--model', MODEL, '--weights', 'tf-slim',
                   '--checkpoint', 'x.ckpt', str(image)]) == 1
  assert '--weights names published weights for --model; drop ' in (
      capsys.readouterr().err)
