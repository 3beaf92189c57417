"""A HEPv3 capture server for the tests: receives HEP packets on UDP and decodes their chunks
(the subset siptrace sends: addresses, ports, time, protocol type, capture ID, correlation ID, payload)."""
import re
import socket
import struct

from sipp_harness import UdpReceiver

CHUNKS = {1: "ip_family", 2: "ip_proto", 3: "src_ip4", 4: "dst_ip4", 7: "src_port", 8: "dst_port",
          9: "ts_sec", 10: "ts_usec", 11: "proto_type", 12: "capture_id", 14: "auth_key",
          15: "payload", 17: "correlation_id"}
INT_CHUNKS = {"ip_family": "!B", "ip_proto": "!B", "src_port": "!H", "dst_port": "!H", "ts_sec": "!I",
              "ts_usec": "!I", "proto_type": "!B", "capture_id": "!I"}


def decode(data):
    """One HEPv3 packet -> dict of its chunks; ValueError if it is not well formed."""
    if len(data) < 6 or data[:4] != b"HEP3":
        raise ValueError("not HEP3: %r" % data[:8])
    (total,) = struct.unpack("!H", data[4:6])
    if total != len(data):
        raise ValueError("HEP length %d, packet %d bytes" % (total, len(data)))
    out, pos = {}, 6
    while pos < total:
        if pos + 6 > total:
            raise ValueError("truncated chunk header at %d" % pos)
        vendor, ctype, clen = struct.unpack("!HHH", data[pos:pos + 6])
        if clen < 6 or pos + clen > total:
            raise ValueError("bad chunk length %d at %d" % (clen, pos))
        body = data[pos + 6:pos + clen]
        name = CHUNKS.get(ctype, "chunk_%d_%d" % (vendor, ctype))
        if name in INT_CHUNKS:
            (out[name],) = struct.unpack(INT_CHUNKS[name], body)
        elif name in ("src_ip4", "dst_ip4"):
            out[name] = socket.inet_ntoa(body)
        else:
            out[name] = body.decode("utf-8", "replace")
        pos += clen
    return out


class HepCollector(UdpReceiver):
    """Listens on ip:port (0 = any free port) in a thread; .packets holds the decoded packets and
    .bad the undecodable ones."""

    def __init__(self, ip="127.0.0.1", port=0):
        self.packets, self.bad = [], []
        super().__init__(ip, port)

    def received(self, data, src):
        try:
            self.packets.append(decode(data))
        except ValueError as e:
            self.bad.append((str(e), data[:64]))

    def for_call(self, callid):
        """Packets of one call: by correlation ID, or by the Call-ID of the SIP payload (siptrace puts
        the correlation ID only on what sip_trace() itself sends, not on what its tm/dialog callbacks
        send later)."""
        return [p for p in self.packets if p.get("correlation_id") == callid
                or re.search(r"^(Call-ID|i)\s*:\s*%s\s*$" % re.escape(callid), p.get("payload", ""),
                             re.M | re.I)]
