"""Publish N copies of a payload with the hpfeeds3 Python client, as fast as it goes.

    python publish_n.py HOST PORT IDENT SECRET CHANNEL N PAYLOAD

Used by recce7's benchmark to compare publishers through one broker.
"""
import sys
import time

import hpfeeds

host, port, ident, secret, channel, n, payload = sys.argv[1:8]
client = hpfeeds.new(host, int(port), ident, secret)
data = payload.encode()
start = time.monotonic()
for _ in range(int(n)):
    client.publish(channel, data)
client.close()
print(f"sent {n} in {time.monotonic() - start:.3f}s", flush=True)
