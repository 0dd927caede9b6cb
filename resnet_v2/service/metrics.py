"""Prometheus metrics of the service, in a registry of its own (one per
app): requests by endpoint and status, a latency histogram, the batch
queue's depth, and errors by kind."""

CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'


class Metrics:
  """The service's counters; `exposition()` is /metrics' text."""

  def __init__(self, queue_depth):
    # pylint: disable=g-import-not-at-top
    import prometheus_client as prometheus
    self._prometheus = prometheus
    self.registry = prometheus.CollectorRegistry()
    self.requests = prometheus.Counter(
        'resnet_v2_requests', 'HTTP requests answered',
        ['endpoint', 'status'], registry=self.registry)
    self.latency = prometheus.Histogram(
        'resnet_v2_request_seconds', 'Time to answer a request',
        ['endpoint'], registry=self.registry,
        buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
    self.errors = prometheus.Counter(
        'resnet_v2_errors', 'Requests refused, by kind', ['kind'],
        registry=self.registry)
    depth = prometheus.Gauge('resnet_v2_queue_depth',
                             'Image queries in flight (decoding, queued, '
                             'in the net)',
                             registry=self.registry)
    depth.set_function(queue_depth)

  def observe(self, endpoint, status, seconds):
    self.requests.labels(endpoint, str(status)).inc()
    self.latency.labels(endpoint).observe(seconds)

  def error(self, kind):
    self.errors.labels(kind).inc()

  def exposition(self):
    return self._prometheus.generate_latest(self.registry).decode()
