"""`resnet-v2 serve --ray ADDRESS`: the same service as a Ray Serve
deployment, its replicas spread over a Ray cluster's machines behind Ray
Serve's HTTP proxy.

Each replica builds the app itself (`app.create_app`, in Ray Serve's
`__serve_build_asgi_app__` hook), so a replica loads the index and the net
where it runs; every machine must see the folders at the same paths (a
shared file system), as with `features --ray`. The API, admission bound
and metrics are a replica's, as with `--workers`.
"""

import os
import time

from resnet_v2 import errors

DEPLOYMENT = 'resnet_v2_serve'


def _serve():
  return errors.require('ray.serve', 'ray-serve', '--ray needs')


class Replica:
  """One replica: the service's app, built on the replica."""

  def __init__(self, settings):
    self.settings = settings

  def __serve_build_asgi_app__(self):
    from resnet_v2.service import app as app_lib  # pylint: disable=g-import-not-at-top
    return app_lib.create_app(**self.settings)


def application(folders, replicas, **settings):
  """The Ray Serve application of the service: `replicas` copies of the
  app (settings: `app.create_app`'s)."""
  serve = _serve()
  settings = dict(settings, folders=[os.path.abspath(f) for f in folders])
  deployment = serve.deployment(serve.ingress()(Replica), name=DEPLOYMENT,
                                num_replicas=replicas)
  return deployment.bind(settings)


def serve_on_ray(folders, address, host, port, replicas, **settings):
  """Runs the service on a Ray cluster until interrupted.

  Args:
    address: A Ray cluster's address, or 'local' (a cluster of this
      machine, started here).
    host, port: Where Ray Serve's HTTP proxy listens.
    replicas: Copies of the app, placed by Ray.
  """
  serve = _serve()
  import ray  # pylint: disable=g-import-not-at-top
  ray.init(address=None if address == 'local' else address,
           logging_level='ERROR', log_to_driver=False)
  serve.start(http_options={'host': host, 'port': port})
  serve.run(application(folders, replicas, **settings), route_prefix='/')
  try:
    while True:
      time.sleep(3600)
  finally:
    serve.shutdown()
