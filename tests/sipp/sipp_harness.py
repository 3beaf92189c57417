"""Harness of the SIPp suite: the test stack (scripts/stack.sh), SIPp processes, the SIPp peers that
stand in for the carrier and the AI gateways, and access to kamcmd, MariaDB and rtpengine.

Stdlib only (no PyPI here). Every SIPp runs under coreutils `timeout`, with its own control port, its
own log files, and is stopped by the test that started it.
"""
import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

from rtpe_ng import NgClient

SIPP_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(SIPP_DIR, "..", ".."))

# Test stack environment (notes/interfaces.md: "Test stack"). Values can be overridden from the
# environment, e.g. to run the suite against a stack on other ports.
STACK_ENV = {
    "SBC_RUNDIR": os.environ.get("SBC_RUNDIR", "/tmp/sbc-test"),
    "SBC_SIP_PORT": os.environ.get("SBC_SIP_PORT", "5090"),
    "SBC_DB_PORT": os.environ.get("SBC_DB_PORT", "13307"),
    "SBC_REDIS_PORT": os.environ.get("SBC_REDIS_PORT", "16380"),
    "SBC_RTPE_PORT": os.environ.get("SBC_RTPE_PORT", "2224"),
    "SBC_AGENT_PORT": os.environ.get("SBC_AGENT_PORT", "18090"),
    "SBC_RTP_MIN": os.environ.get("SBC_RTP_MIN", "35000"),
    "SBC_RTP_MAX": os.environ.get("SBC_RTP_MAX", "39999"),
    "SBC_DATA_SQL": os.path.join(SIPP_DIR, "fixtures.sql"),
}

RUNDIR = STACK_ENV["SBC_RUNDIR"]
SIP_PORT = int(STACK_ENV["SBC_SIP_PORT"])
RTPE_PORT = int(STACK_ENV["SBC_RTPE_PORT"])
AGENT_PORT = int(STACK_ENV["SBC_AGENT_PORT"])
PRIVATE_IP = "127.0.1.1"   # SBC, carrier side (and rtpengine "internal")
PUBLIC_IP = "127.0.2.1"    # SBC, AI gateway side (and rtpengine "external")
PRIVATE = (PRIVATE_IP, SIP_PORT)
PUBLIC = (PUBLIC_IP, SIP_PORT)

CARRIER_IP = "127.0.1.10"
BROKEN_CARRIER = "127.0.1.12"   # a known carrier (address group 1) that answers 503; not in set 1
ALPHA_GWS = ("127.0.2.10", "127.0.2.11")
BROKEN_GW = "127.0.2.12"
BETA_GW = "127.0.3.10"
FALLBACK_GW = "127.0.3.11"
RINGING_GW = "127.0.3.12"

# SIPp peers that run for the whole session on <ip>:5060 (see fixtures.sql). They must be up all the
# time: the SBC probes every dispatcher destination with OPTIONS and takes silent ones out of rotation.
PEER_PORT = 5060
PEER_SCENARIOS = {
    CARRIER_IP: "uas_answer.xml",
    BROKEN_CARRIER: "uas_503.xml",
    "127.0.2.10": "uas_answer.xml",
    "127.0.2.11": "uas_answer.xml",
    BROKEN_GW: "uas_503.xml",
    BETA_GW: "uas_answer.xml",
    FALLBACK_GW: "uas_answer.xml",
    RINGING_GW: "uas_ring_noanswer.xml",
}

SIPP_TIMEOUT = 30          # seconds, every client SIPp run
PEER_TIMEOUT = 900         # seconds, the session-long peers (the suite takes a few minutes)
RECV_TIMEOUT_MS = 15000    # a client SIPp waiting longer than this for a message fails the call

_LOG_DIR = os.path.join(RUNDIR, "sipp")


def _counter(start, size):
    n = [0]

    def nxt():
        v = start + (n[0] % size)
        n[0] += 1
        return v
    return nxt


_next_cp = _counter(28100, 800)          # SIPp control ports (-cp), one per instance
_next_uac_port = _counter(5070, 400)     # SIP ports of client instances (peers own 5060)
_next_media = _counter(0, 2000)          # media port slots (x4: -rtp_echo also binds +2)
_next_seq = _counter(1, 1000000)         # log file names never repeat within a run


def _bindable(ip, port, tcp=False):
    for kind in ((socket.SOCK_DGRAM, socket.SOCK_STREAM) if tcp else (socket.SOCK_DGRAM,)):
        sk = socket.socket(socket.AF_INET, kind)
        try:
            sk.bind((ip, port))
        except OSError:
            return False
        finally:
            sk.close()
    return True


def _free_port(ip, nxt, offsets=(0,), tcp=False, tries=200):
    """Next port from the counter that is free right now on ip (for every offset): other processes on
    this host (another checkout's suite, a developer's SIPp) may hold ports of our ranges."""
    for _ in range(tries):
        port = nxt()
        if all(_bindable(ip, port + o, tcp) for o in offsets):
            return port
    raise RuntimeError("no free port on %s after %d tries" % (ip, tries))


def suite_lock(wait):
    """Holds <RUNDIR>.lock while the stack is in use: one run of the suite (or of tests/hostile/soak.py)
    at a time."""
    return file_lock(RUNDIR.rstrip("/") + ".lock", wait)


@contextlib.contextmanager
def file_lock(path, wait, who=""):
    """Holds path (flock), waiting up to `wait` seconds; raises TimeoutError with what the holder wrote
    into the file (its pid, `who` and since when)."""
    f = open(path, "a+")
    end = time.time() + wait
    try:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.time() > end:
                    f.seek(0)
                    raise TimeoutError("another run holds %s (%s) for more than %ds"
                                       % (path, f.read().strip(), wait))
                time.sleep(0.5)
        f.seek(0)
        f.truncate()
        f.write("pid %d%s since %s\n" % (os.getpid(), " (%s)" % who if who else "", time.strftime("%H:%M:%S")))
        f.flush()
        yield
        fcntl.flock(f, fcntl.LOCK_UN)
    finally:
        f.close()


def log_dir():
    os.makedirs(_LOG_DIR, exist_ok=True)
    return _LOG_DIR


def reset_log_dir():
    shutil.rmtree(_LOG_DIR, ignore_errors=True)
    os.makedirs(_LOG_DIR, exist_ok=True)


_EVENT_RE = re.compile(r"EVENT=(\S+)")
_KV_RE = re.compile(r"(\w+)=('[^']*'|\S+)")


def parse_event(line):
    """'EVENT=INVITE at=... sdp_c='c=IN IP4 x' ...' -> dict (quotes stripped, plus sdp_ip / ruri_user)."""
    m = _EVENT_RE.search(line)
    if not m:
        return None
    ev = {"line": line.rstrip("\n")}
    for k, v in _KV_RE.findall(line):
        ev[k] = v.strip("'")
    c = re.search(r"c=IN IP4 ([0-9.]+)", line)
    if c:
        ev["sdp_ip"] = c.group(1)
    if "ruri" in ev:
        u = re.match(r"sips?:(?:([^@;>]*)@)?([^:;>]+)", ev["ruri"])
        ev["ruri_user"] = (u.group(1) or "") if u else ""
        ev["ruri_host"] = u.group(2) if u else ""
    return ev


class Sipp:
    """One SIPp process. Client runs: start() then wait(); peers: start() ... stop()."""

    def __init__(self, name, scenario, ip, port=None, remote=None, service=None, calls=None,
                 hold_ms=None, rate=None, limit=None, rtp_echo=False, sets=None, timeout=SIPP_TIMEOUT,
                 client=True, media_port=None, extra=()):
        self.name = name
        self.scenario = scenario
        self.ip = ip
        tcp = "-t" in extra
        self.port = port if port is not None else _free_port(ip, _next_uac_port, tcp=tcp)
        self.media_port = (media_port if media_port is not None else
                           _free_port(ip, lambda: 21000 + 4 * _next_media(), offsets=(0, 1, 2, 3)))
        self.cp = _free_port("0.0.0.0", _next_cp)
        d = log_dir()
        base = os.path.join(d, "%04d-%s-%s-%d" % (_next_seq(), name, ip, self.port))
        self.log_file = base + ".log"
        self.err_file = base + ".err"
        self.msg_file = base + ".msg"
        self.out_file = base + ".out"
        for f in (self.log_file, self.err_file, self.msg_file, self.out_file):
            if os.path.exists(f):
                os.unlink(f)
        cmd = ["timeout", "-k", "5", str(timeout), "sipp",
               "-sf", os.path.join(SIPP_DIR, scenario),
               "-i", ip, "-p", str(self.port), "-mi", ip, "-mp", str(self.media_port),
               "-cp", str(self.cp), "-nostdin",
               "-trace_logs", "-log_file", self.log_file,
               "-trace_err", "-error_file", self.err_file,
               "-trace_msg", "-message_file", self.msg_file]
        if client:
            cmd += ["-aa", "-recv_timeout", str(RECV_TIMEOUT_MS)]
        if calls is not None:
            cmd += ["-m", str(calls)]
        if service is not None:
            cmd += ["-s", service]
        if hold_ms is not None:
            cmd += ["-d", str(hold_ms)]
        if rate is not None:
            cmd += ["-r", str(rate)]
        if limit is not None:
            cmd += ["-l", str(limit)]
        if rtp_echo:
            cmd.append("-rtp_echo")
        for k, v in (sets or {}).items():
            cmd += ["-set", k, str(v)]
        cmd += list(extra)
        if remote is not None:
            cmd.append("%s:%d" % remote)
        self.cmd = cmd
        self.proc = None
        self.rc = None

    # -- process control ------------------------------------------------------------------------
    def start(self):
        out = open(self.out_file, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=log_dir(), start_new_session=True)
        out.close()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout=SIPP_TIMEOUT + 10):
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            self.rc = self.proc.wait()
        return self.rc

    def run(self):
        """start() + wait(): returns self (rc in .rc)."""
        self.start()
        self.wait()
        return self

    def _sipp_pid(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                kids = f.read().split()
            return int(kids[0]) if kids else None
        except (OSError, ValueError):
            return None

    def vanish(self):
        """SIGKILL: the peer disappears mid-call, without a BYE and without answering anything."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.rc = self.proc.wait()
        return self.rc

    def _kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self, timeout=10):
        """Smooth exit (SIGUSR1: no new calls, exit when the current ones end), then TERM/KILL."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            pid = self._sipp_pid()
            if pid:
                try:
                    os.kill(pid, signal.SIGUSR1)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self.rc = self.proc.wait()
        return self.rc

    # -- results --------------------------------------------------------------------------------
    def events(self, kind=None, since=0):
        try:
            with open(self.log_file, errors="replace") as f:
                lines = f.readlines()
        except FileNotFoundError:
            return []
        evs = [e for e in (parse_event(l) for l in lines) if e]
        evs = evs[since:]
        if kind is not None:
            evs = [e for e in evs if e.get("EVENT") == kind]
        return evs

    def mark(self):
        return len(self.events())

    def wait_event(self, kind, timeout=10.0, since=0):
        end = time.time() + timeout
        while time.time() < end:
            evs = self.events(kind, since)
            if evs:
                return evs[0]
            if self.proc is not None and self.proc.poll() is not None:
                evs = self.events(kind, since)
                return evs[0] if evs else None
            time.sleep(0.05)
        return None

    def errors(self):
        try:
            with open(self.err_file, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def messages_tail(self, chars=4000):
        try:
            with open(self.msg_file, errors="replace") as f:
                data = f.read()
        except FileNotFoundError:
            return ""
        return data[-chars:]

    def describe(self):
        return ("--- sipp %s rc=%s\n%s\n--- events:\n%s\n--- errors:\n%s\n--- last messages:\n%s"
                % (self.name, self.rc, " ".join(self.cmd),
                   "\n".join(e["line"] for e in self.events()) or "(none)",
                   self.errors()[-3000:] or "(none)", self.messages_tail()))


class Peers:
    """The session-long SIPp UASes: carrier 127.0.1.10 and the AI gateways (PEER_SCENARIOS)."""

    def __init__(self):
        self.procs = {}
        self.started = []   # every peer process of the session, replaced ones included

    def start_one(self, ip, scenario, **kw):
        args = dict(port=PEER_PORT, rtp_echo=True, client=False, timeout=PEER_TIMEOUT,
                    media_port=20000)
        args.update(kw)
        p = Sipp("peer-" + os.path.basename(scenario).replace(".xml", ""), scenario, ip, **args).start()
        self.procs[ip] = p
        self.started.append(p)
        return p

    def error_sizes(self):
        """{error file: size} of every peer so far: SIPp writes there on unexpected messages,
        failed calls and the like, which a healthy peer never has."""
        out = {}
        for p in self.started:
            try:
                out[p.err_file] = os.path.getsize(p.err_file)
            except OSError:
                pass
        return out

    # Not about SIP: SIPp's own scheduler running late on a busy machine; and a receive timeout the
    # scenario itself jumps from (ontimeout: waiting a bounded time for something that may not come).
    _NOISE = re.compile(r"The following events occurred:|Overload warning: the (minor|major) watchdog timer"
                        r"|receive timeout on message \S+, jumping to label")

    @staticmethod
    def _late_options(event):
        # An OPTIONS retransmitted after the peer answered it ("Dead call"): keepalive noise, also from
        # other SBC instances on this host whose dispatcher probes the same peer addresses.
        return "Dead call" in event and re.search(r"CSeq:\s*\d+\s+OPTIONS", event) is not None

    def new_errors(self, before):
        text = []
        for path, size in self.error_sizes().items():
            if size > before.get(path, 0):
                with open(path, errors="replace") as f:
                    f.seek(before.get(path, 0))
                    data = f.read()
                # Events start with a timestamp line prefix; drop the scheduler noise only.
                events = re.split(r"(?=\d{4}-\d\d-\d\d\t)", data)
                real = [e for e in events if e.strip() and not self._NOISE.search(e)
                        and not self._late_options(e)]
                if real:
                    text.append("--- %s:\n%s" % (os.path.basename(path), "".join(real)[-3000:]))
        return "\n".join(text)

    def start(self):
        for ip, scen in PEER_SCENARIOS.items():
            self.start_one(ip, scen)
        time.sleep(0.5)
        dead = [ip for ip, p in self.procs.items() if not p.alive()]
        if dead:
            raise RuntimeError("SIPp peers did not start: " +
                               "\n".join(self.procs[ip].describe() for ip in dead))

    def stop(self):
        rcs = {}
        for ip, p in self.procs.items():
            rcs[ip] = p.stop()
        return rcs

    def __getitem__(self, ip):
        return self.procs[ip]

    def check_alive(self):
        dead = [ip for ip, p in self.procs.items() if not p.alive()]
        assert not dead, "SIPp peers died: " + "\n".join(self.procs[ip].describe() for ip in dead)

    def mark(self):
        """Position in every peer's log: events() and receivers() then look only at what came later."""
        return {ip: (p, p.mark()) for ip, p in self.procs.items()}

    def events(self, mark, kind=None, callid=None):
        """{ip: [events since mark]} for every peer (filtered by kind/Call-ID). A peer replaced since the
        mark counts from the start of the new process."""
        out = {}
        for ip, p in self.procs.items():
            old, pos = mark.get(ip, (None, 0))
            evs = p.events()[pos if old is p else 0:]
            if kind is not None:
                evs = [e for e in evs if e.get("EVENT") == kind]
            if callid is not None:
                evs = [e for e in evs if e.get("callid") == callid]
            out[ip] = evs
        return out

    def receivers(self, mark, callid=None):
        """IPs of the peers that received an INVITE since mark (optionally for one Call-ID)."""
        return sorted(ip for ip, evs in self.events(mark, "INVITE", callid).items() if evs)

    def replace(self, ip, scenario, **kw):
        """Swaps the peer on ip for another scenario (or none) until restore(ip)."""
        old = self.procs[ip]
        old.stop()
        if scenario is None:
            p = None
            self.procs.pop(ip)
        else:
            p = self.start_one(ip, scenario, **kw)
            time.sleep(0.3)
            assert p.alive(), p.describe()
        self._saved = getattr(self, "_saved", {})
        self._saved.setdefault(ip, old.scenario)
        return p

    def restore(self, ip):
        scen = self._saved.pop(ip)
        cur = self.procs.get(ip)
        if cur is not None:
            cur.stop()
        p = self.start_one(ip, scen)
        time.sleep(0.3)
        assert p.alive(), p.describe()
        return p


class UdpReceiver:
    """A UDP socket bound to (ip, port) whose datagrams a thread hands to self.received(data, src)
    until close(). Subclasses set up their own state before calling __init__ (the thread starts here)."""

    def __init__(self, ip, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.sock.settimeout(0.2)
        self.addr = self.sock.getsockname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received(data, src)

    def received(self, data, src):
        raise NotImplementedError

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class SilentPeer(UdpReceiver):
    """A UDP socket on <ip>:5060 that records every SIP request it gets and never answers: a gateway
    that is reachable but dead (the SBC must time out on it and fail over)."""

    def __init__(self, ip, port=PEER_PORT):
        self.requests = []
        super().__init__(ip, port)

    def received(self, data, src):
        text = data.decode(errors="replace")
        m = re.search(r"^(?:Call-ID|i)\s*:\s*(\S+)", text, re.M | re.I)
        self.requests.append((text.split(" ", 1)[0], m.group(1) if m else None))

    def got(self, method, callid):
        return sum(1 for m, c in self.requests if m == method and c == callid)


_next_sink = _counter(24000, 1000)       # RtpSink ports (scenarios name them with -set sink_port)


class RtpSink(UdpReceiver):
    """The media end of a SIPp peer that sends no RTP itself (uas_answer_sink.xml, uac_media.xml put
    this socket's port in their SDP): records every RTP packet rtpengine sends there, and can send RTP
    from the same address (so rtpengine's latching keeps sending here)."""

    def __init__(self, ip):
        self.ip = ip
        self.port = _free_port(ip, _next_sink, offsets=(0, 1))
        self.packets = []          # (time, payload type, marker, RTP payload, source)
        super().__init__(ip, self.port)

    def received(self, data, src):
        if len(data) >= 12 and data[0] >> 6 == 2:
            self.packets.append((time.time(), data[1] & 0x7f, data[1] >> 7, data[12:], src))

    def payload_types(self):
        """{payload type: packets received}."""
        out = {}
        for _, pt, _, _, _ in self.packets:
            out[pt] = out.get(pt, 0) + 1
        return out

    def events(self, pt=101):
        """RFC 4733 events received with payload type pt: [(event code, end bit, duration)]."""
        return [(p[0], p[1] >> 7, (p[2] << 8) | p[3]) for _, ptype, _, p, _ in self.packets
                if ptype == pt and len(p) >= 4]

    def digits(self, pt=101):
        """Event codes of the completed events (end bit seen), in order, each once (the end packet is
        sent three times)."""
        out = []
        last = None
        for code, end, _ in self.events(pt):
            if end and last != (code, "end"):
                out.append(code)
            last = (code, "end") if end else (code, None)
        return out

    def send(self, dst, pt, payload, count, interval=0.02, ssrc=0x5b5b0001):
        """count RTP packets with payload type pt to dst (ip, port), 8000 Hz timestamps."""
        samples = len(payload) if pt in (0, 8) else 160
        for i in range(count):
            hdr = bytes([0x80, pt]) + (i & 0xffff).to_bytes(2, "big") + \
                ((i * samples) & 0xffffffff).to_bytes(4, "big") + ssrc.to_bytes(4, "big")
            self.sock.sendto(hdr + payload, dst)
            time.sleep(interval)


def sdp_media(sdp_m):
    """'m=audio 35012 RTP/AVP 8 0 101' (an EVENT's sdp_m) -> (port, [payload types])."""
    parts = sdp_m.split()
    return int(parts[1]), [int(p) for p in parts[3:]]


class Stack:
    """scripts/stack.sh with the test environment, plus kamcmd / MariaDB / rtpengine access."""

    def __init__(self):
        self.env = dict(os.environ)
        self.env.update(STACK_ENV)
        self.script = os.path.join(REPO, "scripts", "stack.sh")
        self.ng = NgClient("127.0.0.1", RTPE_PORT)

    def _stack(self, action, timeout=120):
        """Runs scripts/stack.sh <action>; returns (rc, output). The output goes through a file, not a
        pipe: the daemons it starts in the background inherit its stdout and would hold a pipe open."""
        os.makedirs(RUNDIR, exist_ok=True)
        out_path = os.path.join(RUNDIR, "stack-%s.out" % action)
        with open(out_path, "wb") as out:
            p = subprocess.Popen([self.script, action], env=self.env, cwd=REPO, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "timeout after %ds" % timeout
        with open(out_path, errors="replace") as f:
            return rc, f.read()

    def start(self):
        if not os.path.exists(self.script):
            raise RuntimeError("%s does not exist" % self.script)
        rc, out = self._stack("start")
        if rc != 0:
            raise RuntimeError("scripts/stack.sh start failed (rc %s):\n%s\n--- kamailio.log tail:\n%s"
                               % (rc, out, self.log_tail("kamailio.log", 60)))
        return out

    def stop(self):
        if os.path.exists(self.script):
            return self._stack("stop")[1]
        return ""

    @contextlib.contextmanager
    def kamailio_args(self, extra):
        """Kamailio restarted with extra arguments for the with-block (e.g. ' -A NO_RATING'), then
        restarted as it was, also when the block fails."""
        old = self.env.get("SBC_KAMAILIO_ARGS", "")
        self.env["SBC_KAMAILIO_ARGS"] = old + extra
        try:
            rc, out = self._stack("restart-kamailio")
            assert rc == 0, out + self.log_tail()
            yield
        finally:
            self.env["SBC_KAMAILIO_ARGS"] = old
            rc, out = self._stack("restart-kamailio")
            assert rc == 0, out

    def kamailio_pid(self):
        try:
            with open(os.path.join(RUNDIR, "kamailio.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def kamailio_alive(self):
        pid = self.kamailio_pid()
        if not pid:
            return False
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def kamcmd(self, *args, timeout=10):
        r = subprocess.run(["kamcmd", "-s", "unix:%s/kamailio_ctl" % RUNDIR] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("kamcmd %s failed (rc %d): %s" % (" ".join(args), r.returncode, r.stdout))
        return r.stdout

    def sql(self, query):
        r = subprocess.run(["mysql", "--no-defaults", "-S", os.path.join(RUNDIR, "mysql.sock"), "-uroot",
                            "-N", "-B", "kamailio", "-e", query],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=15)
        if r.returncode != 0:
            raise RuntimeError("mysql failed: %s" % r.stderr)
        return [line.split("\t") for line in r.stdout.splitlines()]

    # -- logs -----------------------------------------------------------------------------------
    def log_path(self, name="kamailio.log"):
        return os.path.join(RUNDIR, name)

    def log_offset(self, name="kamailio.log"):
        try:
            return os.path.getsize(self.log_path(name))
        except OSError:
            return 0

    def log_since(self, offset, name="kamailio.log"):
        try:
            with open(self.log_path(name), "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, name="kamailio.log", lines=40):
        try:
            with open(self.log_path(name), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no %s)" % name

    def log_lines_for(self, offset, callid, name="kamailio.log"):
        return "".join(l + "\n" for l in self.log_since(offset, name).splitlines() if callid in l)

    # -- dialogs ------------------------------------------------------------------------------------
    def dialogs(self):
        """{Call-ID: state} from `kamcmd dlg.list` (state 5 = ended, kept until its BYE transaction is
        gone, a few seconds)."""
        out = self.kamcmd("dlg.list")
        res = {}
        for block in re.split(r"\bh_entry:", out)[1:]:
            cid = re.search(r"\bcall-id:\s*(\S+)", block)
            st = re.search(r"\bstate:\s*(\d+)", block)
            if cid:
                res[cid.group(1)] = int(st.group(1)) if st else None
        return res

    def dialog_callids(self):
        return sorted(self.dialogs())

    # -- dispatcher -----------------------------------------------------------------------------
    def dispatcher_flags(self):
        """{(setid, uri): flags} from `kamcmd dispatcher.list`."""
        out = self.kamcmd("dispatcher.list")
        res = {}
        for set_block in re.split(r"\bSET:\s*\{", out)[1:]:
            m = re.search(r"\bID:\s*(\d+)", set_block)
            if not m:
                continue
            setid = int(m.group(1))
            for dest in re.split(r"\bDEST:\s*\{", set_block)[1:]:
                uri = re.search(r"\bURI:\s*(\S+)", dest)
                flags = re.search(r"\bFLAGS:\s*(\S+)", dest)
                if uri and flags:
                    res[(setid, uri.group(1))] = flags.group(1)
        return res

    # -- rtpengine ------------------------------------------------------------------------------
    def rtpe_calls(self):
        return self.ng.calls()

    def rtpe_query(self, callid):
        return self.ng.query(callid)

    def wait_rtpe_gone(self, callid, timeout=3.0):
        end = time.time() + timeout
        while True:
            calls = self.rtpe_calls()
            if callid not in calls or time.time() > end:
                return calls
            time.sleep(0.1)

    def wait_dialog_ended(self, callid, timeout=3.0):
        """Waits until the dialog is gone or ended (state 5); returns its state (None = gone)."""
        end = time.time() + timeout
        while True:
            state = self.dialogs().get(callid)
            if state in (None, 5) or time.time() > end:
                return state
            time.sleep(0.1)


def rtp_streams(query_reply):
    """[(tag, local address, endpoint address, packets received)] of the RTP streams in a query reply."""
    out = []
    for tag, mono in query_reply.get("tags", {}).items():
        for media in mono.get("medias", []):
            for st in media.get("streams", []):
                if "RTP" not in st.get("flags", []):
                    continue
                ep = st.get("endpoint", {})
                out.append((tag, st.get("local address"), ep.get("address"),
                            st.get("stats", {}).get("packets", 0)))
    return out


class Sbc:
    """What a test needs: the stack, the peers, and shortcuts to run a client SIPp against a side."""

    def __init__(self, stack, peers):
        self.stack = stack
        self.peers = peers

    def uac(self, scenario, src_ip, side, name=None, **kw):
        """A client SIPp (not started) from src_ip to the SBC side PRIVATE or PUBLIC."""
        return Sipp(name or scenario.replace(".xml", ""), scenario, src_ip, remote=side, **kw)

    def expect_code(self, src_ip, side, did, code, alt=None, name="expect"):
        """Runs uac_expect_code.xml once and returns the finished Sipp."""
        sets = {"expected_code": code}
        if alt is not None:
            sets["expected_alt"] = alt
        return self.uac("uac_expect_code.xml", src_ip, side, name=name, service=did, calls=1,
                        sets=sets).run()

    def diagnose(self, log_offset, callid=None, *sipps):
        """Text for an assertion message: SIPp traces and the Kamailio log of this test."""
        parts = [s.describe() for s in sipps if s is not None]
        log = self.stack.log_since(log_offset)
        if callid:
            lines = [l for l in log.splitlines() if callid in l]
            parts.append("--- kamailio.log lines of %s:\n%s" % (callid, "\n".join(lines[-40:]) or "(none)"))
        parts.append("--- kamailio.log since test start (tail):\n" + "\n".join(log.splitlines()[-40:]))
        return "\n".join(parts)
