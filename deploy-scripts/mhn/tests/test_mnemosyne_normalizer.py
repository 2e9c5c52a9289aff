"""mnemosyne/recce7.py on real recce7 events and on hostile payloads."""

import copy
import datetime
import json
import random
import sys
import types

import pytest

from conftest import (BANNER_LINES, HTTP_AGENT, HTTP_BODY, HTTP_PATH, KIT, RECORDED_COMMANDS,
                      SENSOR_NAME, load_module)


def by_type(real_events):
    out = {}
    for _ident, _channel, payload in real_events['messages']:
        event = json.loads(payload)
        out.setdefault(event['type'], []).append((payload, event))
    return out


def from_client(events, client_port):
    [found] = [e for e in events if e[1]['src_port'] == client_port]
    return found


def event_time(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ')


def normalize(module, payload, ignore_rfc1918=True):
    return module.Recce7Events().normalize(payload, 'recce7.events',
                                           datetime.datetime.utcnow(), ignore_rfc1918)


def check_session(record, event, protocol, client_port, server_port):
    assert record['timestamp'] == event_time(event['time'])
    assert record['source_ip'] == '127.0.0.1'
    assert record['source_port'] == client_port
    assert record['destination_ip'] == '127.0.0.1'
    assert record['destination_port'] == server_port
    assert record['honeypot'] == 'recce7'
    assert record['protocol'] == protocol
    assert record['recce7'] == {
        'id': event['id'], 'session': event['session'], 'type': event['type'],
        'plugin': protocol, 'sensor': SENSOR_NAME, 'data': event['data'],
    }


def test_the_sensor_published_every_event_of_both_sessions(real_events):
    sessions = {}
    for _ident, _channel, payload in real_events['messages']:
        event = json.loads(payload)
        sessions.setdefault((event['protocol'], event['session']), []).append(event['type'])
    assert sorted(sessions.values()) == [
        ['session.start', 'http.request', 'session.end'],
        ['session.start', 'input.raw', 'session.end'],
        ['session.start', 'service.input', 'service.input', 'session.end'],
        # The shell reports the URL named to wget after the line's commands.
        ['session.start', 'telnet.login'] + ['telnet.command'] * 4 + ['download.attempt',
                                                                     'telnet.command', 'session.end'],
    ]
    assert {m[0] for m in real_events['messages']} == {'recce7-pi-1'}


def test_telnet_session_records(real_events, normalizer_module):
    events = by_type(real_events)
    ports = (real_events['telnet_client_port'], real_events['telnet_port'])

    payload, start = from_client(events['session.start'], real_events['telnet_client_port'])
    [record] = normalize(normalizer_module, payload)
    assert list(record) == ['session']
    check_session(record['session'], start, 'telnet', *ports)
    assert record['session']['recce7']['data'] == {'table': 'telnet'}
    assert not {'auth_attempts', 'commands', 'session_http', 'urls'} & set(record['session'])

    [(payload, login)] = events['telnet.login']
    [record] = normalize(normalizer_module, payload)
    check_session(record['session'], login, 'telnet', *ports)
    assert record['session']['auth_attempts'] == [{'login': 'root', 'password': 'xc3511'}]
    assert record['session']['recce7']['session'] == start['session']

    commands, urls = [], []
    for payload, command in events['telnet.command']:
        records = normalize(normalizer_module, payload)
        check_session(records[0]['session'], command, 'telnet', *ports)
        assert records[0]['session']['recce7']['session'] == start['session']
        commands += records[0]['session']['commands']
        urls += [r['url'] for r in records[1:]]
        assert records[0]['session'].get('urls', []) == [r['url']['url'] for r in records[1:]]
    assert commands == RECORDED_COMMANDS + ['exit']
    assert urls == [{'url': 'http://203.0.113.9/x.sh'}]


def test_http_session_records(real_events, normalizer_module):
    events = by_type(real_events)
    ports = (real_events['http_client_port'], real_events['http_port'])
    payload, start = from_client(events['session.start'], real_events['http_client_port'])
    [record] = normalize(normalizer_module, payload)
    check_session(record['session'], start, 'http', *ports)

    [(payload, request)] = events['http.request']
    records = normalize(normalizer_module, payload)
    session = records[0]['session']
    check_session(session, request, 'http', *ports)
    assert session['recce7']['session'] == start['session']
    assert session['auth_attempts'] == [{'login': 'admin', 'password': 'admin'}]
    assert session['session_http'] == {'request': {
        'verb': 'POST',
        'path': HTTP_PATH,
        'version': 'HTTP/1.1',
        'host': '127.0.0.1:%d' % real_events['http_port'],
        'header': [
            ['Host', '127.0.0.1:%d' % real_events['http_port']],
            ['User-Agent', HTTP_AGENT],
            ['Accept', '*/*'],
            ['Content-Length', str(len(HTTP_BODY))],
            ['Content-Type', 'application/x-www-form-urlencoded'],
        ],
        'body': HTTP_BODY,
        'status': 200,
    }}
    assert session['urls'] == ['http://198.51.100.7/a.sh']
    assert records[1:] == [{'url': {'url': 'http://198.51.100.7/a.sh'}}]


def test_banner_session_records(real_events, normalizer_module):
    events = by_type(real_events)
    ports = (real_events['ftp_client_port'], real_events['ftp_port'])
    payload, start = from_client(events['session.start'], ports[0])
    [record] = normalize(normalizer_module, payload)
    check_session(record['session'], start, 'ftp', *ports)
    lines = events['service.input']
    assert [event['data'] for _p, event in lines] == [{'line': line} for line in BANNER_LINES]
    [user] = normalize(normalizer_module, lines[0][0])
    check_session(user['session'], lines[0][1], 'ftp', *ports)
    assert not {'auth_attempts', 'commands', 'urls'} & set(user['session'])
    retr = normalize(normalizer_module, lines[1][0])
    check_session(retr[0]['session'], lines[1][1], 'ftp', *ports)
    assert retr[0]['session']['urls'] == ['ftp://203.0.113.7/bot.arm7']
    assert retr[1:] == [{'url': {'url': 'ftp://203.0.113.7/bot.arm7'}}]


def test_raw_input_records(real_events, normalizer_module):
    events = by_type(real_events)
    ports = (real_events['raw_client_port'], real_events['http_port'])
    [(payload, raw)] = events['input.raw']
    [record] = normalize(normalizer_module, payload)
    check_session(record['session'], raw, 'http', *ports)
    assert record['session']['recce7']['data'] == {
        'reason': 'not HTTP', 'length': 10, 'bytes': '\\x16\\x03\\x01\\x00\\x05hello'}
    assert not {'auth_attempts', 'commands', 'session_http', 'urls'} & set(record['session'])


def test_session_end_adds_no_record(real_events, normalizer_module):
    ends = by_type(real_events)['session.end']
    assert len(ends) == 4
    for payload, _event in ends:
        assert normalize(normalizer_module, payload) == []


def test_a_parsed_payload_gives_the_same_records(real_events, normalizer_module):
    # mnemosyne's store keeps a JSON payload parsed; a client may hand over text or bytes.
    for _ident, _channel, payload in real_events['messages']:
        expected = normalize(normalizer_module, payload)
        assert normalize(normalizer_module, json.loads(payload)) == expected
        assert normalize(normalizer_module, payload.decode()) == expected


def test_ignore_rfc1918_drops_private_sources_only_when_asked(real_events, normalizer_module):
    _payload, event = by_type(real_events)['telnet.login'][0]
    private = dict(event, src_ip='192.168.1.20')
    assert normalize(normalizer_module, json.dumps(private), ignore_rfc1918=True) == []
    [record] = normalize(normalizer_module, json.dumps(private), ignore_rfc1918=False)
    assert record['session']['source_ip'] == '192.168.1.20'
    for address in ('10.1.2.3', '172.31.255.1'):
        assert normalizer_module.is_rfc1918(address)
    for address in ('127.0.0.1', '172.32.0.1', '8.8.8.8', '::1', 'junk'):
        assert not normalizer_module.is_rfc1918(address)


def test_mnemosyne_finds_it_among_base_normalizer_subclasses(monkeypatch):
    # The module imports mnemosyne's BaseNormalizer where it runs; mnemosyne maps channels by
    # walking BaseNormalizer.__subclasses__().
    class BaseNormalizer(object):
        def normalize(self, data, channel_name, submission_timestamp, ignore_rfc1918=True):
            pass

    base = types.ModuleType('normalizer.modules.basenormalizer')
    base.BaseNormalizer = BaseNormalizer
    for name in ('normalizer', 'normalizer.modules'):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, 'normalizer.modules.basenormalizer', base)
    module = load_module('recce7_in_mnemosyne', KIT / 'mnemosyne' / 'recce7.py')
    [found] = BaseNormalizer.__subclasses__()
    assert found is module.Recce7Events
    assert found.channels == ('recce7.events',)


def test_the_collection_names_are_native_strings(real_events, normalizer_module):
    # mnemosyne's store picks the collection with `collection is 'url'`.
    for _ident, _channel, payload in real_events['messages']:
        for record in normalize(normalizer_module, payload):
            for name in record:
                assert name in ('session', 'url') and type(name) is str


GOOD = {
    'schema': 1, 'id': '01a20a83-aa19-7048-b6f8-da76f3b8d472', 'sensor': 'pi-zero-1',
    'session': '01a20a83-a6fa-706e-a066-f2171e9d8850', 'time': '2026-11-23T22:25:30.649422Z',
    'type': 'telnet.login', 'plugin': 'telnet', 'protocol': 'telnet', 'src_ip': '203.0.113.5',
    'src_port': 36078, 'dst_ip': '198.51.100.2', 'dst_port': 23,
    'data': {'input_type': 'login', 'username': 'root', 'password': 'xc3511'},
}


def changed(**fields):
    event = copy.deepcopy(GOOD)
    for key, value in fields.items():
        if value is KeyError:
            del event[key]
        else:
            event[key] = value
    return json.dumps(event)


def with_data(key, value):
    event = copy.deepcopy(GOOD)
    event['data'][key] = value
    return json.dumps(event)


HOSTILE = [
    ('not JSON', 'GET / HTTP/1.1\r\n\r\n', 'payload: not JSON'),
    ('not UTF-8', b'{"schema": 1, "id": "\xff\xfe"}', 'payload: not UTF-8'),
    ('a list', '[1, 2, 3]', 'payload: expected a JSON object'),
    ('a number', 42, 'payload: expected a JSON object, got int'),
    ('nothing', None, 'payload: expected a JSON object, got NoneType'),
    ('empty', '', 'payload: not JSON'),
    ('huge', '{"data": "%s"}' % ('A' * (1 << 20)), 'payload: longer than'),
    ('huge bytes', b'[' + b' ' * (1 << 20) + b']', 'payload: longer than'),
    ('deep', '[' * 100000 + ']' * 100000, 'payload:'),
    ('no schema', changed(schema=KeyError), 'schema: missing'),
    ('schema 2', changed(schema=2), 'schema: version 2 unknown'),
    ('schema text', changed(schema='1'), "schema: version '1' unknown"),
    ('schema true', changed(schema=True), 'schema: version True unknown'),
    ('schema 1.0', changed(schema=1.0), 'schema: version 1.0 unknown'),
    ('type a number', changed(type=5), 'type: expected text, got 5'),
    ('type empty', changed(type=''), 'type: must be 1 to 64 characters'),
    ('id too long', changed(id='x' * 65), 'id: must be 1 to 64 characters'),
    ('sensor missing', changed(sensor=KeyError), 'sensor: expected text, got None'),
    ('sensor huge', changed(sensor='s' * 100000), 'sensor: must be 1 to 255 characters'),
    ('protocol a list', changed(protocol=['telnet']), 'protocol: expected text, got a list of 1'),
    ('type deep', '{"schema": 1, "id": %s}' % ('[' * 900 + ']' * 900), 'id: expected text, got a'),
    ('address junk', changed(src_ip='not-an-ip'), "src_ip: not an IP address: 'not-an-ip'"),
    ('address NUL', changed(dst_ip='127.0.0.1\x00'), 'dst_ip: not an IP address'),
    ('port too big', changed(src_port=70000), 'src_port: expected a port number, got 70000'),
    ('port negative', changed(dst_port=-1), 'dst_port: expected a port number'),
    ('port true', changed(dst_port=True), 'dst_port: expected a port number, got True'),
    ('port text', changed(src_port='22'), "src_port: expected a port number, got '22'"),
    ('time junk', changed(time='yesterday'), "time: not UTC: 'yesterday'"),
    ('time local', changed(time='2026-11-23T22:25:30+01:00'), 'time: not UTC'),
    ('time bad date', changed(time='2026-13-45T22:25:30Z'), 'time: not an RFC 3339 time'),
    ('time a number', changed(time=1700000000), 'time: expected RFC 3339 text'),
    ('data a list', changed(data=['root']), 'data: expected an object, got list'),
    ('data key $', with_data('$where', 1), "data: field name '$where' is not letters"),
    ('data key dot', with_data('a.b', 1), "data: field name 'a.b' is not letters"),
    ('data key NUL', with_data('a\x00', 1), 'data: field name'),
    ('data nested', with_data('user', {'$gt': ''}), 'data.user: expected text, a number'),
    ('data list', with_data('user', ['a']), 'data.user: expected text, a number'),
    ('data int64', with_data('n', 2 ** 63), 'data.n: integer out of range'),
    ('data NaN', with_data('n', float('nan')), 'data.n: not a finite number'),
    ('data infinite', with_data('n', float('inf')), 'data.n: not a finite number'),
    ('data surrogate', changed(data={'u': '\ud800'}), 'data.u: text that is not valid Unicode'),
    ('data too many', changed(data=dict(('k%d' % i, i) for i in range(65))),
     'data: more than 64 fields'),
]


@pytest.mark.parametrize('payload,message', [(p, m) for _n, p, m in HOSTILE],
                         ids=[n for n, _p, _m in HOSTILE])
def test_hostile_payloads_are_refused_with_a_clear_bounded_error(normalizer_module, payload,
                                                                  message):
    with pytest.raises(normalizer_module.Recce7EventError) as refused:
        normalize(normalizer_module, payload)
    assert isinstance(refused.value, ValueError)
    text = str(refused.value)
    assert text.startswith(message), text
    assert len(text) < 120, text


def test_a_large_field_under_the_payload_cap_is_kept_whole(normalizer_module):
    body = 'A' * 900000
    [record, url] = normalize(normalizer_module, changed(
        type='http.request', data={'command': 'POST', 'path': '/x', 'body': body + ' http://x/y'}))
    assert record['session']['session_http']['request']['body'] == body + ' http://x/y'
    assert url == {'url': {'url': 'http://x/y'}}


def test_fields_this_schema_does_not_define_are_ignored(normalizer_module):
    [record] = normalize(normalizer_module, changed(future_field={'$x': [1]}))
    assert 'future_field' not in record['session']


def test_an_unknown_type_is_kept_as_a_plain_record(normalizer_module):
    [record] = normalize(normalizer_module, changed(type='ssh.key', data={'fingerprint': 'ab'}))
    assert record['session']['recce7']['type'] == 'ssh.key'
    assert 'auth_attempts' not in record['session']


def test_ssh_sessions_carry_their_version_commands_and_download_urls(normalizer_module):
    [record] = normalize(normalizer_module, changed(
        type='ssh.client', protocol='ssh',
        data={'version': 'SSH-2.0-OpenSSH_9.2p1', 'hassh': 'ab' * 16}))
    assert record['session']['session_ssh'] == {'version': 'SSH-2.0-OpenSSH_9.2p1'}
    assert record['session']['protocol'] == 'ssh'
    [record] = normalize(normalizer_module, changed(
        type='ssh.command', data={'input_type': 'exec', 'user_input': 'uname -a'}))
    assert record['session']['commands'] == ['uname -a']
    [record, url] = normalize(normalizer_module, changed(
        type='download.attempt', data={'url': 'tftp://203.0.113.9/' + 'b' * 5000,
                                       'command': 'tftp'}))
    assert url == {'url': {'url': ('tftp://203.0.113.9/' + 'b' * 5000)[:2048]}}


def test_urls_are_bounded_in_number_and_length(normalizer_module):
    many = ' '.join('wget http://203.0.113.%d/x' % i for i in range(40))
    long_url = 'http://203.0.113.9/' + 'a' * 5000
    records = normalize(normalizer_module, changed(
        type='telnet.command', data={'user_input': many + ' ' + long_url}))
    assert len(records) == 1 + 16
    records = normalize(normalizer_module, changed(
        type='telnet.command', data={'user_input': long_url + ';' + long_url}))
    assert [r['url']['url'] for r in records[1:]] == [long_url[:2048]]


def test_mutated_real_events_never_raise_anything_else(real_events, normalizer_module):
    # A bounded, seeded fuzz: bytes flipped, cut or doubled, fields swapped for odd values.
    rng = random.Random(15)
    odd = [None, True, -1, 2 ** 70, 1.5, '', 'x' * 300, [], {}, {'$gt': 1}, '\u0000', '::1']
    payloads = [m[2] for m in real_events['messages']]
    for _ in range(3000):
        payload = bytearray(rng.choice(payloads))
        how = rng.randrange(3)
        if how == 0:
            for _ in range(rng.randint(1, 4)):
                payload[rng.randrange(len(payload))] = rng.randrange(256)
            payload = bytes(payload)
        elif how == 1:
            payload = bytes(payload[:rng.randrange(len(payload))]) * rng.randint(1, 2)
        else:
            event = json.loads(bytes(payload))
            target = event if rng.random() < 0.6 else event['data']
            target[rng.choice(list(target) or ['k'])] = rng.choice(odd)
            payload = json.dumps(event)
        try:
            records = normalize(normalizer_module, payload, ignore_rfc1918=rng.random() < 0.5)
        except normalizer_module.Recce7EventError:
            continue
        assert isinstance(records, list)
