"""MHN's mnemosyne and geoloc still run Python 2.7, which the test command does not have: the
kit's server-side files are checked to use nothing Python 2.7 cannot parse or run the same way
(they were also run by hand with Python 2.7.18)."""

import ast

import pytest

from conftest import KIT

SERVER_FILES = ['mnemosyne/recce7.py', 'geoloc/recce7.py', 'honeypot_channels.py', 'install.py']
NEWER_NODES = tuple(getattr(ast, name) for name in (
    'JoinedStr', 'AnnAssign', 'AsyncFunctionDef', 'AsyncFor', 'AsyncWith', 'Await',
    'NamedExpr', 'Nonlocal', 'YieldFrom', 'MatMult', 'Match') if hasattr(ast, name))


@pytest.mark.parametrize('name', SERVER_FILES)
def test_nothing_newer_than_python27(name):
    source = (KIT / name).read_text()
    tree = ast.parse(source)
    futures = {alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
               and node.module == '__future__' for alias in node.names}
    # unicode_literals would break mnemosyne's `collection is 'url'` on Python 2.
    assert {'absolute_import', 'print_function'} <= futures and 'unicode_literals' not in futures
    for node in ast.walk(tree):
        assert not isinstance(node, NEWER_NODES), '%s:%d: %s' % (
            name, node.lineno, type(node).__name__)
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            args = node.args
            assert not args.kwonlyargs and not getattr(args, 'posonlyargs', [])
            assert all(a.annotation is None for a in args.args)
        if isinstance(node, ast.FunctionDef):
            assert node.returns is None
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            pytest.fail('%s:%d: a bytes literal means text on Python 2' % (name, node.lineno))
