"""geoloc/recce7.py with the real geoip2 Reader (as MHN's geoloc passes it) over MaxMind's test
city database, on real recce7 events and on hostile payloads."""

import json
import logging

import pytest

try:
    import geoip2.database
except ImportError:
    pytest.fail('geoip2 is missing: scripts/test-all.sh installs it into the virtualenv '
                '(scripts/lib/venv.sh, ensure_mhn_kit_venv)', pytrace=False)

from conftest import CHANNEL, REPO

CITY_DB = REPO / 'geoloc' / 'testdata' / 'GeoLite2-City-Test.mmdb'
LONDON = {'latitude': 51.5142, 'longitude': -0.0931, 'city': 'London',
          'country': 'United Kingdom', 'countrycode': 'GB'}
LINKOPING = {'latitude': 58.4167, 'longitude': 15.6167, 'city': 'Linköping',
             'country': 'Sweden', 'countrycode': 'SE'}


@pytest.fixture(scope='module')
def gi():
    reader = geoip2.database.Reader(str(CITY_DB))
    yield reader
    reader.close()


def events_of(real_events, event_type):
    return [(ident, payload, json.loads(payload)) for ident, _chan, payload in
            real_events['messages'] if json.loads(payload)['type'] == event_type]


def readdressed(event, src_ip, dst_ip):
    return json.dumps(dict(event, src_ip=src_ip, dst_ip=dst_ip)).encode()


def test_real_connections_from_loopback_have_no_map_point(real_events, geoloc_module, gi):
    starts = events_of(real_events, 'session.start')
    assert len(starts) == 4
    for ident, payload, _event in starts:
        assert geoloc_module.recce7_events(ident, payload, gi) is None


def test_each_real_connection_is_one_point_with_both_places(real_events, geoloc_module, gi):
    for ident, _payload, event in events_of(real_events, 'session.start'):
        message = geoloc_module.recce7_events(
            ident, readdressed(event, '81.2.69.142', '89.160.20.112'), gi)
        expected = {'type': CHANNEL, 'sensor': 'recce7-pi-1',
                    'time': event['time'][:10] + ' ' + event['time'][11:19],
                    'source': '81.2.69.142'}
        expected.update(LONDON)
        expected.update((key + '2', value) for key, value in LINKOPING.items())
        assert message == expected
        assert json.loads(json.dumps(message)) == message


def test_a_sensor_behind_nat_still_shows_its_attacks(real_events, geoloc_module, gi):
    ident, _payload, event = events_of(real_events, 'session.start')[0]
    message = geoloc_module.recce7_events(ident, readdressed(event, '81.2.69.142',
                                                             '192.168.1.10'), gi)
    assert {k: message[k] for k in LONDON} == LONDON
    for key in LONDON:
        assert message[key + '2'] is None


def test_other_event_types_add_no_point(real_events, geoloc_module, gi):
    others = [m for m in real_events['messages'] if json.loads(m[2])['type'] != 'session.start']
    # Every event but the session starts, the telnet session's download.attempt included.
    assert len(others) == 15
    for ident, _chan, payload in others:
        moved = readdressed(json.loads(payload), '81.2.69.142', '89.160.20.112')
        assert geoloc_module.recce7_events(ident, moved, gi) is None


def test_a_parsed_payload_or_text_works_too(real_events, geoloc_module, gi):
    ident, _payload, event = events_of(real_events, 'session.start')[0]
    payload = readdressed(event, '2.125.160.216', '89.160.20.112')
    message = geoloc_module.recce7_events(ident, payload, gi)
    assert message['city'] == 'Boxford'
    assert geoloc_module.recce7_events(ident, payload.decode(), gi) == message
    assert geoloc_module.recce7_events(ident, json.loads(payload), gi) == message


HOSTILE = [
    b'not json at all',
    b'\xff\xfe\x00',
    b'[1, 2]',
    b'[' * 100000,
    b'{"schema": 2, "type": "session.start"}',
    b'{"schema": true, "type": "session.start"}',
    b'{"schema": 1, "type": "session.start", "time": 5, "src_ip": "81.2.69.142", "dst_ip": "x"}',
    b'{"schema": 1, "type": "session.start", "time": "later", "src_ip": "81.2.69.142",'
    b' "dst_ip": "89.160.20.112"}',
    b'{"schema": 1, "type": "session.start", "time": "2026-12-07T11:01:29Z",'
    b' "src_ip": "not-an-ip", "dst_ip": "89.160.20.112"}',
    b'{"schema": 1, "type": "session.start", "time": "2026-12-07T11:01:29Z",'
    b' "src_ip": ["81.2.69.142"], "dst_ip": "89.160.20.112"}',
    b'{"data": "' + b'A' * (1 << 20) + b'"}',
    b'{"schema": ' + b'[' * 900 + b']' * 900 + b'}',
]


@pytest.mark.parametrize('payload', HOSTILE)
def test_hostile_payloads_add_no_point_and_log_one_bounded_line(geoloc_module, gi, caplog,
                                                                payload):
    caplog.set_level(logging.WARNING)
    assert geoloc_module.recce7_events('pi-1', payload, gi) is None
    for record in caplog.records:
        text = record.getMessage()
        assert len(text) < 200 and 'AAAA' not in text, text
