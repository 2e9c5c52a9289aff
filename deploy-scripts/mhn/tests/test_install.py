"""install.py on small trees shaped like mnemosyne's and MHN's geoloc (written here, not copied),
which are then imported: the normalizer is found the way mnemosyne finds normalizers, and
geoloc's PROCESSORS routes recce7.events to the processor."""

import json
import os
import subprocess
import sys

import pytest

from conftest import KIT, REPO

CFG = '''[webapi]
host = 0.0.0.0

[hpfriends]
ident = mnemosyne
channels = cowrie.sessions,dionaea.connections

[normalizer]
ignore_rfc1918 = False
'''

# The mechanism mnemosyne uses: normalizer.py imports every module, then maps each channel to
# an instance of each direct subclass of BaseNormalizer.
NORMALIZER_PY = '''from normalizer.modules import basenormalizer
from normalizer.modules import cowrie_events
from normalizer.modules import dionaea_connections

def by_channel():
    found = {}
    for cls in basenormalizer.BaseNormalizer.__subclasses__():
        for channel in cls.channels:
            found[channel] = cls()
    return found
'''

GEOLOC_PY = '''import json
from processors import *

PROCESSORS = {
    'cowrie.sessions': [cowrie_sessions],
}

def main():
    return PROCESSORS
'''

GEOLOC_JSON = {'HOST': 'localhost', 'PORT': 10000, 'IDENT': 'geoloc', 'SECRET': 's',
               'CHANNELS': ['cowrie.sessions', 'dionaea.connections'],
               'GEOLOC_CHAN': 'geoloc.events'}


def run(*args):
    return subprocess.run([sys.executable, str(KIT / 'install.py'), *map(str, args)],
                          capture_output=True, text=True, timeout=30)


def mnemosyne_tree(root, normalizer_py=NORMALIZER_PY):
    modules = root / 'normalizer' / 'modules'
    modules.mkdir(parents=True)
    (root / 'normalizer' / '__init__.py').write_text('')
    (modules / '__init__.py').write_text('')
    (modules / 'basenormalizer.py').write_text(
        'class BaseNormalizer(object):\n    channels = ()\n')
    for name, channel in (('cowrie_events', 'cowrie.sessions'),
                          ('dionaea_connections', 'dionaea.connections')):
        (modules / (name + '.py')).write_text(
            'from normalizer.modules.basenormalizer import BaseNormalizer\n'
            'class N(BaseNormalizer):\n    channels = (%r,)\n' % channel)
    (root / 'normalizer' / 'normalizer.py').write_text(normalizer_py)
    (root / 'mnemosyne.cfg').write_text(CFG)


def snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file() and '__pycache__' not in p.parts}


def test_mnemosyne_install_then_mnemosyne_finds_the_normalizer(tmp_path):
    mnemosyne_tree(tmp_path)
    first = run('mnemosyne', tmp_path, '--config', tmp_path / 'mnemosyne.cfg')
    assert first.returncode == 0, first.stderr
    assert first.stdout.count('written') == 3
    installed = tmp_path / 'normalizer' / 'modules' / 'recce7_events.py'
    assert installed.read_text() == (KIT / 'mnemosyne' / 'recce7.py').read_text()
    assert oct(installed.stat().st_mode & 0o777) == oct(0o644)
    assert ('from normalizer.modules import dionaea_connections\n'
            'from normalizer.modules import recce7_events\n') \
        in (tmp_path / 'normalizer' / 'normalizer.py').read_text()
    assert 'channels = cowrie.sessions,dionaea.connections,recce7.events\n' \
        in (tmp_path / 'mnemosyne.cfg').read_text()

    check = subprocess.run([sys.executable, '-c', (
        'from normalizer import normalizer\n'
        'found = normalizer.by_channel()\n'
        'print(sorted(found), type(found["recce7.events"]).__name__)\n')],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    assert check.stdout == ("['cowrie.sessions', 'dionaea.connections', 'recce7.events'] "
                            'Recce7Events\n')

    before = snapshot(tmp_path)
    again = run('mnemosyne', tmp_path, '--config', tmp_path / 'mnemosyne.cfg')
    assert again.returncode == 0 and again.stdout.count('unchanged') == 3, again.stdout
    assert snapshot(tmp_path) == before


def test_mnemosyne_python2_style_imports_are_followed(tmp_path):
    mnemosyne_tree(tmp_path, normalizer_py='from modules import basenormalizer\n'
                                           'from modules import cowrie_events\n\nx = 1\n')
    assert run('mnemosyne', tmp_path).returncode == 0
    assert (tmp_path / 'normalizer' / 'normalizer.py').read_text() == (
        'from modules import basenormalizer\nfrom modules import cowrie_events\n'
        'from modules import recce7_events\n\nx = 1\n')
    assert (tmp_path / 'mnemosyne.cfg').read_text() == CFG


def test_geoloc_install_then_geoloc_routes_recce7_events(tmp_path, real_events):
    (tmp_path / 'processors.py').write_text('def cowrie_sessions(identifier, payload, gi):\n'
                                            '    return None\n')
    (tmp_path / 'geoloc.py').write_text(GEOLOC_PY)
    (tmp_path / 'geoloc.json').write_text(json.dumps(GEOLOC_JSON, indent=4))
    first = run('geoloc', tmp_path, '--config', tmp_path / 'geoloc.json')
    assert first.returncode == 0, first.stderr
    config = json.loads((tmp_path / 'geoloc.json').read_text())
    assert config == dict(GEOLOC_JSON, CHANNELS=GEOLOC_JSON['CHANNELS'] + ['recce7.events'])
    assert list(config) == list(GEOLOC_JSON)

    start = next(m for m in real_events['messages'] if b'"session.start"' in m[2])
    moved = json.dumps(dict(json.loads(start[2]), src_ip='81.2.69.142',
                            dst_ip='89.160.20.112'))
    check = subprocess.run([sys.executable, '-c', (
        'import sys, json, geoip2.database\n'
        'import geoloc\n'
        'gi = geoip2.database.Reader(sys.argv[1])\n'
        'processors = geoloc.main()\n'
        'print(sorted(processors))\n'
        'print(json.dumps(processors["recce7.events"][0]("recce7-pi-1", sys.argv[2].encode(), '
        'gi), sort_keys=True))\n'), str(REPO / 'geoloc' / 'testdata' / 'GeoLite2-City-Test.mmdb'),
        moved], cwd=str(tmp_path), capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    lines = check.stdout.splitlines()
    assert lines[0] == "['cowrie.sessions', 'recce7.events']"
    message = json.loads(lines[1])
    assert (message['type'], message['city'], message['city2']) == \
        ('recce7.events', 'London', 'Linköping')

    before = snapshot(tmp_path)
    again = run('geoloc', tmp_path, '--config', tmp_path / 'geoloc.json')
    assert again.returncode == 0 and again.stdout.count('unchanged') == 3, again.stdout
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize('consumer,setup,message', [
    ('mnemosyne', lambda d: mnemosyne_tree(d, normalizer_py='import os\n'),
     'no "from modules import ..." lines'),
    ('mnemosyne', lambda d: (mnemosyne_tree(d), (d / 'mnemosyne.cfg').write_text('[x]\n')),
     'no "channels =" line in [hpfriends]'),
    ('geoloc', lambda d: (d / 'geoloc.py').write_text('def main():\n    pass\n'),
     'no "PROCESSORS = {...}" followed by "def main("'),
    ('geoloc', lambda d: ((d / 'geoloc.py').write_text(GEOLOC_PY),
                          (d / 'geoloc.json').write_text('{"CHANNELS": "x"}')),
     'no "CHANNELS" list'),
    ('geoloc', lambda d: None, 'No such file or directory'),
])
def test_refuses_what_it_cannot_change_and_writes_nothing(tmp_path, consumer, setup, message):
    setup(tmp_path)
    config = tmp_path / ('mnemosyne.cfg' if consumer == 'mnemosyne' else 'geoloc.json')
    before = snapshot(tmp_path)
    result = run(consumer, tmp_path, '--config', config)
    assert result.returncode == 1
    assert message in result.stderr and result.stderr.startswith('install.py: '), result.stderr
    assert snapshot(tmp_path) == before
    assert not any(name.startswith('.recce7-') for name in os.listdir(tmp_path))
