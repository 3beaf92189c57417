"""Minimal rtpengine ng-protocol client (bencode over UDP), stdlib only.

Used by the SIPp suite to look at rtpengine directly: which calls it still holds (`list`), and per-call
packet counters (`query`), so the tests can prove that media crossed rtpengine and that no session leaks.
"""
import os
import socket


def bencode(obj):
    if isinstance(obj, bool):
        obj = int(obj)
    if isinstance(obj, int):
        return b"i%de" % obj
    if isinstance(obj, str):
        obj = obj.encode()
    if isinstance(obj, bytes):
        return b"%d:%s" % (len(obj), obj)
    if isinstance(obj, (list, tuple)):
        return b"l" + b"".join(bencode(x) for x in obj) + b"e"
    if isinstance(obj, dict):
        out = b"d"
        for k in sorted(obj, key=lambda k: k.encode() if isinstance(k, str) else k):
            out += bencode(k) + bencode(obj[k])
        return out + b"e"
    raise TypeError("cannot bencode %r" % type(obj))


def bdecode(data):
    def dec(i):
        c = data[i:i + 1]
        if c == b"i":
            end = data.index(b"e", i)
            return int(data[i + 1:end]), end + 1
        if c == b"l":
            i += 1
            out = []
            while data[i:i + 1] != b"e":
                v, i = dec(i)
                out.append(v)
            return out, i + 1
        if c == b"d":
            i += 1
            out = {}
            while data[i:i + 1] != b"e":
                k, i = dec(i)
                v, i = dec(i)
                out[k] = v
            return out, i + 1
        colon = data.index(b":", i)
        n = int(data[i:colon])
        s = data[colon + 1:colon + 1 + n]
        try:
            s = s.decode()
        except UnicodeDecodeError:
            pass
        return s, colon + 1 + n

    value, _ = dec(0)
    return value


class NgClient:
    def __init__(self, host, port, timeout=3.0):
        self.addr = (host, port)
        self.timeout = timeout

    def command(self, command, **args):
        """Sends one ng command and returns the decoded reply dict (raises on timeout)."""
        cookie = os.urandom(6).hex().encode()
        msg = dict(args)
        msg["command"] = command
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.settimeout(self.timeout)
            sock.sendto(cookie + b" " + bencode(msg), self.addr)
            while True:
                data, _ = sock.recvfrom(65535)
                if data.startswith(cookie + b" "):
                    return bdecode(data[len(cookie) + 1:])
        finally:
            sock.close()

    def calls(self):
        """Call-IDs rtpengine currently holds."""
        reply = self.command("list", limit=10000)
        if reply.get("result") != "ok":
            raise RuntimeError("rtpengine list failed: %r" % reply)
        return list(reply.get("calls", []))

    def query(self, call_id):
        return self.command("query", **{"call-id": call_id})


def stream_packet_counts(query_reply):
    """{(tag, local_port): (packets received from the peer, endpoint)} from a `query` reply.

    The per-stream "stats" of rtpengine count what it received from that side's endpoint.
    """
    out = {}
    tags = query_reply.get("tags", {})
    for tag, mono in tags.items():
        for media in mono.get("medias", []):
            for stream in media.get("streams", []):
                stats = stream.get("stats", {})
                ep = stream.get("endpoint", {})
                key = (tag, stream.get("local port"))
                out[key] = (stats.get("packets", 0), "%s:%s" % (ep.get("address"), ep.get("port")))
    return out
