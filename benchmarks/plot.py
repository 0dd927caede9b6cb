"""A PNG of time per batch across the runs of several --json result files."""

import json

from resnet_v2 import files


def load_results(paths):
  """Reads --json result files.

  Raises:
    ValueError: if a file is not a benchmark result, naming it.
  """
  results = []
  for path in paths:
    try:
      with open(path) as handle:
        result = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
      raise ValueError('%s is not a readable JSON result: %s' % (path, error))
    if not isinstance(result, dict) or 'mean_s' not in result:
      raise ValueError('%s is not a result written by --json (no mean_s).' %
                       path)
    results.append(result)
  return results


def label(result):
  """Model, mode and precision, then whatever else sets the run apart."""
  extras = []
  if result.get('xla'):
    extras.append('XLA')
  if result.get('data_format', 'NHWC') != 'NHWC':
    extras.append(result['data_format'])
  if result.get('feed'):
    extras.append('feed')
  if any(result.get('threads', [0, 0])):
    extras.append('threads %d:%d' % tuple(result['threads']))
  extras.extend('no ' + name for name in result.get('disabled_rewrites', []))
  return '%s\n%s %s%s' % (
      result['model'].replace('resnet_v2_', 'R'),
      result['mode'].replace('forward-backward', 'fwd+bwd'),
      result['precision'], ''.join('\n' + e for e in extras))


def plot_results(paths, png_path):
  """Draws one bar (mean, with SD) per result, and Keras's where compared.

  Raises:
    ValueError: on unreadable results.
    ImportError: when matplotlib is missing, saying how to install it.
  """
  results = load_results(paths)
  pyplot = _pyplot()
  figure, axes = pyplot.subplots(figsize=(max(6, 1.3 * len(results)), 4.5))
  positions = range(len(results))
  axes.bar([p - 0.2 for p in positions], [r['mean_s'] for r in results], 0.4,
           yerr=[r['std_s'] for r in results], label='resnet_v2')
  keras = [(p, r['keras']) for p, r in zip(positions, results) if 'keras' in r]
  if keras:
    axes.bar([p + 0.2 for p, _ in keras], [k['mean_s'] for _, k in keras], 0.4,
             yerr=[k['std_s'] for _, k in keras], label='keras (fp32)')
  axes.set_xticks(list(positions))
  axes.set_xticklabels([label(r) for r in results], fontsize=8)
  axes.set_ylabel('seconds per batch')
  first = results[0]
  axes.set_title('batch %d, %dx%d, %s' % (first['batch_size'],
                                           first['image_size'],
                                           first['image_size'],
                                           first.get('device_name', '')),
                 fontsize=9)
  axes.legend()
  figure.tight_layout()
  _save(figure, pyplot, png_path)


def plot_sweep(sweep, png_path):
  """Draws seconds per batch and images/s against batch size, ours and
  Keras's (each in its best oneDNN setting), from a --batch-sizes result.

  Raises:
    ImportError: when matplotlib is missing, saying how to install it.
  """
  pyplot = _pyplot()
  rows = sweep['sweep']
  sizes = [r['batch_size'] for r in rows]
  figure, (latency, throughput) = pyplot.subplots(1, 2, figsize=(10, 4.2))
  series = [('resnet_v2 (%s)' % rows[0]['precision'],
             [r['mean_s'] for r in rows])]
  if all('keras' in r for r in rows):
    series.append(('keras (fp32)', [r['keras']['mean_s'] for r in rows]))
  for name, means in series:
    latency.plot(sizes, means, marker='o', label=name)
    throughput.plot(sizes, [b / m for b, m in zip(sizes, means)], marker='o',
                    label=name)
  for axes, ylabel in ((latency, 'seconds per batch'),
                       (throughput, 'images per second')):
    axes.set_xscale('log', base=2)
    axes.set_xticks(sizes)
    axes.set_xticklabels([str(s) for s in sizes])
    axes.set_xlabel('batch size')
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.legend()
  latency.set_yscale('log')
  figure.suptitle('%s forward, %dx%d, %s' % (
      sweep['model'], rows[0]['image_size'], rows[0]['image_size'],
      rows[0].get('device_name', '')), fontsize=9)
  figure.tight_layout()
  _save(figure, pyplot, png_path)


def _pyplot():
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use('Agg')
    from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  except ImportError as error:
    raise ImportError("plots need matplotlib: pip install 'resnet_v2[plot]'"
                      ) from error
  return pyplot


def _save(figure, pyplot, png_path):
  try:
    with files.atomic_write(png_path) as out:
      figure.savefig(out, format='png', dpi=100)
  finally:
    pyplot.close(figure)
