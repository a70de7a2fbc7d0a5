#!/usr/bin/env python3
"""A hostile HTTP/2 client for test/e2e/hostile-h2.test.ts, built on the `h2` frame library
(Debian's python3-h2; hyperframe and hpack come with it).

    h2-hostile.py ATTACK --port P --sni HOST --ca CA [--cert C --key K] [--count N]

One attack on one TLS connection (ALPN h2), then a normal GET / on a fresh connection. Prints
one JSON verdict: frames sent before the server stopped the attack, the GOAWAY's error code (or
null), RST_STREAM codes and response statuses seen, whether the connection ended, how long it
took, and the fresh request's status. Floods stop as soon as a GOAWAY arrives or the
connection ends; `--count` bounds them otherwise (the server then answered them all).
"""

import argparse
import json
import select
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
from hpack import Encoder
from hyperframe.frame import ContinuationFrame, DataFrame, HeadersFrame, RstStreamFrame

BATCH = 50  # frames per write; the socket is read between writes to notice a GOAWAY early


class Peer:
    def __init__(self, args, validate=True):
        self.args = args
        ctx = ssl.create_default_context(cafile=args.ca)
        # The chain is still verified; the book's MUTUAL host serves the webapp certificate.
        ctx.check_hostname = False
        if args.cert:
            ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", args.port), timeout=5)
        self.sock = ctx.wrap_socket(raw, server_hostname=args.sni)
        if self.sock.selected_alpn_protocol() != "h2":
            raise SystemExit(json.dumps({"error": "server did not select h2"}))
        config = h2.config.H2Configuration(
            client_side=True,
            validate_outbound_headers=validate,
            normalize_outbound_headers=validate,
            validate_inbound_headers=False,
        )
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.goaway = None
        self.rst = []
        self.status = []
        self.acks = 0
        self.closed = False
        self.flush()

    def flush(self, extra=b""):
        data = self.conn.data_to_send() + extra
        if not data or self.closed:
            return
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError):
            self.closed = True

    def pump(self, wait=0.0):
        """Reads whatever has arrived (waiting up to `wait` s for the first bytes)."""
        deadline = time.monotonic() + wait
        while not self.closed:
            left = max(0.0, deadline - time.monotonic())
            if self.sock.pending() == 0 and not select.select([self.sock], [], [], left)[0]:
                return
            try:
                data = self.sock.recv(65536)
            except (OSError, ssl.SSLError):
                data = b""
            if not data:
                self.closed = True
                return
            try:
                events = self.conn.receive_data(data)
            except Exception:  # the server broke the protocol as h2 sees it: stop reading
                self.closed = True
                return
            for e in events:
                if isinstance(e, h2.events.ConnectionTerminated):
                    self.goaway = int(e.error_code)
                elif isinstance(e, h2.events.StreamReset):
                    self.rst.append(int(e.error_code))
                elif isinstance(e, (h2.events.PingAckReceived, h2.events.SettingsAcknowledged)):
                    self.acks += 1
                elif isinstance(e, h2.events.ResponseReceived):
                    self.status.append(int(dict(e.headers).get(b":status", b"0")))
            self.flush()
            if self.goaway is not None:
                return
            deadline = 0  # then only what is already here

    def stopped(self):
        return self.closed or self.goaway is not None

    def request_headers(self, path="/", method="GET"):
        return [
            (":method", method),
            (":scheme", "https"),
            (":authority", self.args.sni),
            (":path", path),
        ]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def flood(peer, count, one):
    """Sends `one()`'s frames up to `count` times, in batches, until the server stops it."""
    sent = 0
    while sent < count and not peer.stopped():
        chunk = b""
        for _ in range(min(BATCH, count - sent)):
            chunk += one() or b""
            sent += 1
        peer.flush(chunk)
        peer.pump(0.002)
    return sent


def attack_rapid_reset(peer, count):
    # CVE-2023-44487: open a stream and cancel it at once, again and again.
    def one():
        sid = peer.conn.get_next_available_stream_id()
        peer.conn.send_headers(sid, peer.request_headers(), end_stream=True)
        peer.conn.reset_stream(sid, error_code=8)
        return b""

    return flood(peer, count, one)


def attack_settings(peer, count):
    # CVE-2019-9515: each SETTINGS frame must be acknowledged.
    def one():
        peer.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 65535})
        return b""

    return flood(peer, count, one)


def attack_ping(peer, count):
    # CVE-2019-9512: each PING must be answered.
    n = [0]

    def one():
        n[0] += 1
        peer.conn.ping(n[0].to_bytes(8, "big"))
        return b""

    return flood(peer, count, one)


def attack_window_update(peer, count):
    # WINDOW_UPDATE frames of increment 1 on the connection: work for nothing.
    def one():
        peer.conn.increment_flow_control_window(1)
        return b""

    return flood(peer, count, one)


def attack_empty_data(peer, count):
    # CVE-2019-9518: empty DATA frames without END_STREAM on one open request stream.
    sid = peer.conn.get_next_available_stream_id()
    peer.conn.send_headers(sid, peer.request_headers("/", "POST"), end_stream=False)
    peer.flush()
    frame = DataFrame(sid, data=b"").serialize()
    return flood(peer, count, lambda: frame)


def attack_continuation(peer, count):
    # CVE-2024-27983 and kin: a header block that never ends, one CONTINUATION after another.
    sid = peer.conn.get_next_available_stream_id()
    enc = Encoder()
    first = HeadersFrame(sid, data=enc.encode(peer.request_headers()), flags=["END_STREAM"])
    peer.flush(first.serialize())
    n = [0]

    def one():
        n[0] += 1
        block = enc.encode([(f"x-pad-{n[0]}", "a" * 64)], huffman=False)
        return ContinuationFrame(sid, data=block).serialize()

    return flood(peer, count, one)


def attack_hpack_table(peer, count):
    # A dynamic table size update far above the server's SETTINGS_HEADER_TABLE_SIZE: RFC 7541
    # §4.2 makes it a COMPRESSION_ERROR; the table must not grow to it.
    sid = peer.conn.get_next_available_stream_id()
    enc = Encoder()
    update = bytes([0x3F]) + encode_varint((1 << 30) - 31)
    block = update + enc.encode(peer.request_headers())
    peer.flush(HeadersFrame(sid, data=block, flags=["END_STREAM", "END_HEADERS"]).serialize())
    peer.pump(1.0)
    return 1


def attack_large_headers(peer, count):
    # One header block of `count` KiB across CONTINUATION frames, ending properly.
    sid = peer.conn.get_next_available_stream_id()
    enc = Encoder()
    peer.flush(HeadersFrame(sid, data=enc.encode(peer.request_headers())).serialize())
    sent = 0
    while sent < count and not peer.stopped():
        block = enc.encode([(f"x-big-{sent}", "b" * 1000)], huffman=False)
        flags = ["END_HEADERS"] if sent == count - 1 else []
        peer.flush(ContinuationFrame(sid, data=block, flags=flags).serialize())
        sent += 1
        if sent % BATCH == 0:
            peer.pump()
    return sent


def encode_varint(value):
    out = b""
    while value >= 128:
        out += bytes([(value % 128) + 128])
        value //= 128
    return out + bytes([value])


# Requests the server must refuse with a stream error (RFC 9113 §8.2.1, §8.2.2, §8.3.1).
def bad_request(extra, drop=None, path="/"):
    def build(peer):
        base = [h for h in peer.request_headers(path) if h[0] != drop]
        return base + extra

    return build


BAD_REQUESTS = {
    "uppercase-name": bad_request([("X-Upper", "1")]),
    "connection-header": bad_request([("connection", "keep-alive")]),
    "transfer-encoding": bad_request([("transfer-encoding", "chunked")]),
    "keep-alive": bad_request([("keep-alive", "timeout=5")]),
    "missing-path": bad_request([], drop=":path"),
    "missing-method": bad_request([], drop=":method"),
    "unknown-pseudo": bad_request([(":foo", "bar")]),
    "empty-path": bad_request([], path=""),
    "pseudo-after-regular": lambda peer: [h for h in peer.request_headers() if h[0] != ":path"]
    + [("x-a", "1"), (":path", "/")],
    "duplicate-pseudo": bad_request([(":method", "GET")]),
    "te-not-trailers": bad_request([("te", "gzip")]),
}


def malformed(name):
    def run(peer, count):
        sid = peer.conn.get_next_available_stream_id()
        peer.conn.send_headers(sid, BAD_REQUESTS[name](peer), end_stream=True)
        peer.flush()
        deadline = time.monotonic() + 3
        while not peer.stopped() and not peer.rst and not peer.status and time.monotonic() < deadline:
            peer.pump(0.2)
        return 1

    return run


ATTACKS = {
    "rapid-reset": attack_rapid_reset,
    "settings": attack_settings,
    "ping": attack_ping,
    "window-update": attack_window_update,
    "empty-data": attack_empty_data,
    "continuation": attack_continuation,
    "hpack-table": attack_hpack_table,
    "large-headers": attack_large_headers,
}
ATTACKS.update({name: malformed(name) for name in BAD_REQUESTS})


def normal_request(args):
    """GET / on a fresh connection: the status, or 0 when it failed."""
    try:
        peer = Peer(args)
        sid = peer.conn.get_next_available_stream_id()
        peer.conn.send_headers(sid, peer.request_headers(), end_stream=True)
        peer.flush()
        deadline = time.monotonic() + 5
        while not peer.status and not peer.stopped() and time.monotonic() < deadline:
            peer.pump(0.2)
        peer.close()
        return peer.status[0] if peer.status else 0
    except (OSError, ssl.SSLError):
        return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("attack", choices=sorted(ATTACKS) + ["normal"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sni", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--linger", type=float, default=0.5, help="seconds to wait for a GOAWAY after")
    args = p.parse_args()
    if args.attack == "normal":
        print(json.dumps({"after": normal_request(args)}))
        return
    start = time.monotonic()
    peer = Peer(args, validate=args.attack not in BAD_REQUESTS)
    sent = ATTACKS[args.attack](peer, args.count)
    if args.attack not in BAD_REQUESTS:
        # A rapid reset's streams are slow to serve: the GOAWAY may come well after the last frame.
        linger = args.linger * (4 if args.attack == "rapid-reset" else 1)
        deadline = time.monotonic() + linger
        while not peer.stopped() and time.monotonic() < deadline:
            peer.pump(0.1)
    ms = round((time.monotonic() - start) * 1000)
    peer.close()
    verdict = {
        "attack": args.attack,
        "sent": sent,
        "goaway": peer.goaway,
        "closed": peer.closed,
        "rst": sorted(set(peer.rst)),
        "status": sorted(set(peer.status)),
        "acks": peer.acks,
        "ms": ms,
        "after": normal_request(args),
    }
    print(json.dumps(verdict))


if __name__ == "__main__":
    sys.exit(main())
