"""Benchmark runs in child processes: one per oneDNN setting (TensorFlow
fixes it at start-up), per batch size of a sweep, and for peak memory."""

import json
import os
import subprocess
import sys
import tempfile

from resnet_v2 import runtime

ONEDNN_SETTINGS = {'on': ['1'], 'off': ['0'], 'best': ['1', '0']}


def measure_peak_rss(which, argv):
  """Peak resident memory of a short forward run in a fresh process.

  Args:
    which: 'project' or 'keras'.
    argv: The command line of this run; the child builds the same step.
  """
  command = [sys.executable, '-m', 'benchmarks', '--peak-rss-of', which
            ] + list(argv)
  done = subprocess.run(command, capture_output=True, text=True, check=False)
  if done.returncode:
    raise RuntimeError('peak-memory run of %s failed:\n%s' %
                       (which, done.stderr[-2000:]))
  return json.loads(done.stdout.strip().splitlines()[-1])['peak_rss_bytes']


def strip_options(argv, names):
  """argv without the options in `names` and their values."""
  kept, skip = [], False
  for item in argv:
    if skip:
      skip = False
    elif item in names:
      skip = True
    elif not any(item.startswith(name + '=') for name in names):
      kept.append(item)
  return kept


def run_child(argv, setting):
  """Runs one timing in a child process with TF_ENABLE_ONEDNN_OPTS=setting.

  Returns:
    Its result dict, or None when the child refused the setting (e.g. bf16
    with oneDNN off), after saying so.
  """
  with tempfile.TemporaryDirectory() as temp:
    path = os.path.join(temp, 'result.json')
    command = [sys.executable, '-m', 'benchmarks'] + argv + [
        '--onednn', 'default', '--json', path]
    print('running (TF_ENABLE_ONEDNN_OPTS=%s): %s' % (
        setting, ' '.join(command[1:])), flush=True)
    done = subprocess.run(command, capture_output=True, text=True,
                          check=False, env=dict(
                              os.environ, TF_ENABLE_ONEDNN_OPTS=setting))
    summary = [line for line in done.stdout.splitlines()
               if 's/batch' in line]
    print('\n'.join(summary), flush=True)
    if done.returncode:
      reason = done.stderr.strip().splitlines()[-1:] or ['no output']
      if 'cannot run here' in reason[0]:
        print('skipped oneDNN=%s: %s' % (setting, reason[0]))
        return None
      raise RuntimeError('child run failed:\n%s' % done.stderr[-3000:])
    with open(path) as handle:
      return json.load(handle)


def best_of(results):
  """One result from runs in several oneDNN settings: each implementation's
  fastest, with every run kept under 'runs'."""
  results = [r for r in results if r]
  if not results:
    raise RuntimeError('no oneDNN setting could run this configuration.')
  best = dict(min(results, key=lambda r: r['mean_s']))
  best['runs'] = [{'onednn': r['onednn'], 'mean_s': r['mean_s'],
                   'keras_mean_s': r.get('keras', {}).get('mean_s')}
                  for r in results]
  with_keras = [r for r in results if 'keras' in r]
  if with_keras:
    keras_best = min(with_keras, key=lambda r: r['keras']['mean_s'])
    best['keras'] = dict(keras_best['keras'], onednn=keras_best['onednn'])
    best['ratio_to_keras'] = best['mean_s'] / best['keras']['mean_s']
  return best


def run_settings(args, batch_size=None):
  """Times args in child processes per oneDNN setting; returns best_of."""
  argv = strip_options(args.argv, ('--onednn', '--batch-sizes', '--json',
                                   '--sweep-plot'))
  if batch_size is not None:
    argv = strip_options(argv, ('--batch-size',)) + [
        '--batch-size', str(batch_size)]
  settings = ONEDNN_SETTINGS.get(args.onednn) or [
      '1' if runtime.onednn_enabled() else '0']
  best = best_of([run_child(argv, setting) for setting in settings])
  best['command'] = ' '.join(['python -m benchmarks'] + args.argv)
  line = '%s batch %d: resnet_v2 %.3f s (oneDNN %s)' % (
      best['model'], best['batch_size'], best['mean_s'],
      'on' if best['onednn'] else 'off')
  if 'keras' in best:
    line += ', keras %.3f s (oneDNN %s), ratio %.3f' % (
        best['keras']['mean_s'], 'on' if best['keras']['onednn'] else 'off',
        best['ratio_to_keras'])
  print('best: ' + line, flush=True)
  return best


def run_sweep(args):
  """Runs every batch size of --batch-sizes; returns the sweep dict."""
  rows = [run_settings(args, batch_size) for batch_size in args.batch_sizes]
  return {'command': ' '.join(['python -m benchmarks'] + args.argv),
          'model': args.model, 'sweep': rows}
