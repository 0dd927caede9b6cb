"""`resnet-v2 serve` under load, on 127.0.0.1 only, bounded in requests
and time.

  python -m benchmarks.serve --seconds 20 --json out.json

It writes (once, under --work-dir) --images PNG files, their features
(resnet_v2_50 with seeded random weights at --image-size, global_pool) and
an index, starts `resnet-v2 serve` on them in a child process, then:

1. closed loop: C clients (each a keep-alive connection sending one
   request after the other) for each C of --clients, for image queries
   (a PNG of the folder, base64) and for embedding queries: requests/s,
   p50 and p99 latency;
2. overload: requests sent on a fixed schedule at --overload times the
   best image-query rate of step 1, for --overload-seconds: the share of
   503s, p99 of the accepted requests, how fast a 503 came, and the
   server's resident memory sampled every second (first, last, max).
"""

import argparse
import base64
import concurrent.futures
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np


def prepare(work_dir, count, image_size):
  """The folder of images and the indexed features folder (made once)."""
  images = os.path.join(work_dir, 'images_%d' % count)
  features = os.path.join(work_dir, 'features_%d_%d' % (count, image_size))
  if os.path.isfile(os.path.join(features, 'index', 'index.json')):
    return images, features
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from resnet_v2.search import index  # pylint: disable=g-import-not-at-top
  from resnet_v2.serve import features as features_lib  # pylint: disable=g-import-not-at-top
  from resnet_v2.serve import model  # pylint: disable=g-import-not-at-top
  os.makedirs(images, exist_ok=True)
  rng = np.random.default_rng(0)
  for i in range(count):
    with open(os.path.join(images, '%05d.png' % i), 'wb') as out:
      out.write(tf.io.encode_png(rng.integers(
          0, 255, (image_size, image_size, 3), np.uint8)).numpy())
  net = model.Model.load(model='resnet_v2_50', image_size=image_size, seed=0)
  features_lib.extract_to_folder([images], features, net, ['global_pool'])
  index.build(features)
  return images, features


def request(connection, payload):
  """(status, seconds) of one POST /knn-service."""
  body = json.dumps(payload)
  start = time.perf_counter()
  connection.request('POST', '/knn-service', body,
                     {'Content-Type': 'application/json'})
  answer = connection.getresponse()
  answer.read()
  return answer.status, time.perf_counter() - start


def closed_loop(port, payloads, clients, seconds):
  """Requests/s and latencies of `clients` back-to-back senders."""
  stop = time.perf_counter() + seconds
  results = []

  def client(offset):
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    mine, turn = [], offset
    while time.perf_counter() < stop:
      mine.append(request(connection, payloads[turn % len(payloads)]))
      turn += clients
    connection.close()
    return mine

  begin = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    for mine in pool.map(client, range(clients)):
      results.extend(mine)
  wall = time.perf_counter() - begin
  ok = [s for status, s in results if status == 200]
  return {'clients': clients, 'requests': len(results),
          'ok': len(ok), 'per_second': len(ok) / wall,
          'p50_ms': 1000 * float(np.percentile(ok, 50)) if ok else None,
          'p99_ms': 1000 * float(np.percentile(ok, 99)) if ok else None}


def rss_mib(pid):
  with open('/proc/%d/status' % pid) as status:
    for line in status:
      if line.startswith('VmRSS:'):
        return int(line.split()[1]) / 1024
  return None


def overload(port, payloads, rate, seconds, pid):
  """Requests fired on a fixed schedule at `rate` a second."""
  results, lock, samples = [], threading.Lock(), []
  local = threading.local()

  def fire(i):
    if not hasattr(local, 'connection'):
      local.connection = http.client.HTTPConnection('127.0.0.1', port,
                                                    timeout=60)
    try:
      found = request(local.connection, payloads[i % len(payloads)])
    except (OSError, http.client.HTTPException):
      local.connection = http.client.HTTPConnection('127.0.0.1', port,
                                                    timeout=60)
      found = ('error', 0.0)
    with lock:
      results.append(found)

  total = int(rate * seconds)
  begin = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(64) as pool:
    for i in range(total):
      wait = begin + i / rate - time.perf_counter()
      if wait > 0:
        time.sleep(wait)
      if not samples or time.perf_counter() - samples[-1][0] >= 1:
        samples.append((time.perf_counter(), rss_mib(pid)))
      pool.submit(fire, i)
  rss = [m for _, m in samples]
  accepted = [s for status, s in results if status == 200]
  refused = [s for status, s in results if status == 503]
  return {'rate': rate, 'requests': len(results),
          'share_503': len(refused) / max(len(results), 1),
          'errors': sum(1 for status, _ in results
                        if status not in (200, 503)),
          'p99_accepted_ms': 1000 * float(np.percentile(accepted, 99))
                             if accepted else None,
          'p99_503_ms': 1000 * float(np.percentile(refused, 99))
                        if refused else None,
          'rss_first_mib': rss[0], 'rss_last_mib': rss[-1],
          'rss_max_mib': max(rss)}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--images', type=int, default=500)
  parser.add_argument('--image-size', type=int, default=64)
  parser.add_argument('--clients', default='1,4,16')
  parser.add_argument('--seconds', type=float, default=20)
  parser.add_argument('--overload', type=float, default=2.0)
  parser.add_argument('--overload-seconds', type=float, default=60)
  parser.add_argument('--queue', type=int, default=32)
  parser.add_argument('--work-dir', default=os.path.join(
      tempfile.gettempdir(), 'resnet_v2_serve_benchmark'))
  parser.add_argument('--json')
  args = parser.parse_args(argv)
  images, features = prepare(args.work_dir, args.images, args.image_size)
  names = sorted(os.listdir(images))[:50]
  image_payloads = [{'image': base64.b64encode(open(os.path.join(
      images, n), 'rb').read()).decode(), 'num_images': 10,
                     'deduplicate': False} for n in names]
  vectors = np.random.default_rng(1).normal(size=(50, 2048))
  embedding_payloads = [{'embedding_input': v.tolist(), 'num_images': 10,
                         'deduplicate': False} for v in vectors]
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
  server = subprocess.Popen(
      [sys.executable, '-m', 'resnet_v2.cli', 'serve', features, '--port',
       str(port), '--queue', str(args.queue)],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  rows = {'image': [], 'embedding': []}
  try:
    deadline = time.monotonic() + 120
    while True:
      try:
        connection = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
        # Warm: the net loads on the first image query.
        if request(connection, image_payloads[0])[0] == 200:
          break
      except OSError:
        pass
      if server.poll() is not None or time.monotonic() > deadline:
        raise RuntimeError('the server did not start')
      time.sleep(0.5)
    for kind, payloads in (('image', image_payloads),
                           ('embedding', embedding_payloads)):
      for clients in [int(c) for c in args.clients.split(',')]:
        row = closed_loop(port, payloads, clients, args.seconds)
        rows[kind].append(row)
        print(kind, json.dumps(row), flush=True)
    best = max(r['per_second'] for r in rows['image'])
    loaded = overload(port, image_payloads, args.overload * best,
                      args.overload_seconds, server.pid)
    print('overload', json.dumps(loaded), flush=True)
    alive = server.poll() is None
  finally:
    server.terminate()
    server.wait(30)
  result = {'command': ' '.join(['python -m benchmarks.serve'] + (
      argv if argv is not None else sys.argv[1:])),
            'image_size': args.image_size, 'closed_loop': rows,
            'overload': loaded, 'server_alive_after_overload': alive}
  if args.json:
    with open(args.json, 'w') as out:
      json.dump(result, out, indent=1)
  return result


if __name__ == '__main__':
  main()
