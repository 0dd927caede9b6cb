"""The packages import downwards only: cli > commands > serve, train >
data, nets > the ground floor, with the registry of net facts readable by
all."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / 'resnet_v2'
GROUND = {'checkpoints', 'files', 'lock', 'model_dir', 'progress', 'quiet',
          'runtime'}
# floor -> floors (and modules) it may import.
ALLOWED = {
    'ground': {'ground', 'nets.registry'},
    'nets': {'ground', 'nets'},
    'data': {'ground', 'data'},
    'train': {'ground', 'nets', 'data', 'train'},
    'serve': {'ground', 'nets', 'data', 'serve'},
    'compat': {'nets', 'compat'},
    'commands': {'ground', 'nets', 'data', 'train', 'serve'},
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
    m for m in MODULES if m and m != 'cli'))
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


def test_the_command_line_imports_the_library_only_inside_commands():
  tree = ast.parse(MODULES['cli'].read_text())
  top = {node.module for node in tree.body
         if isinstance(node, ast.ImportFrom)}
  assert top <= {'resnet_v2', 'resnet_v2.nets'}, top
