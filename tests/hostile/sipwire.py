"""Raw SIP over UDP and TCP for the hostile-input tests (tests/sipp/test_5x_*.py, tests/hostile/soak.py).

  Corpus    the messages of tests/hostile/corpus/*.sip, each with its expected outcome (README.md there).
  send()    sends messages from a chosen source address (one socket or TCP connection per message, so
            every reply is attributable even to a message without a Call-ID), collects every reply,
            ACKs negative final replies to INVITEs like a real UAC, and says what came back.
  Recorder  stands in for a peer (gateway, carrier) or an arbitrary target on <ip>:5060, UDP and TCP,
            and records whatever reaches it; answers OPTIONS 200 (dispatcher probes) and INVITE with a
            final code of its choice (486 by default, so a relayed call ends at once).

Stdlib only. Everything binds to loopback addresses given by the caller.
"""
import os
import re
import select
import selectors
import socket
import threading
import time
import uuid

CORPUS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

SDP = ("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
       "a=rtpmap:101 telephone-event/8000\r\na=sendrecv")   # the line end comes from the template

# Outcomes a corpus entry can expect (besides a reply code, e.g. "400").
DROPPED = "dropped"      # no reply at all, nothing relayed
RELAYED = "relayed"      # reaches a peer of the other side (which answers it) and nothing else

_PH = re.compile(rb"\{\{([A-Za-z_]+)(?:([+-]\d+)|[ ]+([^}]*))?\}\}")
_REPEAT = re.compile(rb"^\{\{REPEAT (\d+)\}\}")


def header(msg, *names):
    """Value of the first header called one of names (case-insensitive, compact forms included) in
    the head of msg (bytes), or None."""
    head = re.split(rb"\r?\n\r?\n", msg.lstrip(b"\r\n"), maxsplit=1)[0]
    want = {n.lower().encode() for n in names}
    for line in re.split(rb"\r?\n", head)[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() in want:
            return value.strip()
    return None


def callid_of(msg):
    v = header(msg, "call-id", "i")
    return v.decode(errors="replace") if v is not None else None


def status_of(msg):
    """Reply code of a response (bytes), or None for a request."""
    m = re.match(rb"SIP/2\.0 (\d{3}) ", msg)
    return int(m.group(1)) if m else None


def method_of(msg):
    m = re.match(rb"([A-Za-z!%*_+`'~.-]+) \S+ SIP/", msg)
    return m.group(1).decode() if m else None


def split_stream(buf):
    """Complete SIP messages at the start of a TCP byte stream -> (messages, rest). Leading CRLFs
    (keepalives) are skipped; a message without Content-Length has no body."""
    out = []
    while True:
        buf = buf.lstrip(b"\r\n")
        m = re.search(rb"\r?\n\r?\n", buf)     # end of the header block (bare LF line ends too)
        if m is None:
            return out, buf
        cl = header(buf[:m.end()], "content-length", "l")
        try:
            n = int(cl) if cl is not None else 0
        except ValueError:
            n = 0
        total = m.end() + n
        if len(buf) < total:
            return out, buf
        out.append(buf[:total])
        buf = buf[total:]


# ---- corpus ---------------------------------------------------------------------------------------

class Entry:
    """One corpus file: meta lines (`# key: value`) then the message template (README.md)."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)[:-4]
        with open(path, "rb") as f:
            raw = f.read()
        self.meta = {}
        lines = raw.split(b"\n")
        i = 0
        while i < len(lines) and lines[i].startswith(b"#"):
            key, sep, value = lines[i][1:].decode().partition(":")
            if sep:
                k = key.strip().lower()
                self.meta[k] = (self.meta[k] + " " + value.strip()) if k in self.meta else value.strip()
            i += 1
        self.lines = [l.rstrip(b"\r") for l in lines[i:]]
        if "raw" in self.meta:
            # exactly as written: only the file's own final newline is not part of the message
            if self.lines and self.lines[-1] == b"":
                self.lines.pop()
        else:
            while self.lines and self.lines[-1] == b"":
                self.lines.pop()
        self.transports = self.meta.get("transports", "udp tcp").split()
        self.sides = self.meta.get("sides", "private public").split()
        assert "expect" in self.meta, "%s: no '# expect:' line" % path

    def expect(self, proto, side):
        """Acceptable outcomes for this transport and side: a set of codes (str) / DROPPED / RELAYED."""
        for key in ("expect-%s-%s" % (proto, side), "expect-%s" % proto, "expect-%s" % side, "expect"):
            if key in self.meta:
                return {v.strip() for v in self.meta[key].split("|")}
        raise AssertionError("unreachable")

    def render(self, ctx):
        """The message as bytes. ctx: placeholder values (str) for this send."""
        eol = b"\n" if self.meta.get("line-ending") == "lf" else b"\r\n"
        expanded = []
        for line in self.lines:
            m = _REPEAT.match(line)
            if m:
                rest = line[m.end():]
                expanded += [rest.replace(b"{{I}}", str(k).encode()) for k in range(1, int(m.group(1)) + 1)]
            else:
                expanded.append(line)
        if "raw" in self.meta:
            # exactly the lines as written (joined by the line end), nothing added
            return self._subst(eol.join(expanded), ctx, 0)
        blank = expanded.index(b"") if b"" in expanded else len(expanded)
        head, body = expanded[:blank], expanded[blank + 1:]
        body_b = self._subst(eol.join(body) + (eol if body else b""), ctx, None)
        head_b = self._subst(eol.join(head), ctx, len(body_b))
        return head_b + eol + eol + body_b

    @staticmethod
    def _subst(data, ctx, clen):
        def one(m):
            name = m.group(1).decode()
            if name == "CLEN":
                return str(clen + int(m.group(2) or 0)).encode()
            if name == "FILL":
                return b"a" * int(m.group(3))
            if name == "HEX":
                return bytes.fromhex(m.group(3).decode())
            if name == "SDP":
                return SDP.format(ip=ctx["SRC_IP"], port=ctx["MEDIA_PORT"]).encode()
            if name in ctx:
                return str(ctx[name]).encode()
            raise KeyError("unknown placeholder {{%s}}" % name)
        return _PH.sub(one, data)


def load_corpus(directory=CORPUS_DIR):
    return [Entry(os.path.join(directory, f)) for f in sorted(os.listdir(directory)) if f.endswith(".sip")]


# ---- sender ---------------------------------------------------------------------------------------

class Shot:
    """One message sent from src_ip to dst over proto, and what came back."""

    def __init__(self, data_fn, proto, src_ip, dst, label=""):
        self.data_fn = data_fn          # port -> bytes (the source port goes into Via/Contact)
        self.proto = proto
        self.src_ip = src_ip
        self.dst = dst
        self.label = label
        self.data = b""
        self.replies = []               # every message received, in order
        self.error = None               # could not send (e.g. TCP connect refused)
        self.closed = False             # TCP: the SBC closed the connection
        self.sock = None
        self._buf = b""

    # -- results --
    @property
    def callid(self):
        return callid_of(self.data)

    def finals(self):
        """Distinct final replies [(code, To tag)]: a retransmitted final counts once."""
        seen = []
        for r in self.replies:
            m = re.match(rb"HTTP/1\.[01] (\d{3}) ", r)
            if m:      # an HTTP server answering on a SIP socket
                seen.append(("http-" + m.group(1).decode(), ""))
                continue
            code = status_of(r)
            if code is None or code < 200:
                continue
            to = header(r, "to", "t") or b""
            m = re.search(rb";\s*tag=([^;>\s]+)", to)
            key = (code, m.group(1).decode(errors="replace") if m else "")
            if key not in seen:
                seen.append(key)
        return seen

    def codes(self):
        return [c for c, _ in self.finals()]

    def outcome(self):
        """'dropped', the one final code as a string, or a description of several finals."""
        codes = self.codes()
        if not codes:
            return DROPPED
        if len(codes) == 1:
            return str(codes[0])
        return "several finals %r" % codes

    def describe(self):
        text = self.data[:600].decode(errors="replace")
        if len(self.data) > 600:
            text += "... (%d bytes)" % len(self.data)
        reps = "\n".join(r.split(b"\r\n", 1)[0].decode(errors="replace") for r in self.replies) or "(none)"
        return "%s %s from %s to %s:%d: outcome %s%s\n  sent: %r\n  replies: %s" % (
            self.label, self.proto, self.src_ip, self.dst[0], self.dst[1], self.outcome(),
            " error: %s" % self.error if self.error else "", text, reps)

    # -- I/O --
    def open(self):
        kind = socket.SOCK_DGRAM if self.proto == "udp" else socket.SOCK_STREAM
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((self.src_ip, 0))
        self.sock = s
        self.data = self.data_fn(s.getsockname()[1])
        try:
            if self.proto == "udp":
                s.sendto(self.data, self.dst)
            else:
                s.settimeout(3)
                s.connect(self.dst)
                if self.data:
                    s.sendall(self.data)
                s.setblocking(False)
        except OSError as e:
            self.error = str(e)
            self.close()

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def on_readable(self):
        try:
            if self.proto == "udp":
                msgs = [self.sock.recv(65535)]
            else:
                chunk = self.sock.recv(65535)
                if not chunk:
                    self.closed = True
                    self.close()
                    return
                msgs, self._buf = split_stream(self._buf + chunk)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:   # e.g. ICMP port unreachable surfacing on UDP, reset TCP
            self.closed = True
            self.error = self.error or str(e)
            self.close()
            return
        for m in msgs:
            self.replies.append(m)
            self._ack(m)

    def _ack(self, reply):
        """ACK a negative final reply to our INVITE (RFC 3261 17.1.1.3), so that a stateful reply is
        not retransmitted; the ACK reuses the INVITE's top Via (same branch)."""
        code = status_of(reply)
        if code is None or code < 300 or method_of(self.data) != "INVITE" or self.sock is None:
            return
        ruri = self.data.split(b" ", 2)[1]
        via = header(self.data, "via", "v")
        frm = header(self.data, "from", "f")
        cid = header(self.data, "call-id", "i")
        cseq = header(self.data, "cseq")
        to = header(reply, "to", "t")
        if None in (via, frm, cid, cseq, to):
            return
        ack = b"\r\n".join([
            b"ACK " + ruri + b" SIP/2.0", b"Via: " + via, b"Max-Forwards: 70", b"From: " + frm,
            b"To: " + to, b"Call-ID: " + cid, b"CSeq: " + cseq.split()[0] + b" ACK",
            b"Content-Length: 0", b"", b""])
        try:
            if self.proto == "udp":
                self.sock.sendto(ack, self.dst)
            else:
                self.sock.sendall(ack)
        except OSError:
            pass


def send(shots, wait_for=None, quiet=1.5, deadline=15.0, spacing=0.0):
    """Sends every shot (`spacing` seconds apart) and collects replies. Returns once every shot for
    which wait_for(shot) is true has a final reply (or `deadline` seconds after the last one was sent),
    plus `quiet` seconds more for stragglers (a second final, a late reply to a message that should have
    been dropped)."""
    sel = selectors.DefaultSelector()      # epoll: no limit on the number of sockets
    for s in shots:
        s.open()
        if s.sock is not None:
            sel.register(s.sock, selectors.EVENT_READ, s)
        if spacing:
            time.sleep(spacing)
    start = time.time()
    waiting = [s for s in shots if wait_for is None or wait_for(s)]
    settle_at = None
    while True:
        now = time.time()
        if settle_at is None and (all(s.codes() or s.sock is None for s in waiting)
                                  or now - start > deadline):
            settle_at = now + quiet
        if settle_at is not None and now >= settle_at:
            break
        for key, _ in sel.select(0.1):
            sh = key.data
            sh.on_readable()
            if sh.sock is None:            # closed (TCP end of stream, error)
                sel.unregister(key.fileobj)
    sel.close()
    for s in shots:
        s.close()
    return shots


def context(src_ip, sbc, proto, did, target, peer, port, media_port=40000):
    """Placeholder values of one send (tests/hostile/corpus/README.md)."""
    tag = uuid.uuid4().hex[:10]
    return {
        "SBC": "%s:%d" % sbc, "SBC_IP": sbc[0], "SBC_PORT": sbc[1],
        "SRC": "%s:%d" % (src_ip, port), "SRC_IP": src_ip, "SRC_PORT": port,
        "PROTO": proto.upper(), "proto": proto.lower(),
        "CALLID": "hostile-%s-%s@%s" % (proto, tag, src_ip), "BRANCH": "z9hG4bK-h" + tag,
        "TAG": "t" + tag, "DID": did, "TARGET": target, "TARGET_IP": target.split(":")[0], "PEER": peer,
        "MEDIA_PORT": media_port,
    }


# ---- recorder -------------------------------------------------------------------------------------

class Recorder:
    """UDP + TCP listener on ip:port that records every SIP message reaching it. Requests get a reply
    so that the SBC is not kept waiting: OPTIONS 200, INVITE `invite_code` (None: no reply at all),
    CANCEL/BYE/other 200, ACK nothing; responses are only recorded (a stray reply relayed to us)."""

    def __init__(self, ip, port=5060, invite_code=486, answer_options=True):
        self.ip = ip
        self.port = port
        self.invite_code = invite_code
        self.answer_options = answer_options
        self.messages = []      # dicts: proto, src, first, method, code, callid, raw
        self.tags = {}          # Call-ID -> To tag of our replies
        self._lock = threading.Lock()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.udp.bind((ip, port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((ip, port))
        self.tcp.listen(16)
        self._conns = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="recorder-" + ip)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            socks = [self.udp, self.tcp] + list(self._conns)
            try:
                r, _, _ = select.select(socks, [], [], 0.1)
            except (OSError, ValueError):
                continue
            for sk in r:
                try:
                    if sk is self.udp:
                        data, src = self.udp.recvfrom(65535)
                        self._got(data, src, "udp", None)
                    elif sk is self.tcp:
                        conn, src = self.tcp.accept()
                        self._conns[conn] = [src, b""]
                    else:
                        chunk = sk.recv(65535)
                        src, buf = self._conns[sk]
                        if not chunk:
                            del self._conns[sk]
                            sk.close()
                            continue
                        msgs, rest = split_stream(buf + chunk)
                        self._conns[sk][1] = rest
                        for m in msgs:
                            self._got(m, src, "tcp", sk)
                except OSError:
                    if sk in self._conns:
                        del self._conns[sk]
                        sk.close()

    def _got(self, data, src, proto, conn):
        # Like Kamailio itself (and RFC 3261 7.5 for streams), CRLFs before the start line are skipped.
        data = data.lstrip(b"\r\n")
        if not data:
            return
        method = method_of(data)
        rec = {"proto": proto, "src": "%s:%d" % src, "first": data.split(b"\r\n", 1)[0].decode(errors="replace"),
               "method": method, "code": status_of(data), "callid": callid_of(data), "raw": data,
               "at": time.time()}
        with self._lock:
            self.messages.append(rec)
        if method is None or method == "ACK":
            return
        if method == "OPTIONS":
            code = 200 if self.answer_options else None
        elif method == "INVITE":
            code = self.invite_code
        else:
            code = 200
        if code is None:
            return
        reply = self._reply(data, code)
        try:
            if conn is not None:
                conn.sendall(reply)
            else:
                self.udp.sendto(reply, self._reply_addr(data, src))
        except OSError:
            pass

    @staticmethod
    def _reply_addr(req, src):
        """RFC 3261 18.2.2 / RFC 3581: received IP, rport (or the Via port)."""
        via = header(req, "via", "v") or b""
        m = re.search(rb";\s*rport=(\d+)", via)
        if m:
            return src[0], int(m.group(1))
        m = re.match(rb"SIP/2\.0/\w+\s+[^:;\s]+(?::(\d+))?", via)
        return src[0], int(m.group(1)) if m and m.group(1) else 5060

    def _reply(self, req, code):
        """A reply built from the request (RFC 3261 8.2.6); a 2xx to INVITE also gets the Record-Route
        set and a Contact, so that the caller can send ACK and BYE."""
        reasons = {200: b"OK", 486: b"Busy Here", 480: b"Temporarily Unavailable", 503: b"Service Unavailable"}
        lines = [b"SIP/2.0 %d %s" % (code, reasons.get(code, b"Whatever"))]
        head = req.split(b"\r\n\r\n", 1)[0]
        invite_ok = code < 300 and method_of(req) == "INVITE"
        for line in head.split(b"\r\n")[1:]:
            name = line.split(b":", 1)[0].strip().lower()
            if name in (b"via", b"v", b"from", b"f", b"call-id", b"i", b"cseq") or \
                    (invite_ok and name == b"record-route"):
                lines.append(line)
            elif name in (b"to", b"t"):
                if b"tag=" not in line:
                    tag = self.tags.setdefault(callid_of(req), "rec" + uuid.uuid4().hex[:8])
                    line += b";tag=" + tag.encode()
                lines.append(line)
        body = b""
        if invite_ok:
            lines.append(b"Contact: <sip:rec@%s:%d>" % (self.ip.encode(), self.port))
            if b"\r\n\r\nv=0" in req:     # an offer: answer it
                body = SDP.format(ip=self.ip, port=42000).encode() + b"\r\n"
                lines.append(b"Content-Type: application/sdp")
        lines += [b"Content-Length: %d" % len(body), b"", b""]
        return b"\r\n".join(lines) + body

    def send_in_dialog(self, callid, method="BYE", extra_routes=(), wait=5.0):
        """As the callee of the call `callid` (an INVITE it answered 2xx over UDP), sends an in-dialog
        request through the route set the INVITE recorded (plus extra_routes after it, a forged tail)
        and returns the final reply code it got back (None: none within `wait` seconds)."""
        inv = [m for m in self.snapshot() if m["method"] == "INVITE" and m["callid"] == callid][0]["raw"]
        rr = [v.strip() for line in re.findall(rb"(?im)^record-route:\s*(.+)$", inv) for v in line.split(b",")]
        routes = rr + [r.encode() if isinstance(r, str) else r for r in extra_routes]
        target = re.search(rb"<([^>]+)>", header(inv, "contact", "m")).group(1)
        branch = "z9hG4bK-rec" + uuid.uuid4().hex[:10]
        msg = [b"%s %s SIP/2.0" % (method.encode(), target),
               b"Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (self.ip.encode(), self.port, branch.encode()),
               b"Max-Forwards: 70",
               b"From: " + header(inv, "to", "t") + b";tag=" + self.tags[callid].encode(),
               b"To: " + header(inv, "from", "f"),
               b"Call-ID: " + callid.encode(), b"CSeq: 2 " + method.encode()]
        msg += [b"Route: " + r for r in routes]
        msg += [b"Content-Length: 0", b"", b""]
        first = re.match(rb"<sip:([^;>:]+)(?::(\d+))?", routes[0])
        self.udp.sendto(b"\r\n".join(msg), (first.group(1).decode(), int(first.group(2) or 5060)))
        end = time.time() + wait
        while time.time() < end:
            for m in self.snapshot():
                if m["code"] is not None and m["code"] >= 200 and m["callid"] == callid and \
                        branch.encode() in (header(m["raw"], "via", "v") or b""):
                    return m["code"]
            time.sleep(0.05)
        return None

    def snapshot(self):
        with self._lock:
            return list(self.messages)

    def requests(self, method=None, callid=None):
        return [m for m in self.snapshot() if m["method"] is not None and m["method"] != "OPTIONS"
                and (method is None or m["method"] == method) and (callid is None or m["callid"] == callid)]

    def close(self):
        self._stop.set()
        self._thread.join(2)
        for c in list(self._conns):
            c.close()
        self.udp.close()
        self.tcp.close()


# ---- a caller with a dialog -----------------------------------------------------------------------

class Call:
    """A UDP caller from src_ip that sets up one dialog through the SBC and can then send in-dialog
    requests over its route set (optionally with forged extra Route entries)."""

    def __init__(self, src_ip, sbc, did, contact=None, callid=None, media_port=40000):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((src_ip, 0))
        self.sock.settimeout(0.2)
        self.src = "%s:%d" % (src_ip, self.sock.getsockname()[1])
        self.src_ip = src_ip
        self.sbc = sbc
        self.did = did
        self.contact = contact or "sip:caller@%s" % self.src
        self.callid = callid or "hostile-call-%s@%s" % (uuid.uuid4().hex[:12], src_ip)
        self.tag = "c" + uuid.uuid4().hex[:8]
        self.media_port = media_port
        self.cseq = 1
        self.remote_tag = None
        self.route_set = []
        self.target = None
        self.received = []

    def _send(self, method, ruri, routes=(), to_tag=None, body=b"", branch=None, cseq=None):
        branch = branch or "z9hG4bK-call" + uuid.uuid4().hex[:10]
        to = b"To: <sip:%s@%s:%d>" % (self.did.encode(), self.sbc[0].encode(), self.sbc[1])
        if to_tag:
            to += b";tag=" + to_tag.encode()
        lines = [b"%s %s SIP/2.0" % (method.encode(), ruri.encode()),
                 b"Via: SIP/2.0/UDP %s;branch=%s;rport" % (self.src.encode(), branch.encode()),
                 b"Max-Forwards: 70",
                 b"From: <sip:4940000000@%s>;tag=%s" % (self.src_ip.encode(), self.tag.encode()), to,
                 b"Call-ID: " + self.callid.encode(),
                 b"CSeq: %d %s" % (cseq or self.cseq, method.encode()),
                 b"Contact: <%s>" % self.contact.encode()]
        lines += [b"Route: " + (r.encode() if isinstance(r, str) else r) for r in routes]
        if body:
            lines.append(b"Content-Type: application/sdp")
        lines += [b"Content-Length: %d" % len(body), b"", b""]
        data = b"\r\n".join(lines) + body
        if routes:
            m = re.match(rb"<sips?:(?:[^@>]*@)?([^;>:]+)(?::(\d+))?", routes[0] if isinstance(routes[0], bytes)
                         else routes[0].encode())
            dst = (m.group(1).decode(), int(m.group(2) or 5060))
        else:
            dst = self.sbc
        self.sock.sendto(data, dst)
        return branch

    def _final(self, method, wait):
        end = time.time() + wait
        while time.time() < end:
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                continue
            self.received.append(data)
            code = status_of(data)
            cseq = header(data, "cseq") or b""
            if code is not None and code >= 200 and cseq.endswith(method.encode()):
                return code, data
        return None, None

    def invite(self, wait=10.0, linger=0.0):
        """INVITE with an SDP offer; ACKs the final reply (a 2xx over the route set). Returns the final
        code. With linger, keeps listening that many seconds after it: self.finals then lists every
        distinct final reply (code, To tag) the INVITE got, so a second one would show."""
        body = SDP.format(ip=self.src_ip, port=self.media_port).encode() + b"\r\n"
        ruri = "sip:%s@%s:%d" % (self.did, self.sbc[0], self.sbc[1])
        t0 = time.time()
        branch = self._send("INVITE", ruri, body=body)
        code, reply = self._final("INVITE", wait)
        self.setup_time = time.time() - t0
        self.finals = []
        if code is None:
            return None
        m = re.search(rb";\s*tag=([^;>\s]+)", header(reply, "to", "t") or b"")
        self.remote_tag = m.group(1).decode() if m else None
        if code < 300:
            rr = [v.strip() for line in re.findall(rb"(?im)^record-route:\s*(.+)$", reply) for v in line.split(b",")]
            self.route_set = list(reversed(rr))
            self.target = re.search(rb"<([^>]+)>", header(reply, "contact", "m")).group(1).decode()
            self._send("ACK", self.target, self.route_set, self.remote_tag, cseq=1)
        else:
            # RFC 3261 17.1.1.3: the ACK of a negative reply is hop-by-hop, in the INVITE's transaction
            self._send("ACK", ruri, (), self.remote_tag, branch=branch, cseq=1)
        self.finals.append((code, self.remote_tag))
        end = time.time() + linger
        while time.time() < end:
            more, again = self._final("INVITE", end - time.time())
            if more is not None:
                m = re.search(rb";\s*tag=([^;>\s]+)", header(again, "to", "t") or b"")
                key = (more, m.group(1).decode() if m else None)
                if key not in self.finals:
                    self.finals.append(key)
        return code

    def request(self, method="BYE", extra_routes=(), wait=5.0):
        """An in-dialog request over the dialog's route set (+ extra_routes); returns its final code."""
        self.cseq += 1
        self._send(method, self.target, list(self.route_set) + list(extra_routes), self.remote_tag)
        return self._final(method, wait)[0]

    def close(self):
        self.sock.close()
