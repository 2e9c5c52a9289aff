"""subscribe.sh and subscribe.js, run by a stand-in MongoDB shell (tests/fake_mongo_shell.js,
under Debian's node): no MongoDB server or shell installs from the package registries here."""

import json
import os
import subprocess

import pytest

from conftest import KIT, require

FAKE_SHELL = KIT / 'tests' / 'fake_mongo_shell.js'
AUTH_KEYS = [
    {'identifier': 'mnemosyne', 'secret': 's1', 'publish': [], 'subscribe': ['cowrie.sessions']},
    {'identifier': 'geoloc', 'secret': 's2', 'publish': ['geoloc.events'],
     'subscribe': ['cowrie.sessions', 'dionaea.connections']},
    {'identifier': 'honeymap', 'secret': 's3', 'publish': [], 'subscribe': ['geoloc.events']},
]


@pytest.fixture
def mongo(tmp_path):
    """A PATH whose `mongosh` is the stand-in, and its state file."""
    node = require('node', 'nodejs')
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    shell = bin_dir / 'mongosh'
    shell.write_text('#!/bin/sh\nexec %s %s "$@"\n' % (node, FAKE_SHELL))
    shell.chmod(0o755)
    state = tmp_path / 'state.json'

    def run(*idents, style='mongosh', keys=AUTH_KEYS, env=None):
        if not state.exists():
            state.write_text(json.dumps({'style': style, 'auth_key': keys}))
        environ = dict(os.environ, PATH='%s:/usr/bin:/bin' % bin_dir,
                       FAKE_MONGO_STATE=str(state), **(env or {}))
        result = subprocess.run([str(KIT / 'subscribe.sh'), *idents], capture_output=True,
                                text=True, env=environ, timeout=30)
        saved = json.loads(state.read_text()) if state.exists() else None
        return result, saved
    return run


def subscriptions(saved):
    return {doc['identifier']: doc['subscribe'] for doc in saved['auth_key']}


@pytest.mark.parametrize('style', ['mongosh', 'legacy'])
def test_adds_the_channel_to_mnemosyne_and_geoloc_once(mongo, style):
    result, saved = mongo(style=style)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        'hpfeeds ident mnemosyne: now subscribes to recce7.events',
        'hpfeeds ident geoloc: now subscribes to recce7.events',
    ]
    assert subscriptions(saved) == {
        'mnemosyne': ['cowrie.sessions', 'recce7.events'],
        'geoloc': ['cowrie.sessions', 'dionaea.connections', 'recce7.events'],
        'honeymap': ['geoloc.events'],
    }
    assert saved['args'][:2] == ['--quiet', 'mongodb://127.0.0.1:27017/hpfeeds']
    assert all(call['change'] == {'$addToSet': {'subscribe': 'recce7.events'}}
               for call in saved['calls'])
    again, saved_again = mongo(style=style)
    assert again.returncode == 0
    assert 'hpfeeds ident geoloc: already subscribes to recce7.events' in again.stdout
    assert subscriptions(saved_again) == subscriptions(saved)


def test_other_idents_channel_and_server(mongo):
    result, saved = mongo('hpfeeds-logger', env={'RECCE7_CHANNEL': 'recce7.test',
                                                 'MONGO_URL': 'mongodb://mongodb:27017/hpfeeds'},
                          keys=AUTH_KEYS + [{'identifier': 'hpfeeds-logger', 'subscribe': []}])
    assert result.returncode == 0, result.stderr
    assert subscriptions(saved)['hpfeeds-logger'] == ['recce7.test']
    assert subscriptions(saved)['mnemosyne'] == ['cowrie.sessions']
    assert saved['args'][1] == 'mongodb://mongodb:27017/hpfeeds'


def test_a_missing_ident_fails_after_updating_the_others(mongo):
    result, saved = mongo(keys=AUTH_KEYS[:1])
    assert result.returncode == 1
    assert 'hpfeeds ident geoloc: no authkey (is it installed?), left out' in result.stdout
    assert subscriptions(saved)['mnemosyne'] == ['cowrie.sessions', 'recce7.events']


@pytest.mark.parametrize('ident', ["x'];db.dropDatabase();//", 'a b', '', '$(reboot)', 'x' * 256])
def test_names_that_could_be_code_are_refused_before_any_shell_runs(mongo, ident):
    result, saved = mongo('mnemosyne', ident)
    assert result.returncode == 2
    assert "letters, digits, '.', '_' and '-' only" in result.stderr
    assert 'calls' not in saved


def test_without_a_mongo_shell_it_says_so(tmp_path):
    result = subprocess.run([str(KIT / 'subscribe.sh')], capture_output=True, text=True,
                            env=dict(os.environ, PATH=str(tmp_path)), timeout=30)
    assert result.returncode == 1
    assert 'no MongoDB shell (mongosh or mongo) on PATH' in result.stderr
