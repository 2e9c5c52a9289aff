"""honeypot_channels.py on configs shaped like MHN's server/config.py and CHN's template."""

import ast
import os
import stat
import subprocess
import sys

import pytest

from conftest import KIT

TOOL = str(KIT / 'honeypot_channels.py')

MHN_LIKE = '''import os
DEBUG = False
HONEYPOT_CHANNELS = {
    'cowrie': ['cowrie.sessions'],
    'dionaea': [
        'dionaea.capture',
        'dionaea.connections'
    ],
}
LOG_FILE_PATH = '/var/log/mhn/mhn.log'
'''

CHN_TEMPLATE_LIKE = '''MONGODB_HOST = '{{MONGODB_HOST}}'
MONGODB_PORT = {{MONGODB_PORT}}
HONEYPOT_CHANNELS = {  # sensor type: the channels its sensors publish
    'uhp': ['uhp.events'],
    'cowrie': ['cowrie.sessions']
}
'''

JINJA_TEMPLATE = '''{% if DEBUG %}DEBUG = True{% endif %}
HONEYPOT_CHANNELS = {
    'cowrie': ['cowrie.sessions']
}
'''


def run(path):
    return subprocess.run([sys.executable, TOOL, str(path)], capture_output=True, text=True,
                          timeout=30)


def table(path):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == 'HONEYPOT_CHANNELS':
            return ast.literal_eval(node.value)


@pytest.mark.parametrize('text', [MHN_LIKE, CHN_TEMPLATE_LIKE], ids=['mhn', 'chn'])
def test_adds_the_entry_once_and_keeps_the_rest(tmp_path, text):
    config = tmp_path / 'config.py'
    config.write_text(text)
    config.chmod(0o640)
    before = table(config)
    first = run(config)
    assert first.returncode == 0, first.stderr
    assert "HONEYPOT_CHANNELS['recce7'] = ['recce7.events'] (added)" in first.stdout
    after = table(config)
    assert after == dict(before, recce7=['recce7.events'])
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    patched = config.read_text()
    second = run(config)
    assert second.returncode == 0 and '(already there)' in second.stdout
    assert config.read_text() == patched
    assert sorted(os.listdir(tmp_path)) == ['config.py']


def test_a_template_python_cannot_parse_is_patched_by_its_text(tmp_path):
    config = tmp_path / 'config.py.template'
    config.write_text(JINJA_TEMPLATE)
    assert run(config).returncode == 0
    assert "HONEYPOT_CHANNELS = {\n    'recce7': ['recce7.events'],\n    'cowrie'" \
        in config.read_text()
    assert '(already there)' in run(config).stdout


def test_refuses_a_file_without_the_table_or_with_another_recce7_entry(tmp_path):
    config = tmp_path / 'config.py'
    config.write_text('DEBUG = False\n')
    result = run(config)
    assert result.returncode == 1
    assert result.stderr == '%s: HONEYPOT_CHANNELS: no "HONEYPOT_CHANNELS = {" line\n' % config
    config.write_text("HONEYPOT_CHANNELS = {\n    'recce7': ['other.events'],\n}\n")
    result = run(config)
    assert result.returncode == 1 and 'fix it by hand' in result.stderr
    assert config.read_text() == "HONEYPOT_CHANNELS = {\n    'recce7': ['other.events'],\n}\n"
    assert run(tmp_path / 'missing.py').returncode == 1
    assert run('--help').returncode == 2


def test_a_symlinked_config_stays_a_symlink(tmp_path):
    real = tmp_path / 'real.py'
    real.write_text(MHN_LIKE)
    link = tmp_path / 'config.py'
    link.symlink_to(real)
    assert run(link).returncode == 0
    assert link.is_symlink() and table(real)['recce7'] == ['recce7.events']
