"""`resnet-v2 serve`: clip-retrieval back's API over a features folder a net
wrote; bad requests get a 4xx naming why and change nothing; a full queue
answers 503 at once; image queries are batched."""

import base64
import hashlib
import json
import os
import threading
import zlib

import numpy as np
import pytest
import tensorflow as tf

from nets_for_tests import seeded_checkpoint
from resnet_v2 import cli
from resnet_v2.service import app as app_lib
from resnet_v2.service import batcher as batcher_lib

testclient = pytest.importorskip('fastapi.testclient')
MODEL = 'cifar_resnet_v1_20'


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
  checkpoint = seeded_checkpoint(tmp_path_factory.mktemp('checkpoint'),
                                MODEL)
  images = tmp_path_factory.mktemp('images')
  rng = np.random.default_rng(0)
  for index in range(12):
    (images / ('%02d.png' % index)).write_bytes(tf.io.encode_png(
        rng.integers(0, 255, (32, 32, 3), np.uint8)).numpy())
  out = tmp_path_factory.mktemp('served') / 'photos'
  assert cli.main(['features', '--model', MODEL, '--checkpoint', checkpoint,
                   str(images), '--output', str(out)]) == 0
  assert cli.main(['index', str(out)]) == 0
  return out


@pytest.fixture(scope='module')
def client(folder):
  return testclient.TestClient(app_lib.create_app([str(folder)],
                                                  max_body=2**20))


def fingerprint(folder):
  return {path: hashlib.sha256(open(os.path.join(root, path), 'rb').read()
                               ).hexdigest()
          for root, _, names in os.walk(folder) for path in names}


def b64(data):
  return base64.b64encode(data).decode()


def test_an_image_finds_itself_with_a_url_this_server_serves(client, folder):
  assert client.get('/indices-list').json() == ['photos']
  manifest = json.loads((folder / 'manifest.json').read_text())
  path = os.path.join(manifest['inputs'][0], '05.png')
  image = open(path, 'rb').read()
  results = client.post('/knn-service', json={
      'image': b64(image), 'num_images': 3, 'indice_name': 'photos',
      'deduplicate': False}).json()
  assert [r['caption'] for r in results][0] == path
  assert results[0]['similarity'] > 0.99999 > results[1]['similarity']
  served = client.get(results[0]['url'].replace('http://testserver', ''))
  assert served.status_code == 200 and served.content == image
  again = client.post('/knn-service', json={'image_url': results[0]['url'],
                                            'num_images': 1}).json()
  assert again[0]['id'] == results[0]['id']
  meta = client.post('/metadata', json={'ids': [results[0]['id']],
                                        'indice_name': 'photos'}).json()
  assert meta == [{'id': results[0]['id'], 'metadata': {
      'url': results[0]['url'], 'caption': path}}]


def test_an_embedding_is_a_query(client, folder):
  from resnet_v2.serve import shards  # pylint: disable=g-import-not-at-top
  vectors = shards.load(str(folder), 'global_pool').reshape(12, -1)
  results = client.post('/knn-service', json={
      'embedding_input': vectors[7].tolist(), 'num_images': 2,
      'deduplicate': False}).json()
  assert results[0]['caption'].endswith('07.png')


def png_header(width, height):
  """A PNG whose header claims width x height (its data is one row)."""
  def chunk(kind, data):
    return (len(data).to_bytes(4, 'big') + kind + data +
            zlib.crc32(kind + data).to_bytes(4, 'big'))
  header = width.to_bytes(4, 'big') + height.to_bytes(4, 'big') + bytes(
      [8, 2, 0, 0, 0])
  return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) +
          chunk(b'IDAT', zlib.compress(b'\x00' * 61)) + chunk(b'IEND', b''))


@pytest.mark.parametrize('payload, status, words', [
    ({'image': b64(b'not an image at all')}, 400, 'not a readable image'),
    ({'image': b64(tf.io.encode_jpeg(np.zeros((32, 32, 3), np.uint8)
                                     ).numpy()[:200])}, 400,
     'not a readable image'),
    ({'image': b64(png_header(20000, 20000))}, 400, '40000000-pixel limit'),
    ({'image': '%%% not base64 %%%'}, 400, 'image is not base64'),
    ({'image': 123}, 400, 'image must be a base64 string'),
    ({'text': 'a red shoe'}, 400, 'a ResNet has no text side'),
    ({'embedding_input': [1, 2]}, 400, 'embedding_input must be 64'),
    ({'image_url': 'file:///etc/passwd'}, 400, 'fetches nothing'),
    ({'image_url': 'http://example.com/a.jpg'}, 400, 'fetches nothing'),
    ({'image_url': 'http://testserver/images/../manifest.json'}, 400,
     'fetches nothing'),
    ({'embedding_input': [0.0] * 64, 'indice_name': 'other'}, 404,
     "indice_name 'other'"),
    ({'embedding_input': [0.0] * 64, 'num_images': 0}, 400,
     'num_images must be'),
    ({'embedding_input': [0.0] * 64, 'num_result_ids': 10001}, 400,
     'num_result_ids must be a whole number from 1 to 10000'),
])
def test_bad_requests_get_a_4xx_naming_why_and_change_nothing(
    client, folder, payload, status, words):
  before = fingerprint(folder)
  answer = client.post('/knn-service', json=payload)
  assert answer.status_code == status, answer.text
  assert words in answer.json()['error']
  assert fingerprint(folder) == before


def test_a_body_over_the_limit_gets_413_and_garbage_400(client):
  answer = client.post('/knn-service', content=b'x' * (2**20 + 1))
  assert answer.status_code == 413 and 'limit' in answer.json()['error']
  answer = client.post('/knn-service', content=b'{not json')
  assert answer.status_code == 400 and 'not JSON' in answer.json()['error']
  assert client.post('/metadata', json={'ids': [99]}).status_code == 404
  assert client.get('/images/photos/99').status_code == 404


def test_metrics_count_requests_and_errors(client):
  client.post('/knn-service', json={'text': 'x'})
  client.get('/healthz')
  text = client.get('/metrics').text
  assert 'resnet_v2_requests_total{endpoint="knn-service",status="400"}' in (
      text)
  assert 'resnet_v2_errors_total{kind="http_400"}' in text
  assert 'resnet_v2_request_seconds_bucket' in text
  assert 'resnet_v2_queue_depth' in text


def test_a_full_queue_answers_503_at_once_with_retry_after(folder):
  app = app_lib.create_app([str(folder)], queue_size=1)
  found = app.state.service.collections['photos']

  class Full:
    def submit(self, image):
      raise batcher_lib.Overloaded()
  found.batcher()   # the net, loaded
  found._batcher = Full()  # pylint: disable=protected-access
  image = tf.io.encode_png(np.zeros((8, 8, 3), np.uint8)).numpy()
  answer = testclient.TestClient(app).post('/knn-service',
                                           json={'image': b64(image)})
  assert answer.status_code == 503 and answer.headers['retry-after'] == '1'


def test_image_queries_past_the_bound_in_flight_get_503(folder):
  app = app_lib.create_app([str(folder)], queue_size=0)
  client = testclient.TestClient(app)
  image = tf.io.encode_png(np.zeros((8, 8, 3), np.uint8)).numpy()
  answer = client.post('/knn-service', json={'image': b64(image)})
  assert answer.status_code == 503 and 'at capacity' in answer.json()['error']
  assert client.post('/knn-service', json={
      'embedding_input': [0.0] * 64}).status_code == 200
  assert 'resnet_v2_errors_total{kind="http_503"} 1.0' in client.get(
      '/metrics').text


def test_queued_queries_run_as_batches_and_a_full_queue_refuses():
  started, release, sizes = threading.Event(), threading.Event(), []

  def embed(images):
    sizes.append(len(images))
    started.set()
    release.wait(10)
    return images.reshape(len(images), -1)

  batcher = batcher_lib.Batcher(embed, queue_size=4, window=0.05,
                                max_batch=8)
  first = batcher.submit(np.zeros([2, 2, 1]))
  assert started.wait(10)
  waiting = [batcher.submit(np.full([2, 2, 1], i)) for i in range(4)]
  with pytest.raises(batcher_lib.Overloaded):
    batcher.submit(np.zeros([2, 2, 1]))
  release.set()
  assert first.result(10).shape == (4,)
  assert [w.result(10)[0] for w in waiting] == [0, 1, 2, 3]
  assert sizes == [1, 4] and batcher.batches == 2 and batcher.images == 5


def test_the_command_serves_with_two_workers_until_stopped(folder, tmp_path):
  import socket  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  import urllib.request  # pylint: disable=g-import-not-at-top
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
  log = open(tmp_path / 'serve.log', 'wb')
  server = subprocess.Popen([sys.executable, '-m', 'resnet_v2.cli', 'serve',
                             str(folder), '--port', str(port), '--workers',
                             '2'], stdout=log, stderr=subprocess.STDOUT)
  children = '/proc/%d/task/%d/children' % (server.pid, server.pid)
  try:
    deadline = time.monotonic() + 90
    while True:
      try:
        with urllib.request.urlopen('http://127.0.0.1:%d/indices-list' %
                                    port, timeout=2) as answer:
          assert json.loads(answer.read()) == ['photos']
          break
      except OSError:
        assert server.poll() is None and time.monotonic() < deadline, (
            tmp_path / 'serve.log').read_text()
        time.sleep(0.2)
    # uvicorn's --workers: two worker processes (and its own helper),
    # each answering on the one port.
    workers = open(children).read().split()
    assert len(workers) >= 2, workers
    for _ in range(4):
      with urllib.request.urlopen('http://127.0.0.1:%d/healthz' % port,
                                  timeout=10) as answer:
        assert answer.read() == b'ok'
  finally:
    server.terminate()
    server.wait(30)
  assert 'serving %s on http://127.0.0.1:%d' % (folder, port) in (
      tmp_path / 'serve.log').read_text()


def clip_front_build():
  """clip-retrieval's built web front (`front/build/` of its wheel): where
  RESNET_V2_CLIP_FRONT says (.ci/run unpacks the wheel there), or where
  `pip install --no-deps clip-retrieval` put it; None where neither."""
  import importlib.metadata  # pylint: disable=g-import-not-at-top
  given = os.environ.get('RESNET_V2_CLIP_FRONT')
  if given:
    return given if os.path.isfile(os.path.join(given, 'index.html')) else None
  try:
    files = importlib.metadata.files('clip-retrieval') or []
  except importlib.metadata.PackageNotFoundError:
    return None
  for path in files:
    if str(path).replace(os.sep, '/').endswith('front/build/index.html'):
      return os.path.dirname(str(path.locate()))
  return None


def browser_or_skip():
  """(playwright's sync_playwright, Chromium's path); a skip where either
  is missing, a failure where CI asked for the browser test
  (RESNET_V2_BROWSER_TEST=1, set by .ci/run, which installs them)."""
  import shutil  # pylint: disable=g-import-not-at-top
  chromium = shutil.which('chromium') or shutil.which('chromium-browser')
  try:
    from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  except ImportError:
    sync_playwright = None
  missing = [what for what, there in [
      ('Chromium (apt-get install chromium)', chromium),
      ('playwright (pip install playwright)', sync_playwright),
      ("clip-retrieval's front (RESNET_V2_CLIP_FRONT, or pip install "
       '--no-deps clip-retrieval)',
       clip_front_build())] if not there]
  if missing:
    if os.environ.get('RESNET_V2_BROWSER_TEST') == '1':
      pytest.fail('the browser test needs ' + ', '.join(missing))
    pytest.skip('the browser test needs ' + ', '.join(missing))
  return sync_playwright, chromium


def shown_pictures(page, count):
  """[(src, title, naturalWidth)] of the front's results once count of them
  have loaded."""
  page.wait_for_function(
      "count => { const pics = document.querySelector('clip-front')"
      ".shadowRoot.querySelectorAll('img.pic');"
      " return pics.length === count && [...pics].every("
      " p => p.complete && p.naturalWidth > 0); }", arg=count,
      timeout=30000)
  return page.eval_on_selector_all('img.pic', """pics => pics.map(
      p => [p.getAttribute('src'), p.title, p.naturalWidth])""")


def test_clip_retrievals_front_finds_images_in_chromium(folder, tmp_path):
  """clip-retrieval's unchanged front, served beside our server as
  `clip-retrieval front` serves it (its build, a config.json naming the
  back end), searches by an uploaded image in Chromium: it shows our
  server's answer, the image itself first, every picture our server's
  file; unticking its "hide duplicates" asks again and shows all 12."""
  import functools  # pylint: disable=g-import-not-at-top
  import http.server  # pylint: disable=g-import-not-at-top
  import shutil  # pylint: disable=g-import-not-at-top
  import uvicorn  # pylint: disable=g-import-not-at-top
  sync_playwright, chromium = browser_or_skip()
  server = uvicorn.Server(uvicorn.Config(
      app_lib.create_app([str(folder)]), host='127.0.0.1', port=0,
      log_level='warning'))
  threading.Thread(target=server.run, daemon=True).start()
  while not server.started:
    threading.Event().wait(0.05)
  back = 'http://127.0.0.1:%d' % server.servers[0].sockets[0].getsockname(
  )[1]
  front = tmp_path / 'front'
  shutil.copytree(clip_front_build(), front)
  (front / 'config.json').write_text(json.dumps({
      'defaultBackend': back, 'defaultIndex': 'photos', 'urlColumn': 'url'}))
  files = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(
      http.server.SimpleHTTPRequestHandler, directory=str(front)))
  threading.Thread(target=files.serve_forever, daemon=True).start()
  inputs = json.loads((folder / 'manifest.json').read_text())['inputs'][0]
  query = os.path.join(inputs, '05.png')
  knn = lambda response: response.url == back + '/knn-service'
  try:
    with sync_playwright() as playwright:
      browser = playwright.chromium.launch(executable_path=chromium,
                                           args=['--no-sandbox'])
      page = browser.new_page()
      page.goto('http://127.0.0.1:%d/' % files.server_address[1])
      page.wait_for_selector('#filechooser', state='attached')
      with page.expect_response(knn) as first:
        page.set_input_files('#filechooser', query)
      answer = first.value.json()
      deduplicated = shown_pictures(page, len(answer))
      with page.expect_response(knn) as second:
        page.get_by_label('Hide (near) duplicate images').click()
      everything = shown_pictures(page, len(second.value.json()))
      browser.close()
  finally:
    server.should_exit = True
    files.shutdown()
  assert [src for src, _, _ in deduplicated] == [r['url'] for r in answer]
  assert deduplicated[0][1] == query and answer[0]['similarity'] > 0.99999
  assert everything[0][1] == query and sorted(
      title for _, title, _ in everything) == sorted(
          os.path.join(inputs, '%02d.png' % i) for i in range(12))
  assert all(src.startswith(back + '/images/photos/') and width == 32
             for src, _, width in deduplicated + everything)


def test_ray_serve_runs_the_same_service_in_replicas(folder, tmp_path):
  """`serve --ray local --replicas 2`: Ray Serve's proxy answers
  clip-retrieval's API as the app does (an embedding finds its image)."""
  pytest.importorskip('ray.serve')
  import socket  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  import urllib.request  # pylint: disable=g-import-not-at-top
  from resnet_v2.serve import shards  # pylint: disable=g-import-not-at-top
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
  log = open(tmp_path / 'serve.log', 'wb')
  server = subprocess.Popen(
      [sys.executable, '-m', 'resnet_v2.cli', 'serve', str(folder), '--ray',
       'local', '--replicas', '2', '--port', str(port)], stdout=log,
      stderr=subprocess.STDOUT, env=dict(os.environ, RAY_USAGE_STATS_ENABLED='0'))
  vector = shards.load(str(folder), 'global_pool').reshape(12, -1)[7]
  request = urllib.request.Request(
      'http://127.0.0.1:%d/knn-service' % port, method='POST',
      data=json.dumps({'embedding_input': vector.tolist(), 'num_images': 2,
                       'deduplicate': False}).encode())
  try:
    deadline = time.monotonic() + 180
    while True:
      try:
        with urllib.request.urlopen(request, timeout=10) as answer:
          results = json.loads(answer.read())
          break
      except OSError:
        assert server.poll() is None and time.monotonic() < deadline, (
            tmp_path / 'serve.log').read_text(errors='replace')[-3000:]
        time.sleep(0.5)
    replicas = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
      try:
        with open('/proc/%s/cmdline' % pid, 'rb') as handle:
          command = handle.read()
      except OSError:
        continue
      if b'ServeReplica' in command and b'resnet_v2_serve' in command:
        replicas.append(pid)
  finally:
    server.terminate()
    server.wait(60)
  assert len(replicas) == 2, replicas   # Ray's actor processes
  assert results[0]['caption'].endswith('07.png')
  assert results[0]['url'].startswith('http://127.0.0.1:%d/images/photos/'
                                      % port)
  assert '(Ray Serve, 2 replica(s))' in (tmp_path / 'serve.log').read_text(
      errors='replace')
