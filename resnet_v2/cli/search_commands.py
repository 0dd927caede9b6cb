"""What `resnet-v2 index`, `search`, `dedup` and `probe` do once parsed."""

import json
import sys

from resnet_v2.cli import progress


def run_index(args):
  from resnet_v2.search import index  # pylint: disable=g-import-not-at-top
  record, rebuilt = index.build(
      args.folder, args.end_point, args.metric,
      index.parse_memory(args.max_index_memory), args.recall,
      progress=progress.Progress)
  if rebuilt:
    print('index of %s %s' % (args.folder, rebuilt), file=sys.stderr)
  print('indexed %d vectors of %s (%d numbers) in %s/index: %s%s, recall@10 '
        '%.4f against exact search on %d queries' % (
            record['vectors'], record['end_point'], record['dimensions'],
            args.folder, record['factory'],
            ', nprobe %d' % record['nprobe'] if record['nprobe'] else '',
            record['recall_at_10'], record['recall_queries']))
  if record['recall_at_10'] < args.recall:
    print('warning: recall@10 %.4f is below --recall %g even searching every '
          'list: these codes are too small; give a larger --max-index-memory.'
          % (record['recall_at_10'], args.recall), file=sys.stderr)


def run_search(args):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from resnet_v2.search import nearest  # pylint: disable=g-import-not-at-top
  if bool(args.queries) == bool(args.vector):
    raise ValueError('give query images, or --vector FILE.npy (not both).')
  found = nearest.Index.load(args.folder)
  if args.vector:
    queries = np.load(args.vector, allow_pickle=False)
    labels = ['%s[%d]' % (args.vector, i) for i in range(
        1 if queries.ndim == 1 else len(queries))]
  else:
    queries, labels = list(args.queries), list(args.queries)
  results = found.search(queries, args.k)
  if args.json:
    print(json.dumps([{'query': q, 'results': r}
                      for q, r in zip(labels, results)]))
    return
  key = 'similarity' if found.record['metric'] == 'ip' else 'distance'
  for query, result in zip(labels, results):
    print(query)
    for hit in result:
      print('  %.4f  %s' % (hit[key], hit['name']))


def run_dedup(args):
  from resnet_v2.search import dedup  # pylint: disable=g-import-not-at-top
  if args.ray and args.against:
    raise ValueError('--ray runs the groups of one folder; a leak report '
                     '(--against) runs here: drop --ray.')
  summary = dedup.dedup(args.folder, args.threshold, args.output,
                        args.against, args.overwrite, args.html,
                        ray_address=args.ray, log=sys.stderr)
  if args.against:
    print('%d of %d images of %s have a near twin in %s (threshold %g); '
          'wrote %s' % (summary['leaks'], summary['images'], args.against,
                        args.folder, args.threshold, args.output))
  else:
    print('%d images: %d near-duplicate groups, %d duplicates to drop '
          '(threshold %g); wrote %s' % (
              summary['images'], summary['groups'], summary['duplicates'],
              args.threshold, args.output))
  if args.html:
    print('wrote %s' % args.html)


def run_probe(args):
  from resnet_v2.search import probe  # pylint: disable=g-import-not-at-top
  results = probe.probe(args.train, args.test, args.end_points,
                        args.methods or probe.METHODS)
  if args.json:
    print(json.dumps({name: {method: {'top1': r['top1']}
                             for method, r in methods.items()}
                      for name, methods in results.items()}))
    return
  for name, methods in results.items():
    print('%s: %s' % (name, ', '.join(
        '%s top-1 %.4f' % (method, r['top1'])
        for method, r in methods.items())))


def run_serve(args):
  from resnet_v2.service import app  # pylint: disable=g-import-not-at-top
  if args.ray and args.workers != 1:
    raise ValueError('--workers is for one machine; with --ray, give '
                     '--replicas.')
  if not args.ray and args.replicas != 1:
    raise ValueError('--replicas goes with --ray; on one machine, give '
                     '--workers.')
  for folder in args.folders:   # refused before anything listens
    app.Service([folder], 1)
  if args.host not in ('127.0.0.1', 'localhost', '::1'):
    print('serving on %s: reachable from other machines.' % args.host,
          file=sys.stderr)
  print('serving %s on http://%s:%d%s' % (
      ', '.join(args.folders), args.host, args.port,
      ' (Ray Serve, %d replica(s))' % args.replicas if args.ray else ''),
        file=sys.stderr)
  settings = dict(queue_size=args.queue, window=args.batch_window_ms / 1000,
                  max_batch=args.max_batch)
  if args.ray:
    from resnet_v2.service import on_ray  # pylint: disable=g-import-not-at-top
    on_ray.serve_on_ray(args.folders, args.ray, args.host, args.port,
                        args.replicas, **settings)
  else:
    app.serve(args.folders, args.host, args.port, args.workers, **settings)


COMMANDS = {'index': run_index, 'search': run_search, 'dedup': run_dedup,
            'probe': run_probe, 'serve': run_serve}
