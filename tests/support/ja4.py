#!/usr/bin/env python3
"""An independent JA4 implementation (FoxIO's JA4 specification, TLS over TCP), for the capture
test: it listens once on 127.0.0.1, reads one TLS ClientHello, prints its JA4 and JA4_r, and
closes. Written from the specification, sharing nothing with recce7's Rust code.

usage: ja4.py PORTFILE   (writes the port it listens on to PORTFILE, then waits for a client)
"""
import hashlib
import socket
import struct
import sys

GREASE = {0x0A0A + 0x1010 * i for i in range(16)}


def read_hello(conn):
    data = b""
    while len(data) < 5:
        chunk = conn.recv(65536)
        if not chunk:
            raise SystemExit("closed before a TLS record")
        data += chunk
    if data[0] != 0x16:
        raise SystemExit("not a TLS handshake record")
    length = struct.unpack(">H", data[3:5])[0]
    while len(data) < 5 + length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data[5 : 5 + length]


def parse(hs):
    assert hs[0] == 1, "not a ClientHello"
    body = hs[4:]
    legacy_version = struct.unpack(">H", body[0:2])[0]
    pos = 2 + 32
    sid_len = body[pos]
    pos += 1 + sid_len
    cs_len = struct.unpack(">H", body[pos : pos + 2])[0]
    pos += 2
    ciphers = [struct.unpack(">H", body[pos + i : pos + i + 2])[0] for i in range(0, cs_len, 2)]
    pos += cs_len
    comp_len = body[pos]
    pos += 1 + comp_len
    exts = []
    if pos + 2 <= len(body):
        ext_total = struct.unpack(">H", body[pos : pos + 2])[0]
        pos += 2
        end = pos + ext_total
        while pos + 4 <= end:
            etype, elen = struct.unpack(">HH", body[pos : pos + 4])
            exts.append((etype, body[pos + 4 : pos + 4 + elen]))
            pos += 4 + elen
    return legacy_version, ciphers, exts


def version_code(v):
    return {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
            0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}.get(v, "00")


def ja4(hs):
    legacy, ciphers, exts = parse(hs)
    version = legacy
    sig_algs = []
    alpn = None
    sni = False
    for etype, data in exts:
        if etype == 0x002B:  # supported_versions: the highest that is not GREASE
            n = data[0]
            vs = [struct.unpack(">H", data[1 + i : 3 + i])[0] for i in range(0, n, 2)]
            vs = [v for v in vs if v not in GREASE]
            if vs:
                version = max(vs)
        elif etype == 0x000D:  # signature_algorithms, in their order
            n = struct.unpack(">H", data[0:2])[0]
            sig_algs = [struct.unpack(">H", data[2 + i : 4 + i])[0] for i in range(0, n, 2)]
        elif etype == 0x0010 and len(data) > 3:  # ALPN: the first protocol
            first_len = data[2]
            alpn = data[3 : 3 + first_len]
        elif etype == 0x0000:
            sni = True
    ciphers = [c for c in ciphers if c not in GREASE]
    ext_types = [e for e, _ in exts if e not in GREASE]
    if not alpn:
        a_alpn = "00"
    else:
        first, last = chr(alpn[0]), chr(alpn[-1])
        if first.isascii() and first.isalnum() and last.isascii() and last.isalnum():
            a_alpn = first + last
        else:
            h = alpn.hex()
            a_alpn = h[0] + h[-1]
    a = "t%s%s%02d%02d%s" % (version_code(version), "d" if sni else "i", min(len(ciphers), 99),
                             min(len(ext_types), 99), a_alpn)
    c_list = ",".join("%04x" % c for c in sorted(ciphers))
    e_list = ",".join("%04x" % e for e in sorted(ext_types) if e not in (0x0000, 0x0010))
    s_list = ",".join("%04x" % s for s in sig_algs)
    c_raw = e_list + ("_" + s_list if s_list else "")
    digest = lambda s: hashlib.sha256(s.encode()).hexdigest()[:12] if s else "000000000000"
    return "%s_%s_%s" % (a, digest(c_list), digest(c_raw)), "%s_%s_%s" % (a, c_list, c_raw)


def main():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(60)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    conn, _ = srv.accept()
    conn.settimeout(10)
    hs = read_hello(conn)
    full, raw = ja4(hs)
    print(full)
    print(raw)
    sys.stdout.flush()
    conn.close()


if __name__ == "__main__":
    main()
