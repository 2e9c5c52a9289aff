"""Subscribe with the hpfeeds3 Python client and print every message as one line.

    python subscribe_dump.py HOST PORT IDENT SECRET CHANNEL

Prints `READY` once connected, then for each message:
`MSG <ident> <channel> <length> <sha256 hex> <payload hex, first 4096 bytes>`,
and `ERROR <text>` if the broker refuses. Used by recce7's interop tests, because the
`hpfeeds subscribe` CLI cannot print a payload with unprintable bytes on Python 3.
"""
import hashlib
import sys

import hpfeeds

host, port, ident, secret, channel = sys.argv[1:6]
client = hpfeeds.new(host, int(port), ident, secret)
print("READY", flush=True)


def on_message(ident, chan, payload):
    digest = hashlib.sha256(payload).hexdigest()
    print("MSG", ident, chan, len(payload), digest, payload[:4096].hex(), flush=True)


def on_error(payload):
    print("ERROR", payload, flush=True)
    client.stop()


client.subscribe(channel)
client.run(on_message, on_error)
