# recce7.events for MHN's geoloc (hpfeeds examples/geoloc), which feeds honeymap through
# geoloc.events (deploy-scripts/mhn/README.md). geoloc calls a processor with the publisher's
# ident, the payload and its geoip2 Reader, and publishes the dict it returns as JSON.
#
# Runs on Python 3 and on Python 2.7 (MHN's geoloc): no syntax newer than 2.7.
"""One map point per recce7 connection: the attacker's location and the sensor's."""

from __future__ import absolute_import, division, print_function

import datetime
import json
import logging
import numbers

try:
    from geoip2.errors import AddressNotFoundError
except ImportError:  # geoloc always has geoip2; this keeps the module importable without it.
    AddressNotFoundError = LookupError

CHANNEL = 'recce7.events'
SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 1048576
TEXT_TYPES = (type(u''), str)
LOCATION_FIELDS = ('latitude', 'longitude', 'city', 'country', 'countrycode')

logger = logging.getLogger(__name__)


class Recce7EventError(ValueError):
    """A payload that is not a recce7 event: the text names the field and the reason."""


def _shown(value):
    """A hostile value for a log line: a scalar's repr cut at 40 characters, a list or an object
    by its type only (its repr may be as deep as the JSON parser allows)."""
    if isinstance(value, (list, dict)):
        return 'a ' + type(value).__name__
    return repr(value)[:40]


def _event(payload):
    """The fields geoloc needs of a payload (JSON bytes, text, or an already parsed dict)."""
    if isinstance(payload, (bytes, bytearray)) and str is not bytes:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise Recce7EventError('payload: longer than %d bytes' % MAX_PAYLOAD_BYTES)
        try:
            payload = bytes(payload).decode('utf-8')
        except UnicodeDecodeError:
            raise Recce7EventError('payload: not UTF-8')
    if isinstance(payload, TEXT_TYPES):
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise Recce7EventError('payload: longer than %d bytes' % MAX_PAYLOAD_BYTES)
        try:
            payload = json.loads(payload)
        except (ValueError, RuntimeError):  # RuntimeError: nested past the recursion limit
            raise Recce7EventError('payload: not JSON')
    if not isinstance(payload, dict):
        raise Recce7EventError('payload: expected a JSON object, got %s'
                               % type(payload).__name__)
    schema = payload.get('schema')
    if not isinstance(schema, numbers.Integral) or isinstance(schema, bool) \
            or schema != SCHEMA_VERSION:
        raise Recce7EventError('schema: version %s unknown (this processor reads %d)'
                               % (_shown(schema), SCHEMA_VERSION))
    for key in ('type', 'time', 'src_ip', 'dst_ip'):
        value = payload.get(key)
        if not isinstance(value, TEXT_TYPES) or not 0 < len(value) <= 64:
            raise Recce7EventError('%s: expected text of 1 to 64 characters' % key)
    return payload


def map_time(value):
    """geoloc's `%Y-%m-%d %H:%M:%S` (UTC) from recce7's RFC 3339 UTC time."""
    try:
        when = datetime.datetime.strptime(str(value[:19]), '%Y-%m-%dT%H:%M:%S')
    except (ValueError, UnicodeError):
        raise Recce7EventError('time: not an RFC 3339 time')
    return when.strftime('%Y-%m-%d %H:%M:%S')


def locate(gi, address):
    """The address's place in the city database as geoloc's fields, or None when it has none
    (a private, loopback or unlisted address)."""
    try:
        city = gi.city(address)
    except (AddressNotFoundError, ValueError):
        return None
    return {
        'latitude': city.location.latitude,
        'longitude': city.location.longitude,
        'city': city.city.name,
        'country': city.country.name,
        'countrycode': city.country.iso_code,
    }


def recce7_events(identifier, payload, gi):
    """geoloc's message for a session.start (one point per connection, as for
    dionaea.connections), or None: for other event types, when the attacker's address has no
    location (honeymap draws nothing without one), or for a payload that is not a recce7
    event (logged in one bounded line, never the payload). The sensor's own place may be
    unknown (a sensor behind NAT reports its private address): its fields are then null and
    the attack is still shown, where MHN's processors drop it."""
    try:
        event = _event(payload)
        if event['type'] != 'session.start':
            return None
        when = map_time(event['time'])
    except Recce7EventError as err:
        logger.warning('recce7.events from %r: not a recce7 event: %s', identifier[:64], err)
        return None
    source = locate(gi, event['src_ip'])
    if source is None or source['latitude'] is None or source['longitude'] is None:
        return None
    sensor = locate(gi, event['dst_ip']) or dict.fromkeys(LOCATION_FIELDS)
    message = {'type': CHANNEL, 'sensor': identifier, 'time': when, 'source': event['src_ip']}
    message.update(source)
    message.update((key + '2', value) for key, value in sensor.items())
    return message
