# recce7.events for mnemosyne, the normalizer of MHN and CHN (deploy-scripts/mhn/README.md).
#
# Installed as normalizer/modules/recce7_events.py and imported in normalizer/normalizer.py,
# mnemosyne finds Recce7Events among BaseNormalizer's subclasses and hands it every stored
# message of the channels it names. One recce7 event (docs/events.md) is one message, so the
# records are per event, not per connection; the `recce7` block of each record carries the
# session id that ties a connection's records together.
#
# Runs on Python 3 (CHN) and Python 2.7 (MHN's mnemosyne). Two things follow: no
# `unicode_literals` (mnemosyne's store compares collection names with `is`, which holds only for
# native str literals), and no syntax newer than 2.7.
"""Turns recce7 events into mnemosyne's session and url records, keeping their real time,
protocol, credentials, commands, HTTP requests and the URLs in them."""

from __future__ import absolute_import, division, print_function

import datetime
import json
import math
import numbers
import re
import socket
import struct

try:
    from normalizer.modules.basenormalizer import BaseNormalizer
except ImportError:  # outside mnemosyne (the tests, another consumer): the same interface.
    BaseNormalizer = object

TEXT_TYPES = (type(u''), str)
SCHEMA_VERSION = 1
HONEYPOT = 'recce7'
# hpfeeds3 takes publish frames up to 1 MiB; anything longer did not come from a broker.
MAX_PAYLOAD_BYTES = 1048576
MAX_DATA_FIELDS = 64
MAX_URLS = 16
MAX_URL_CHARS = 2048
# BSON stores signed 64-bit integers; a larger one would fail mnemosyne's insert, not ours.
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
# Longest text of each top-level field (ids are UUIDs; a sensor name is an hpfeeds-sized name).
TEXT_FIELDS = (('id', 64), ('session', 64), ('sensor', 255), ('type', 64),
               ('plugin', 64), ('protocol', 32))
# Data keys become MongoDB field names: no '$', no '.', no NUL.
DATA_KEY = re.compile(r'^[A-Za-z0-9_]{1,64}\Z')
URL = re.compile(r'(?:https?|ftp|tftp)://[^\s\'"<>`|;&(){}\\]+', re.IGNORECASE)
RFC1918 = ((0x0A000000, 8), (0xAC100000, 12), (0xC0A80000, 16))


class Recce7EventError(ValueError):
    """A message on recce7.events that is not a recce7 event this normalizer reads: the text
    names the field and the reason (mnemosyne stores it as the message's last_error)."""


def _short(value):
    """A bounded, escaped rendering of a hostile value for an error message (a list or an
    object by its size only: its repr could be as deep as the JSON parser allows)."""
    if isinstance(value, (list, dict)):
        return 'a %s of %d' % ('list' if isinstance(value, list) else 'object', len(value))
    text = repr(value[:40] if isinstance(value, TEXT_TYPES) else value)
    return text if len(text) <= 40 else text[:37] + '...'


def _decode(payload):
    """The event object of a payload: a parsed dict (mnemosyne's store parses JSON), or JSON
    text or bytes."""
    if isinstance(payload, dict):
        return payload
    if isinstance(payload, (bytes, bytearray)) and str is not bytes:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise Recce7EventError('payload: longer than %d bytes' % MAX_PAYLOAD_BYTES)
        try:
            payload = bytes(payload).decode('utf-8')
        except UnicodeDecodeError:
            raise Recce7EventError('payload: not UTF-8')
    if not isinstance(payload, TEXT_TYPES):
        raise Recce7EventError('payload: expected a JSON object, got %s' % type(payload).__name__)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Recce7EventError('payload: longer than %d bytes' % MAX_PAYLOAD_BYTES)
    try:
        event = json.loads(payload)
    except (ValueError, RuntimeError):  # RuntimeError: nested past the recursion limit
        raise Recce7EventError('payload: not JSON')
    if not isinstance(event, dict):
        raise Recce7EventError('payload: expected a JSON object, got %s' % type(event).__name__)
    return event


def _text(event, key, max_chars):
    value = event.get(key)
    if not isinstance(value, TEXT_TYPES):
        raise Recce7EventError('%s: expected text, got %s' % (key, _short(value)))
    if not 0 < len(value) <= max_chars:
        raise Recce7EventError('%s: must be 1 to %d characters' % (key, max_chars))
    return value


def _integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _port(event, key):
    value = event.get(key)
    if not _integer(value) or not 0 <= value <= 65535:
        raise Recce7EventError('%s: expected a port number, got %s' % (key, _short(value)))
    return int(value)


def _address(event, key):
    value = _text(event, key, 45)
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, value)
            return value
        except (socket.error, ValueError, UnicodeError):
            pass
    raise Recce7EventError('%s: not an IP address: %s' % (key, _short(value)))


def parse_time(value):
    """A naive UTC datetime (as MongoDB stores it) from recce7's RFC 3339 UTC time, with or
    without microseconds."""
    if not isinstance(value, TEXT_TYPES) or len(value) > 40:
        raise Recce7EventError('time: expected RFC 3339 text, got %s' % _short(value))
    text = value[:-1] if value.endswith('Z') else value
    if text.endswith('+00:00'):
        text = text[:-6]
    if text is value:
        raise Recce7EventError('time: not UTC: %s' % _short(value))
    for layout in ('%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S'):
        try:
            return datetime.datetime.strptime(str(text), layout)
        except (ValueError, UnicodeError):
            pass
    raise Recce7EventError('time: not an RFC 3339 time: %s' % _short(value))


def _scalar(key, value):
    """A data value MongoDB stores as is: text, an integer in 64 bits, a finite number, a
    boolean or null."""
    if value is None or isinstance(value, bool):
        return value
    if _integer(value):
        if not INT64_MIN <= value <= INT64_MAX:
            raise Recce7EventError('data.%s: integer out of range' % key)
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise Recce7EventError('data.%s: not a finite number' % key)
        return value
    if isinstance(value, TEXT_TYPES):
        try:
            value.encode('utf-8')
        except UnicodeError:
            raise Recce7EventError('data.%s: text that is not valid Unicode' % key)
        return value
    raise Recce7EventError('data.%s: expected text, a number, true/false or null, got %s'
                           % (key, type(value).__name__))


def _data(event):
    data = event.get('data', {})
    if not isinstance(data, dict):
        raise Recce7EventError('data: expected an object, got %s' % type(data).__name__)
    if len(data) > MAX_DATA_FIELDS:
        raise Recce7EventError('data: more than %d fields' % MAX_DATA_FIELDS)
    checked = {}
    for key, value in data.items():
        if not isinstance(key, TEXT_TYPES) or not DATA_KEY.match(key):
            raise Recce7EventError('data: field name %s is not letters, digits and _' % _short(key))
        checked[str(key)] = _scalar(key, value)
    return checked


def parse_event(payload):
    """Checks one recce7.events payload and returns its fields, typed: `time` a naive UTC
    datetime, `data` a flat dict of scalars. Raises Recce7EventError naming the first bad field.
    Fields this schema version does not define are ignored."""
    event = _decode(payload)
    if 'schema' not in event:
        raise Recce7EventError('schema: missing')
    schema = event['schema']
    if not _integer(schema) or schema != SCHEMA_VERSION:
        raise Recce7EventError('schema: version %s unknown (this normalizer reads %d)'
                               % (_short(schema), SCHEMA_VERSION))
    checked = dict((key, _text(event, key, limit)) for key, limit in TEXT_FIELDS)
    checked['time'] = parse_time(event.get('time'))
    checked['src_ip'] = _address(event, 'src_ip')
    checked['dst_ip'] = _address(event, 'dst_ip')
    checked['src_port'] = _port(event, 'src_port')
    checked['dst_port'] = _port(event, 'dst_port')
    checked['data'] = _data(event)
    return checked


def is_rfc1918(address):
    """Whether an IPv4 address is in 10/8, 172.16/12 or 192.168/16 (mnemosyne's
    ignore_rfc1918)."""
    try:
        number = struct.unpack('!L', socket.inet_pton(socket.AF_INET, address))[0]
    except (socket.error, ValueError, UnicodeError):
        return False
    return any(number >> (32 - bits) == net >> (32 - bits) for net, bits in RFC1918)


def find_urls(*texts):
    """The distinct URLs (http, https, ftp, tftp) in texts, in order, at most MAX_URLS, each
    cut at MAX_URL_CHARS."""
    found = []
    for text in texts:
        if not isinstance(text, TEXT_TYPES):
            continue
        for match in URL.finditer(text):
            url = match.group(0)[:MAX_URL_CHARS]
            if url not in found:
                found.append(url)
                if len(found) == MAX_URLS:
                    return found
    return found


def parse_headers(headers):
    """recce7's header block ("Name: value" lines) as [name, value] pairs, and the Host."""
    pairs, host = [], None
    for line in (headers or '').split('\n'):
        name, sep, value = line.partition(':')
        if not sep or not name.strip():
            continue
        pairs.append([name.strip(), value.strip()])
        if host is None and name.strip().lower() == 'host':
            host = value.strip()
    return pairs, host


def http_request(data):
    """mnemosyne's session_http.request from an http.request event's data: the verb, path,
    HTTP version, host, headers and body as the sensor recorded them, and the status it
    answered (a malformed request has only its status and raw body)."""
    request = {}
    for field, key in (('verb', 'command'), ('path', 'path'), ('version', 'version'),
                       ('body', 'body'), ('status', 'status')):
        if data.get(key) is not None:
            request[field] = data[key]
    if isinstance(data.get('headers'), TEXT_TYPES):
        request['header'], host = parse_headers(data['headers'])
        if host is not None:
            request['host'] = host
    return request


class Recce7Events(BaseNormalizer):
    """mnemosyne's normalizer for recce7.events: every event but session.end becomes one
    `session` record (MHN's fields, the event's own time and protocol, and a `recce7` block with
    the event id, session id, type, plug-in, sensor name and data), plus one `url` record per
    URL found in a command, a request or an input line."""

    channels = ('recce7.events',)

    def normalize(self, data, channel, submission_timestamp, ignore_rfc1918=True):
        """The records of one message; [] for a session.end (it only closes what its start
        already recorded) and for an RFC 1918 source when ignore_rfc1918. Raises
        Recce7EventError for a payload that is not a recce7 event."""
        event = parse_event(data)
        if event['type'] == 'session.end':
            return []
        if ignore_rfc1918 and is_rfc1918(event['src_ip']):
            return []
        values = event['data']
        session = {
            'timestamp': event['time'],
            'source_ip': event['src_ip'],
            'source_port': event['src_port'],
            'destination_ip': event['dst_ip'],
            'destination_port': event['dst_port'],
            'honeypot': HONEYPOT,
            'protocol': event['protocol'],
            'recce7': {
                'id': event['id'],
                'session': event['session'],
                'type': event['type'],
                'plugin': event['plugin'],
                'sensor': event['sensor'],
                'data': values,
            },
        }
        if isinstance(values.get('username'), TEXT_TYPES):
            password = values.get('password')
            session['auth_attempts'] = [{
                'login': values['username'],
                'password': password if isinstance(password, TEXT_TYPES) else None,
            }]
        urls = []
        if event['type'] in ('telnet.command', 'ssh.command') and isinstance(
                values.get('user_input'), TEXT_TYPES):
            session['commands'] = [values['user_input']]
            urls = find_urls(values['user_input'])
        elif event['type'] == 'ssh.client' and isinstance(values.get('version'), TEXT_TYPES):
            session['session_ssh'] = {'version': values['version']}
        elif event['type'] == 'download.attempt' and isinstance(values.get('url'), TEXT_TYPES):
            urls = [values['url'][:MAX_URL_CHARS]]
        elif event['type'] == 'http.request':
            session['session_http'] = {'request': http_request(values)}
            urls = find_urls(values.get('path'), values.get('body'))
        elif event['type'] == 'service.input':
            urls = find_urls(values.get('line'))
        if urls:
            session['urls'] = urls
        return [{'session': session}] + [{'url': {'url': url}} for url in urls]
