"""The packages import downwards only: cli > commands > search > serve,
train > data, nets > the ground floor, with the registry of net facts readable by
all."""

import ast
import pathlib

import pytest

pytestmark = pytest.mark.quick   # the quick tier (pytest.ini)

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / 'resnet_v2'
GROUND = {'checkpoint_files', 'checkpoints', 'cpu', 'errors', 'files', 'lock',
          'metrics',
          'model_dir', 'record', 'runtime'}
# floor -> floors (and modules) it may import.
ALLOWED = {
    'ground': {'ground', 'nets.registry'},
    'cli': {'ground', 'nets', 'data', 'train', 'serve', 'search', 'service',
            'cli'},
    # Nets only build graphs: the machine's facts are handed in
    # (`nets.platform`), checkpoints are read by name.
    'nets': {'nets', 'checkpoints', 'checkpoint_files'},
    'data': {'ground', 'data'},
    'train': {'ground', 'nets', 'data', 'train'},
    'serve': {'ground', 'nets', 'data', 'serve'},
    # Answers from features folders: reads them, loads nets for queries.
    'search': {'ground', 'data', 'serve', 'search'},
    # The HTTP service over indexed folders.
    'service': {'ground', 'data', 'serve', 'search', 'service'},
    'compat': {'nets', 'compat', 'runtime'},
}


def _module_name(path):
  parts = path.relative_to(PACKAGE).with_suffix('').parts
  return '.'.join(p for p in parts if p != '__init__')


def _imports(path):
  """Project modules imported by the file (at any depth of the code)."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module and (
        node.module == 'resnet_v2' or node.module.startswith('resnet_v2.')):
      base = node.module[len('resnet_v2.'):] if '.' in node.module else ''
      for alias in node.names:
        name = (base + '.' if base else '') + alias.name
        is_module = (PACKAGE / (name.replace('.', '/') + '.py')).exists() or (
            PACKAGE / name.replace('.', '/')).is_dir()
        found.add(name if is_module else base)
    elif isinstance(node, ast.Import):
      found.update(a.name[len('resnet_v2.'):] for a in node.names
                   if a.name.startswith('resnet_v2.'))
      if any(a.name == 'resnet_v2' for a in node.names):
        found.add('')
  return found


def _floor(module):
  if module in GROUND:
    return 'ground'
  return module.split('.')[0]


MODULES = {_module_name(p): p for p in PACKAGE.rglob('*.py')}


@pytest.mark.parametrize('module', sorted(
    m for m in MODULES if m))
def test_a_module_imports_only_the_floors_below_it(module):
  allowed = ALLOWED[_floor(module)]
  wrong = sorted(name or 'resnet_v2' for name in _imports(MODULES[module])
                 if name not in allowed and _floor(name) not in allowed)
  assert not wrong, '%s imports %s' % (module, wrong)


def test_the_registry_of_net_facts_imports_nothing_heavy():
  tree = ast.parse(MODULES['nets.registry'].read_text())
  imported = {a.name.split('.')[0] for node in ast.walk(tree)
              if isinstance(node, (ast.Import, ast.ImportFrom))
              for a in (node.names if isinstance(node, ast.Import) else
                        [ast.alias(node.module or '')])}
  assert imported <= {'collections', 're'}, imported


@pytest.mark.parametrize('module', sorted(m for m in MODULES
                                          if _floor(m) == 'cli'))
def test_the_command_line_imports_the_library_only_inside_commands(module):
  # `--help` answers without TensorFlow: at the top, cli imports only cli
  # and the registry of net facts.
  tree = ast.parse(MODULES[module].read_text())
  top = {node.module for node in tree.body
         if isinstance(node, ast.ImportFrom)}
  assert top <= {'resnet_v2', 'resnet_v2.cli', 'resnet_v2.cli.parser',
                 'resnet_v2.nets'}, top
  light = {a.name for node in tree.body if isinstance(node, ast.ImportFrom)
           and node.module == 'resnet_v2' for a in node.names}
  assert light <= {'cpu'}, light


def _reads_the_record(function):
  """Whether a function opens or parses model.json."""
  names = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)} | {
      n.attr for n in ast.walk(function) if isinstance(n, ast.Attribute)}
  strings = {n.value for n in ast.walk(function)
             if isinstance(n, ast.Constant) and isinstance(n.value, str)}
  mentions = 'RECORD_NAME' in names or any('model.json' == s for s in strings)
  return mentions and bool(names & {'load', 'loads', 'open', 'read_text'})


def test_model_json_is_read_in_one_place():
  readers = sorted(
      '%s.%s' % (module, node.name) for module, path in MODULES.items()
      for node in ast.walk(ast.parse(path.read_text()))
      if isinstance(node, ast.FunctionDef) and _reads_the_record(node))
  assert readers == ['record.read'], readers


# The net builder (one function and its module) is exempt: it is the
# architecture, as tf-slim's resnet_v2.py.
NET_BUILDER = 'nets.resnet'
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 350, 80


def _code_lines(function):
  """A function's lines, less its docstring (Args/Returns/Raises are
  wanted, not counted)."""
  lines = function.end_lineno - function.lineno + 1
  body = function.body
  if body and isinstance(body[0], ast.Expr) and isinstance(
      body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
    lines -= body[0].end_lineno - body[0].lineno + 1
  return lines


@pytest.mark.parametrize('module', sorted(m for m in MODULES
                                          if m != NET_BUILDER))
def test_modules_and_functions_stay_small(module):
  text = MODULES[module].read_text()
  assert len(text.splitlines()) <= MAX_MODULE_LINES, module
  long = ['%s (%d lines)' % (node.name, _code_lines(node))
          for node in ast.walk(ast.parse(text))
          if isinstance(node, ast.FunctionDef) and
          _code_lines(node) > MAX_FUNCTION_LINES]
  assert not long, '%s: %s' % (module, long)


def _cycles():
  """The import circles among the package's modules (imports at any depth
  of the code count: a lazy import is still a dependency)."""
  edges = {m: {n for n in _imports(p) if n in MODULES and n != m}
           for m, p in MODULES.items() if m}
  found, state = [], {}

  def visit(module, path):
    state[module] = 'open'
    for name in sorted(edges.get(module, ())):
      if state.get(name) == 'open':
        found.append(path[path.index(name):] + [name])
      elif name not in state:
        visit(name, path + [name])
    state[module] = 'done'

  for module in sorted(edges):
    if module not in state:
      visit(module, [module])
  return found


def test_no_module_imports_itself_round_a_circle():
  assert not _cycles(), _cycles()


def test_the_longest_files_named_for_the_test_order_exist():
  import conftest  # pylint: disable=g-import-not-at-top
  here = pathlib.Path(__file__).resolve().parent
  assert conftest.LONGEST_FILES
  assert [n for n in conftest.LONGEST_FILES if not (here / n).is_file()] == []


# Modules whose tests live in another module's test file (named here);
# every other module has tests/test_<its name>.py.
TESTED_IN = {
    'cli.__main__': 'test_cpu',   # `python -m resnet_v2.cli` in a child
    'cli.commands': 'test_cli',
    'cli.flags': 'test_cli',
    'cli.parser': 'test_cli',
    'cli.progress': 'test_timing',
    'cli.search_flags': 'test_search_commands',
    'cli.train_flags': 'test_trainer',
    'compat.models.resnet_utils': 'test_compat',
    'compat.models.resnet_v1': 'test_compat',
    'compat.models.resnet_v2': 'test_compat',
    'compat.slim.nets.resnet_utils': 'test_tf_slim_compat',
    'compat.slim.nets.resnet_v1': 'test_tf_slim_compat',
    'compat.slim.nets.resnet_v2': 'test_tf_slim_compat',
    'data.cifar10': 'test_cifar',
    'data.collection': 'test_features',
    'data.labels': 'test_features',
    'data.sources': 'test_inputs',
    'data.tfrecords': 'test_inputs',
    'data.webdataset': 'test_shards',
    'nets.factory': 'test_resnet',
    'nets.platform': 'test_layers',
    'search.nearest': 'test_index',
    'search.page': 'test_dedup',
    'search.vectors': 'test_index',
    'service.app': 'test_service',
    'service.batcher': 'test_service',
    'service.collection': 'test_service',
    'service.on_ray': 'test_service',
}


def test_every_module_has_its_test_file():
  here = pathlib.Path(__file__).resolve().parent
  missing = []
  for module, path in sorted(MODULES.items()):
    if path.name == '__init__.py':
      continue
    name = TESTED_IN.get(module, 'test_' + module.split('.')[-1])
    if not (here / (name + '.py')).is_file():
      missing.append('%s (%s.py)' % (module, name))
  assert missing == []
  # And the map names only modules that exist and lack a file of their own.
  assert sorted(m for m in TESTED_IN if m not in MODULES or (
      here / ('test_' + m.split('.')[-1] + '.py')).is_file()) == []
