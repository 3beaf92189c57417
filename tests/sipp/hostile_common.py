"""Shared helpers of the hostile-input tests (test_5x_*.py) and tests/hostile/soak.py; no tests in here.

Raw SIP over UDP/TCP, the corpus and the recorders live in tests/hostile/sipwire.py. Here: the loopback
addresses those tests use, recorders that take over the addresses of the session's SIPp peers (so that
anything the SBC sends to a gateway or the carrier is seen, whatever it is), and the verdict of one
sent message (what came back, and who else received something).
"""
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid

from sipp_harness import (ALPHA_GWS, CARRIER_IP, PEER_SCENARIOS, PRIVATE, PUBLIC, REPO, RUNDIR)

sys.path.insert(0, os.path.join(REPO, "tests", "hostile"))
import sipwire  # noqa: E402

# "Arbitrary destinations" a hostile message may try to reach: nothing in the suite listens there
# except the recorders of these tests. 127.0.1.99 / 127.0.2.99 are the suite's unlisted sources.
TARGET = "127.0.66.66"
TARGETS = (TARGET, "127.0.1.99", "127.0.2.99")
PUBLIC_PEERS = frozenset(ip for ip in PEER_SCENARIOS if not ip.startswith("127.0.1."))

ALPHA_DID = "4930100001"
OUTBOUND_NUMBER = "4989123000"

# What each side looks like to a corpus message: who sends it (a listed peer of that side), where to,
# the number it dials, a peer of the other side (for {{PEER}}), and the peers a valid call may reach.
SIDES = {
    "private": dict(src=CARRIER_IP, sbc=PRIVATE, did=ALPHA_DID, peer="%s:5060" % ALPHA_GWS[0],
                    reach=PUBLIC_PEERS),
    "public": dict(src=ALPHA_GWS[0], sbc=PUBLIC, did=OUTBOUND_NUMBER, peer="%s:5060" % CARRIER_IP,
                   reach=frozenset([CARRIER_IP])),
}

# Kamailio's own words when one of its processes dies (main.c handle_sigs) or memory runs out.
CRASH_RE = re.compile(r"exited by a signal|core was (not )?generated|ALERT: <core>|out of (shm|pkg) memory"
                      r"|could not allocate", re.I)


def shot(entry, proto, side, src=None, sbc=None, label=None, media_port=40000):
    """A sipwire.Shot of corpus entry for proto/side (src/sbc override the side's defaults)."""
    s = SIDES[side]
    src = src or s["src"]
    dst = sbc or s["sbc"]

    def data(port):
        return entry.render(sipwire.context(src, dst, proto, s["did"], "%s:5060" % TARGET, s["peer"],
                                            port, media_port))
    sh = sipwire.Shot(data, proto, src, dst, label=label or "%s/%s/%s" % (entry.name, proto, side))
    sh.entry = entry
    sh.side = side
    return sh


def raw_shot(side, text_fn, proto="udp", src=None):
    """A sipwire.Shot of a hand-written message: text_fn(source port) -> str, from the side's listed
    peer (or src) to the side's socket."""
    s = SIDES[side]
    sh = sipwire.Shot(lambda port: text_fn(port).encode(), proto, src or s["src"], s["sbc"])
    sh.side = side
    return sh


class RecorderPeers:
    """Stops the session's SIPp peers and puts sipwire.Recorders on their addresses and on TARGETS, so
    that everything the SBC sends anywhere is recorded. restore() starts the SIPp peers again."""

    def __init__(self, sbc, invite_code=486, targets=TARGETS):
        self.sbc = sbc
        self.stopped = {}
        for ip in list(PEER_SCENARIOS):
            p = sbc.peers.procs.pop(ip, None)
            if p is not None:
                p.stop()
                self.stopped[ip] = p.scenario
        self.recs = {}
        for ip in list(PEER_SCENARIOS) + list(targets):
            self.recs[ip] = sipwire.Recorder(ip, invite_code=invite_code)

    def __getitem__(self, ip):
        return self.recs[ip]

    def invite_code(self, code):
        for r in self.recs.values():
            r.invite_code = code

    def messages(self, callid=None, ips=None, options=False):
        """[(ip, message)] received since the start, OPTIONS probes left out unless options=True."""
        out = []
        for ip, r in self.recs.items():
            if ips is not None and ip not in ips:
                continue
            for m in r.snapshot():
                if m["method"] == "OPTIONS" and not options:
                    continue
                if callid is None or m["callid"] == callid:
                    out.append((ip, m))
        return out

    def restore(self):
        for r in self.recs.values():
            r.close()
        self.recs = {}
        for ip, scen in self.stopped.items():
            self.sbc.peers.start_one(ip, scen)
        self.stopped = {}
        time.sleep(0.5)
        self.sbc.peers.check_alive()


def verdict(sh, peers, reach=None):
    """What happened to one sent message: 'relayed' (it reached a peer of the side it was meant for,
    which answered 486, and nothing else), or its outcome (sipwire.Shot.outcome: 'dropped', a code...)
    when no recorder saw its Call-ID, or a description of where it leaked to."""
    reach = SIDES[sh.side]["reach"] if reach is None else reach
    hits = peers.messages(callid=sh.callid) if sh.callid else []
    if not hits:
        return sh.outcome()
    where = sorted({ip for ip, _ in hits})
    invites = [ip for ip, m in hits if m["method"] is not None]
    if set(where) <= reach and invites and sh.outcome() == "486":
        return sipwire.RELAYED
    return "reached %s (%s), outcome %s" % (",".join(where), "; ".join(m["first"] for _, m in hits[:4]),
                                            sh.outcome())


def crash_lines(sbc, offset):
    return [l for l in sbc.stack.log_since(offset).splitlines() if CRASH_RE.search(l)]


def pid_of(name):
    try:
        with open(os.path.join(RUNDIR, name + ".pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    """The process exists (a zombie too: scripts/stack.sh checks its pids the same way, with kill -0,
    so a daemon counts as stopped only once it has been reaped)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_daemon(name, sig=signal.SIGKILL, timeout=15.0):
    """Stops one daemon of the test stack (scripts/stack.sh pid file <name>.pid) and waits until it is
    gone; scripts/stack.sh start brings back whatever is not running."""
    pid = pid_of(name)
    assert alive(pid), "%s is not running (pid file %s/%s.pid)" % (name, RUNDIR, name)
    os.kill(pid, sig)
    assert wait(lambda: not alive(pid), timeout), "%s (pid %d) did not stop" % (name, pid)
    return pid


def wait(pred, timeout, step=0.1):
    end = time.time() + timeout
    while True:
        if pred():
            return True
        if time.time() > end:
            return False
        time.sleep(step)


class Flood(threading.Thread):
    """INVITEs from src to dst at `rate` per second for `seconds`, counting the replies."""

    def __init__(self, src, dst, seconds, rate):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.sock.bind((src, 0))
        self.sock.setblocking(False)
        self.src, self.dst, self.seconds, self.rate = src, dst, seconds, rate
        self.sent = 0
        self.replies = {}

    def _invite(self, n):
        port = self.sock.getsockname()[1]
        tag = uuid.uuid4().hex[:8]
        return ("INVITE sip:4930100001@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-fl%s%d;rport\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:%d@%s>;tag=%s\r\nTo: <sip:4930100001@%s>\r\n"
                "Call-ID: flood-%s-%d@%s\r\nCSeq: 1 INVITE\r\nContact: <sip:f@%s:%d>\r\nContent-Length: 0\r\n\r\n"
                % (self.dst[0], self.dst[1], self.src, port, tag, n, n, self.src, tag, self.dst[0], tag, n,
                   self.src, self.src, port)).encode()

    def _drain(self):
        while True:
            try:
                data = self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            code = sipwire.status_of(data)
            self.replies[code] = self.replies.get(code, 0) + 1

    def run(self):
        start = time.time()
        while time.time() - start < self.seconds:
            due = int((time.time() - start) * self.rate)
            while self.sent < due:
                self.sock.sendto(self._invite(self.sent), self.dst)
                self.sent += 1
            self._drain()
            time.sleep(0.005)
        end = time.time() + 1.5
        while time.time() < end:
            self._drain()
            time.sleep(0.05)
        self.sock.close()
