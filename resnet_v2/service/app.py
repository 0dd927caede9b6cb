"""The HTTP service: clip-retrieval back's API over indexed features
folders, so its web front and its clients work unchanged.

  POST /knn-service   image (base64), image_url (of this server's
                      /images/), embedding_input, num_images,
                      num_result_ids, indice_name, deduplicate
  POST /metadata      ids, indice_name
  GET  /indices-list
  GET  /images/<index>/<id>   the image file, where the name is a file
  GET  /healthz, /metrics     liveness; Prometheus text

FastAPI on uvicorn: an ASGI server that holds many slow clients on one
event loop while the work runs in threads (decoding in the request's, the
net in the batcher's), with uvicorn's `--workers` for processes. It never
writes into a folder it serves, and fetches nothing on a client's behalf.
"""

import base64
import binascii
import json
import os
import time
import urllib.parse

from resnet_v2.service import collection as collection_lib
from resnet_v2.service import metrics as metrics_lib

RequestError = collection_lib.RequestError
MAX_BODY = 16 * 2**20
MAX_RESULTS = 1000
# Neighbours fetched before deduplication (clip-retrieval's front asks 3000).
MAX_RESULT_IDS = 10000


def _json(body):
  try:
    payload = json.loads(body or b'null')
  except ValueError:
    raise RequestError(400, 'the body is not JSON; send a JSON object.'
                       ) from None
  if not isinstance(payload, dict):
    raise RequestError(400, 'the body must be a JSON object.')
  return payload


def _count(payload, key, default, most):
  value = payload.get(key, default)
  if value is None:
    value = default
  if not isinstance(value, int) or isinstance(value, bool) or not (
      1 <= value <= most):
    raise RequestError(400, '%s must be a whole number from 1 to %d.' % (
        key, most))
  return value


class Service:
  """The served collections, and what each endpoint answers."""

  def __init__(self, folders, queue_size=32, window=0.005, max_batch=16):
    self.collections = {}
    for folder in folders:
      name = os.path.basename(os.path.normpath(folder))
      if name in self.collections:
        raise ValueError('two folders are named %s; serve folders with '
                         'different names.' % name)
      self.collections[name] = collection_lib.Collection(
          name, folder, queue_size, window, max_batch)

  def collection(self, name):
    if name is None:
      return next(iter(self.collections.values()))
    if name not in self.collections:
      raise RequestError(404, 'indice_name %r: this server has %s.' % (
          name, ', '.join(sorted(self.collections))))
    return self.collections[name]

  def _query(self, found, payload, base_url):
    """The query vector of a knn request. As clip-retrieval's back reads
    it, an empty string is no query (its front sends text "" with an
    image)."""
    given = {key: payload.get(key) for key in (
        'text', 'image', 'image_url', 'embedding_input')}
    given = {key: value for key, value in given.items()
             if value is not None and value != ''}
    if 'text' in given:
      raise RequestError(400, 'text: a ResNet has no text side; query with '
                         'an image, an image_url of this server, or an '
                         'embedding_input.')
    if 'image' in given:
      if not isinstance(given['image'], str):
        raise RequestError(400, 'image must be a base64 string.')
      try:
        contents = base64.b64decode(given['image'], validate=True)
      except (binascii.Error, ValueError):
        raise RequestError(400, 'image is not base64.') from None
      return found.image_vector(contents)
    if 'image_url' in given:
      return self._url_vector(given['image_url'], base_url)
    if 'embedding_input' in given:
      return self._embedding(found, given['embedding_input'])
    raise RequestError(400, 'give image (base64), image_url or '
                       'embedding_input.')

  def _url_vector(self, url, base_url):
    """An image_url of this server's /images/<index>/<id>: its vector."""
    parsed = urllib.parse.urlparse(str(url))
    ours = urllib.parse.urlparse(base_url)
    parts = parsed.path.split('/')
    if (parsed.scheme not in ('http', 'https') or
        parsed.netloc != ours.netloc or '..' in parts or len(parts) != 4 or
        parts[1] != 'images' or not parts[3].isdigit()):
      raise RequestError(400, 'image_url: this server fetches nothing on a '
                         "client's behalf; give one of its own /images/ "
                         'URLs, or send the image itself as image '
                         '(base64).')
    return self.collection(parts[2]).stored_vector(int(parts[3]))

  @staticmethod
  def _embedding(found, values):
    import numpy as np  # pylint: disable=g-import-not-at-top
    dims = found.index.record['dimensions']
    try:
      vector = np.asarray(values, np.float64)
    except (TypeError, ValueError):
      vector = None
    if vector is None or vector.shape != (dims,) or not np.isfinite(
        vector).all():
      raise RequestError(400, 'embedding_input must be %d finite numbers '
                         '(%s).' % (dims, found.index.end_point))
    return vector

  def knn(self, payload, base_url):
    found = self.collection(payload.get('indice_name'))
    num_images = _count(payload, 'num_images', 40, MAX_RESULTS)
    count = max(_count(payload, 'num_result_ids', num_images,
                       MAX_RESULT_IDS), num_images)
    vector = self._query(found, payload, base_url)
    results = []
    for item_id, score in found.knn(vector, count, bool(payload.get(
        'deduplicate', True)), num_images):
      results.append(dict(found.describe(item_id, base_url), id=item_id,
                          similarity=score))
    return results

  def metadata(self, payload, base_url):
    found = self.collection(payload.get('indice_name'))
    ids = payload.get('ids', [])
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids):
      raise RequestError(400, 'ids must be a list of whole numbers.')
    for item_id in ids:
      found.check_id(item_id)
    return [{'id': i, 'metadata': found.describe(i, base_url)} for i in ids]

  def image_file(self, name, item_id):
    """The path of an indexed image that is a file.

    Raises:
      RequestError: 404 where there is none.
    """
    found = self.collection(name)
    found.check_id(item_id)
    path = found.index.names[item_id]
    if not os.path.isfile(path):
      raise RequestError(404, 'image %d of %s (%s) is not a file here.' % (
          item_id, name, path))
    return path


class _Handler:
  """Answers a POST: the body's size and JSON checked, image queries
  admitted while fewer than queue_size are in flight (decoding, queued or
  in the net; one more is refused at once with 503), the work run in a
  worker thread, and every answer counted in the metrics. It runs on the
  event loop's one thread: the count needs no lock."""

  def __init__(self, metrics, max_body, queue_size, in_flight):
    self.metrics, self.max_body = metrics, max_body
    self.queue_size, self.in_flight = queue_size, in_flight

  def answer(self, endpoint, started, status, content):
    from fastapi.responses import JSONResponse  # pylint: disable=g-import-not-at-top
    self.metrics.observe(endpoint, status, time.perf_counter() - started)
    headers = {'Retry-After': '1'} if status == 503 else None
    return JSONResponse(content, status_code=status, headers=headers)

  async def _body(self, request):
    size = int(request.headers.get('content-length') or 0)
    if size > self.max_body:
      raise RequestError(413, 'the body is %d bytes; the limit is %d.' % (
          size, self.max_body))
    body = await request.body()
    if len(body) > self.max_body:
      raise RequestError(413, 'the body is over %d bytes.' % self.max_body)
    return _json(body)

  async def __call__(self, request, endpoint, work):
    from starlette.concurrency import run_in_threadpool  # pylint: disable=g-import-not-at-top
    started = time.perf_counter()
    try:
      payload = await self._body(request)
      image = isinstance(payload.get('image'), str) and bool(payload['image'])
      if image and self.in_flight[0] >= self.queue_size:
        raise RequestError(503, 'the server is at capacity (%d image '
                           'queries in flight); retry in a second.' %
                           self.queue_size)
      self.in_flight[0] += image
      try:
        result = await run_in_threadpool(work, payload,
                                         str(request.base_url))
      finally:
        self.in_flight[0] -= image
      return self.answer(endpoint, started, 200, result)
    except RequestError as error:
      self.metrics.error('http_%d' % error.status)
      return self.answer(endpoint, started, error.status,
                         {'error': error.message})


def create_app(folders, queue_size=32, window=0.005, max_batch=16,
               max_body=MAX_BODY):
  """The ASGI app serving folders (see the module docstring)."""
  # pylint: disable=g-import-not-at-top
  from fastapi import FastAPI, Request
  from fastapi.middleware.cors import CORSMiddleware
  from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
  service = Service(folders, queue_size, window, max_batch)
  in_flight = [0]   # image queries in flight
  metrics = metrics_lib.Metrics(lambda: in_flight[0])
  app = FastAPI(title='resnet-v2 serve')
  # clip-retrieval's front is served from another origin.
  app.add_middleware(CORSMiddleware, allow_origins=['*'],
                     allow_methods=['GET', 'POST'], allow_headers=['*'])
  app.state.service = service

  handle = _Handler(metrics, max_body, queue_size, in_flight)

  @app.post('/knn-service')
  async def knn_service(request: Request):
    return await handle(request, 'knn-service', service.knn)

  @app.post('/metadata')
  async def metadata(request: Request):
    return await handle(request, 'metadata', service.metadata)

  @app.get('/indices-list')
  def indices_list():
    return list(service.collections)

  @app.get('/images/{name}/{item_id}')
  def image(name: str, item_id: int):
    try:
      return FileResponse(service.image_file(name, item_id))
    except RequestError as error:
      metrics.error('http_%d' % error.status)
      return JSONResponse({'error': error.message}, error.status)

  @app.get('/healthz')
  def healthz():
    return PlainTextResponse('ok')

  @app.get('/metrics')
  def prometheus():
    return PlainTextResponse(metrics.exposition(),
                             media_type=metrics_lib.CONTENT_TYPE)

  return app


SETTINGS_VARIABLE = 'RESNET_V2_SERVE_SETTINGS'


def from_environment():
  """The app of the settings `serve` put in the environment: what each
  uvicorn worker process builds (`uvicorn --factory`)."""
  settings = json.loads(os.environ[SETTINGS_VARIABLE])
  return create_app(**settings)


def serve(folders, host='127.0.0.1', port=1234, workers=1, queue_size=32,
          window=0.005, max_batch=16):
  """Runs the service on uvicorn until interrupted."""
  import uvicorn  # pylint: disable=g-import-not-at-top
  settings = dict(folders=[os.path.abspath(f) for f in folders],
                  queue_size=queue_size, window=window, max_batch=max_batch)
  if workers == 1:
    uvicorn.run(create_app(**settings), host=host, port=port,
                log_level='warning')
    return
  os.environ[SETTINGS_VARIABLE] = json.dumps(settings)
  uvicorn.run('resnet_v2.service.app:from_environment', factory=True,
              host=host, port=port, workers=workers, log_level='warning')
