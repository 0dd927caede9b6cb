"""The flags of `resnet-v2 index`, `search`, `dedup` and `probe`: answers
from a features folder (`resnet_v2.search`)."""

from resnet_v2.cli import flags


def add_search_parsers(commands):
  index = commands.add_parser(
      'index', help='build the FAISS index of a features folder',
      description='Build (or extend with shards written since) a FAISS '
      'index over one end point of a features folder, in DIR/index/: exact '
      'while it fits --max-index-memory, else IVF with 8-bit or product '
      'codes; nprobe is tuned to reach --recall on a sample, and the '
      'recall@10 against exact search is printed and recorded.')
  index.add_argument('folder', metavar='DIR', help='a features folder')
  index.add_argument('--end-point', metavar='NAME',
                     help="default: the folder's first")
  index.add_argument('--metric', choices=('ip', 'l2'), default='ip',
                     help='ip: cosine similarity of L2-normalised vectors; '
                     'l2: squared distance (default: %(default)s)')
  index.add_argument('--max-index-memory', default='4G', metavar='BYTES',
                     help='memory the index may take, e.g. 512M (default: '
                     '%(default)s)')
  index.add_argument('--recall', type=float, default=0.95,
                     help='recall@10 the search settings must reach '
                     '(default: %(default)s)')
  search = commands.add_parser(
      'search', help='the nearest images of a features folder to queries',
      description='The k nearest indexed images to each query: an image '
      "file (run through the folder's net and preprocessing) or, with "
      '--vector, a .npy of vectors.')
  search.add_argument('folder', metavar='DIR', help='an indexed features '
                      'folder (`resnet-v2 index DIR` first)')
  search.add_argument('queries', nargs='*', metavar='IMAGE')
  search.add_argument('--vector', metavar='FILE.npy', help='query vectors '
                      '[n, dims] or [dims], instead of images')
  search.add_argument('-k', type=flags.positive_int, default=10)
  search.add_argument('--json', action='store_true',
                      help='one JSON list of results per query, for programs')
  dedup = commands.add_parser(
      'dedup', help='near-duplicate groups, or leaks between two folders',
      description='Near-duplicate groups of an indexed features folder '
      '(range search and connected components), written as Parquet: name, '
      'group (the id of its kept image), similarity (to it), keep. With '
      '--against DIR2: the images of DIR2 with a near twin in DIR (name, '
      'twin, similarity), e.g. test images leaked from train.')
  dedup.add_argument('folder', metavar='DIR')
  dedup.add_argument('--against', metavar='DIR2')
  dedup.add_argument('--threshold', type=float, default=0.95,
                     help='cosine similarity at or above which images are '
                     'near twins (squared distance at or below, for an l2 '
                     'index; default: %(default)s)')
  dedup.add_argument('--output', '-o', required=True, metavar='FILE.parquet')
  dedup.add_argument('--html', metavar='FILE.html',
                     help='also a page of the groups (or leaks) with '
                     'thumbnails, to look at before dropping anything')
  dedup.add_argument('--ray', nargs='?', const='auto', metavar='ADDRESS',
                     help="range-search the shards as tasks on a Ray "
                     "cluster ('auto': the one this machine is part of; "
                     "or its address; 'local' starts one here); needs "
                     "'resnet_v2[ray]'")
  flags.add_overwrite_arg(dedup)
  probe = commands.add_parser(
      'probe', help='linear and k-NN probes of labelled features',
      description="Top-1 of a logistic regression (CLIP's protocol: "
      "L-BFGS, strength swept on a validation split of --train) and of "
      "DINO's weighted k-NN (k=20, T=0.07), per end point.")
  probe.add_argument('--train', required=True, metavar='DIR')
  probe.add_argument('--test', required=True, metavar='DIR')
  probe.add_argument('--end-point', action='append', dest='end_points',
                     metavar='NAME', help='repeatable; default: all')
  probe.add_argument('--method', action='append', dest='methods',
                     choices=('logistic', 'knn'),
                     help='repeatable; default: both')
  probe.add_argument('--json', action='store_true')


def add_serve_parser(commands):
  serve = commands.add_parser(
      'serve', help="serve indexed features folders over clip-retrieval's "
      'HTTP API',
      description="clip-retrieval back's API (POST /knn-service, POST "
      '/metadata, GET /indices-list) over indexed features folders, so its '
      'web front and clients work unchanged; image queries are batched '
      'through the net; /healthz and Prometheus /metrics. FastAPI on '
      'uvicorn. Needs resnet_v2[serve].')
  serve.add_argument('folders', nargs='+', metavar='DIR',
                     help='indexed features folders (`resnet-v2 index` '
                     'first); each is served under its folder name')
  serve.add_argument('--host', default='127.0.0.1',
                     help='default: %(default)s (this machine only)')
  serve.add_argument('--port', type=flags.positive_int, default=1234)
  serve.add_argument('--workers', type=flags.positive_int, default=1,
                     help='server processes (default: %(default)s)')
  serve.add_argument('--ray', metavar='ADDRESS',
                     help="run on Ray Serve: a Ray cluster's address, or "
                     "'local'; needs resnet_v2[ray-serve]")
  serve.add_argument('--replicas', type=flags.positive_int, default=1,
                     help='with --ray: copies of the service Ray places '
                     '(default: %(default)s)')
  serve.add_argument('--queue', type=flags.positive_int, default=32,
                     help='image queries in flight (decoding, queued, in '
                     'the net) before new ones get 503 (default: '
                     '%(default)s)')
  serve.add_argument('--batch-window-ms', type=float, default=5.0,
                     help='how long a batch waits for more queries '
                     '(default: %(default)s)')
  serve.add_argument('--max-batch', type=flags.positive_int, default=16)
