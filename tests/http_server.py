"""A local HTTP server for download tests: serves files from memory on
127.0.0.1, honours Range requests, counts requests, and can cut a body
short (a connection that dies mid-download)."""

import contextlib
import http.server
import threading


class Files:
  """What the server serves and what it saw.

  files: {name: bytes}. truncate: {name: bytes to send before closing}
  (each such name is cut once, then served whole). requests: [(method,
  name, Range header or None)].
  """

  def __init__(self, files=None):
    self.files = dict(files or {})
    self.truncate = {}
    self.requests = []
    self.lock = threading.Lock()


def _handler(served):
  class Handler(http.server.BaseHTTPRequestHandler):

    def log_message(self, *args):
      pass

    def do_GET(self):  # pylint: disable=invalid-name
      name = self.path.lstrip('/')
      wanted = self.headers.get('Range')
      with served.lock:
        served.requests.append(('GET', name, wanted))
        data = served.files.get(name)
        cut = served.truncate.pop(name, None)
      if data is None:
        self.send_error(404, 'Not Found')
        return
      start = 0
      if wanted and wanted.startswith('bytes='):
        start = int(wanted[len('bytes='):].split('-')[0])
        if start >= len(data):
          self.send_error(416, 'Range Not Satisfiable')
          return
        self.send_response(206)
        self.send_header('Content-Range', 'bytes %d-%d/%d' % (
            start, len(data) - 1, len(data)))
      else:
        self.send_response(200)
      body = data[start:]
      self.send_header('Content-Length', str(len(body)))
      self.end_headers()
      if cut is not None:
        self.wfile.write(body[:cut])
        self.wfile.flush()
        self.close_connection = True
        return
      self.wfile.write(body)

  return Handler


@contextlib.contextmanager
def serving(files=None):
  """Yields (base URL, Files) of a server running until the block ends."""
  served = Files(files)
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                           _handler(served))
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield 'http://127.0.0.1:%d/' % server.server_address[1], served
  finally:
    server.shutdown()
    server.server_close()


def closed_port_url():
  """A URL nothing listens on (a port just closed)."""
  import socket  # pylint: disable=g-import-not-at-top
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
  return 'http://127.0.0.1:%d/' % port
