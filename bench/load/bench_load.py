#!/usr/bin/env python3
"""make bench: the SBC against the prototype's approach and the bare-proxy ceiling, side by side.

Three Kamailio setups on the same loopback stack (MariaDB, Redis, rtpengine and the rating agent double
started once by scripts/stack.sh), one Kamailio at a time, the same sockets, children and shared memory:
  ceiling   bench/load/ceiling.cfg: tm + rr, static destination
  baseline  bench/load/baseline.cfg: blocking sqlops query per INVITE, dispatcher, dialog, rtpengine,
            rating through http_async_client (the original prototype + Canyan's integration)
  sbc       etc/kamailio.cfg as shipped (sbc_tenant, rating_agent, dialog, rtpengine, acc, ...)
SIPp plays the carrier (127.0.8.10) and the AI gateway (127.0.10.10). Each setup in turn, under one hold
of /tmp/sbc-test.lock (the SIPp suite's lock, released between setups):
  1. latency at BENCH_LAT_CPS: call setup time (INVITE sent -> 200 received, from SIPp's message trace,
     microseconds) and CPU time per 1000 calls of Kamailio and of the whole stack (/proc/<pid>/stat);
  2. step-up: fixed-rate SIPp runs of BENCH_STEP_SECS at rising rates; the clean CPS is the highest step
     with fewer than 0.1 % failed calls whose rate SIPp could hold (a step that is not clean is run once
     more before the setup stops climbing);
  3. leak check: BENCH_LEAK_CALLS calls at BENCH_LEAK_LOAD x the clean CPS; shm and pkg memory before and
     after (kamcmd core.shmmem / pkg.stats, read once every transaction and dialog is gone).
Then the SBC alone: latency without each feature of BENCH_FEATURES (-A NO_<feature>), the rating outbox
drain (the agent answers begin/end with 500 while calls leave BENCH_OUTBOX_RECORDS records in the outbox,
then comes back: records delivered per second), the agent's own latency (libcurl), and the step-up with
rating_agent workers from BENCH_WORKERS (issue 5). Last, bench/index (1M DIDs in sbc_tenant) unless
BENCH_INDEX=0.
Prints one report and writes it to bench/results/<date>-<HHMM>.md. Every process it starts is stopped.

Environment (defaults in brackets): BENCH_RUNDIR [/tmp/sbc-bench], BENCH_CHILDREN [4], BENCH_SHM_MB
[512], BENCH_HOLD_MS [250], BENCH_STEP_SECS [8], BENCH_STEPS [list below], BENCH_LAT_CPS [100],
BENCH_LAT_SECS [15], BENCH_FEATURES ["RATING ACC RATING TOPOH RATING"], BENCH_WORKERS ["1 4"], BENCH_LEAK_CALLS
[100000], BENCH_LEAK_LOAD [0.7], BENCH_LEAK_MAX_SECS [90], BENCH_OUTBOX_RECORDS [10000],
BENCH_INDEX [1], BENCH_SETUPS ["ceiling baseline sbc"], BENCH_ROUNDS [2], BENCH_RESULTS [bench/results],
BENCH_LOCK [/tmp/sbc-test.lock].
"""
import fcntl
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime

import perf_profile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_list(name, default):
    return os.environ.get(name, default).split()


RUN = os.environ.get("BENCH_RUNDIR", "/tmp/sbc-bench")
CHILDREN = env_int("BENCH_CHILDREN", 4)
SHM_MB = env_int("BENCH_SHM_MB", 512)
MEM_MANAGER = os.environ.get("SBC_MEM_MANAGER", "tlsf")     # scripts/stack.sh's default, for every setup
HOLD_MS = env_int("BENCH_HOLD_MS", 250)
STEP_SECS = env_int("BENCH_STEP_SECS", 8)
STEPS = [int(x) for x in env_list("BENCH_STEPS",
                                  "100 200 300 400 500 600 700 800 1000 1200 1400 1700 2000 2400 2800")]
LAT_CPS = env_int("BENCH_LAT_CPS", 100)
LAT_SECS = env_int("BENCH_LAT_SECS", 15)
FEATURES = env_list("BENCH_FEATURES", "RATING ACC RATING TOPOH RATING")
WORKERS = [int(x) for x in env_list("BENCH_WORKERS", "1 4")]
LEAK_CALLS = env_int("BENCH_LEAK_CALLS", 100000)
LEAK_LOAD = float(os.environ.get("BENCH_LEAK_LOAD", "0.7"))
LEAK_MAX_SECS = env_int("BENCH_LEAK_MAX_SECS", 90)
OUTBOX_RECORDS = env_int("BENCH_OUTBOX_RECORDS", 10000)
RUN_INDEX = os.environ.get("BENCH_INDEX", "1") != "0"
PROFILE = os.environ.get("BENCH_PROFILE", "1") != "0"
ROUNDS = env_int("BENCH_ROUNDS", 2)
SETUPS = env_list("BENCH_SETUPS", "ceiling baseline sbc")
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(TOP, "bench", "results"))

# Addresses and ports of the bench stack (never the test suite's or `make run`'s).
PRIVATE_IP, PUBLIC_IP = "127.0.8.1", "127.0.10.1"
CARRIER_IP, GATEWAY_IP = "127.0.8.10", "127.0.10.10"
SIP_PORT, DB_PORT, REDIS_PORT, RTPE_PORT, AGENT_PORT = 5075, 13326, 16399, 2228, 18075
RTP_MIN, RTP_MAX = 44000, 47999
CARRIER_PORT, GATEWAY_PORT = 5070, 5060
UAC_MEDIA, UAS_MEDIA = 43000, 43010
UAC_CP, UAS_CP = 28951, 28952
CTL = "unix:%s/kamailio_ctl" % RUN
DBURL = "mysql://kamailio:kamailiorw@127.0.0.1:%d/kamailio" % DB_PORT
AGENT = "http://127.0.0.1:%d" % AGENT_PORT
LOCK = os.environ.get("BENCH_LOCK", "/tmp/sbc-test.lock")   # the SIPp suite's
FAIL_LIMIT = 0.001          # "clean": fewer than 0.1 % failed calls
DIDS = 10000                # bench/load/data.sql
HZ = os.sysconf("SC_CLK_TCK")

STACK_ENV = {
    "SBC_RUNDIR": RUN, "SBC_PRIVATE_IP": PRIVATE_IP, "SBC_PUBLIC_IP": PUBLIC_IP,
    "SBC_SIP_PORT": str(SIP_PORT), "SBC_DB_PORT": str(DB_PORT), "SBC_REDIS_PORT": str(REDIS_PORT),
    "SBC_RTPE_PORT": str(RTPE_PORT), "SBC_RTP_MIN": str(RTP_MIN), "SBC_RTP_MAX": str(RTP_MAX),
    "SBC_AGENT_PORT": str(AGENT_PORT), "SBC_SHM_MB": str(SHM_MB), "SBC_MEM_MANAGER": MEM_MANAGER,
    "SBC_DATA_SQL": os.path.join(HERE, "data.sql"),
}

LABELS = {"ceiling": "ceiling (tm+rr)", "baseline": "prototype-style baseline", "sbc": "this SBC"}


def log(msg):
    print("bench: " + msg, flush=True)


# ---- the stack -------------------------------------------------------------------------------------------

def stack(cmd, extra_env=None):
    env = dict(os.environ, **STACK_ENV, **(extra_env or {}))
    with open(os.path.join(RUN, "stack.out"), "ab") as out:
        r = subprocess.run([os.path.join(TOP, "scripts", "stack.sh"), cmd], env=env, stdout=out,
                           stderr=subprocess.STDOUT, cwd=TOP, timeout=180)
    if r.returncode != 0:
        with open(os.path.join(RUN, "stack.out"), errors="replace") as f:
            tail = f.read()[-2000:]
        raise RuntimeError("scripts/stack.sh %s failed:\n%s" % (cmd, tail))


def pidfile(name):
    try:
        with open(os.path.join(RUN, name + ".pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def kamcmd(*args, timeout=30):
    r = subprocess.run(["kamcmd", "-s", CTL] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if r.returncode != 0 or r.stdout.startswith("error"):
        raise RuntimeError("kamcmd %s: %s" % (" ".join(map(str, args)), r.stdout.strip()))
    return r.stdout


def fields(text):
    """name: value pairs of a kamcmd struct, any depth (the last one wins)"""
    return dict(re.findall(r"^\s*(\w+):[ \t]*(\S*)[ \t]*$", text, re.M))


def agent_post(path, body=b"{}"):
    req = urllib.request.Request(AGENT + path, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def agent_rules(rules):
    import json
    agent_post("/_control", json.dumps({"rules": rules}).encode())


# ---- Kamailio setups ---------------------------------------------------------------------------------------

class Kamailio:
    """One setup's Kamailio. ceiling/baseline are started here, the SBC by scripts/stack.sh; either way
    the main process pid ends up in <rundir>/kamailio.pid and stop() ends it."""

    def __init__(self, setup, defines=(), workers=None):
        self.setup = setup
        self.defines = list(defines)
        self.workers = workers

    def name(self):
        n = self.setup
        for d in self.defines:
            n += " -A " + d
        if self.workers is not None:
            n += " workers=%d" % self.workers
        return n

    def start(self):
        stop_kamailio()
        args = ["-A", "CHILDREN=%d" % CHILDREN] + [x for d in self.defines for x in ("-A", d)]
        if self.setup == "sbc":
            extra = {"SBC_KAMAILIO_ARGS": " ".join(args)}
            if self.workers is not None:
                extra["SBC_CFG"] = os.path.join(HERE, "sbc-workers.cfg")
                extra["SBC_KAMAILIO_ARGS"] += " -A RATING_WORKERS=%d" % self.workers
            stack("restart-kamailio", extra)
        else:
            cfg = os.path.join(HERE, self.setup + ".cfg")
            cmd = ["kamailio", "-f", cfg, "-Y", RUN, "-P", os.path.join(RUN, "kamailio-main.pid"), "-DD", "-E",
                   "-m", str(SHM_MB), "-M", "16", "-x", MEM_MANAGER,
                   "-A", "PRIVATE_IP=%s" % PRIVATE_IP, "-A", "PUBLIC_IP=%s" % PUBLIC_IP,
                   "-A", "SIP_PORT=%d" % SIP_PORT, "-A", 'CTL_SOCKET="%s"' % CTL,
                   "-A", 'GATEWAY="sip:%s:%d"' % (GATEWAY_IP, GATEWAY_PORT),
                   "-A", 'DBURL="%s"' % DBURL, "-A", 'SQLCON="did=>%s"' % DBURL,
                   "-A", 'RTPENGINE_SOCK="udp:127.0.0.1:%d"' % RTPE_PORT, "-A", 'AGENT_URL="%s"' % AGENT,
                   "-A", 'HTTP_ASYNC_DIR="%s"' % HTTP_ASYNC_DIR] + args
            out = open(os.path.join(RUN, "kamailio-%s.log" % self.setup), "ab")
            p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=TOP, start_new_session=True)
            out.close()
            with open(os.path.join(RUN, "kamailio.pid"), "w") as f:
                f.write("%d\n" % p.pid)
            end = time.time() + 30
            while True:
                if p.poll() is not None:
                    raise RuntimeError("Kamailio (%s) exited, see %s/kamailio-%s.log" % (self.setup, RUN, self.setup))
                try:
                    kamcmd("core.uptime", timeout=5)
                    break
                except (RuntimeError, subprocess.TimeoutExpired):
                    if time.time() > end:
                        raise RuntimeError("Kamailio (%s) does not answer kamcmd" % self.setup)
                    time.sleep(0.2)
        time.sleep(1)   # dispatcher's first probes, the module workers' connections
        return self


def stop_kamailio():
    pid = pidfile("kamailio")
    if pid is None:
        return
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(150):
            if not alive(pid):
                break
            time.sleep(0.1)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    # the children go with the main process; the sockets must be free for the next setup
    for _ in range(100):
        if not subprocess.run(["ss", "-Hlnu", "sport = :%d" % SIP_PORT], stdout=subprocess.PIPE,
                              text=True).stdout.strip():
            break
        time.sleep(0.1)
    os.unlink(os.path.join(RUN, "kamailio.pid"))


def kamailio_pids():
    main = pidfile("kamailio")
    pids = [main]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            if int(st[st.rindex(")") + 2:].split()[1]) == main:
                pids.append(int(d))
    return pids


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                st = f.read()
        except OSError:
            continue
        parts = st[st.rindex(")") + 2:].split()
        total += int(parts[11]) + int(parts[12])    # utime + stime
    return total


STACK_PARTS = ("rtpengine", "mariadb", "redis", "agent")


def kamailio_roles():
    """pid -> role of every Kamailio process (kamcmd ps, without child numbers and sockets)"""
    roles = {}
    for line in kamcmd("ps").splitlines():
        pid, _, desc = line.strip().partition("\t")
        if pid.isdigit():
            roles[int(pid)] = re.sub(r"\s*(child=\d+|sock=\S+|- default)", "", desc).strip() or "?"
    return roles


class CpuMeter:
    """CPU seconds of Kamailio and of the rest of the stack between start() and stop(); stop() also
    keeps the split per Kamailio process role and per stack part in .parts."""

    def __init__(self, sipp_pids=()):
        self.roles = kamailio_roles()
        self.pids = {"sipp": list(sipp_pids)}
        for pid in kamailio_pids():
            self.pids.setdefault("kamailio: " + self.roles.get(pid, "?"), []).append(pid)
        for name in STACK_PARTS:
            self.pids[name] = [p for p in (pidfile(name),) if p]

    def start(self):
        self.t0 = {k: cpu_ticks(v) for k, v in self.pids.items()}
        self.w0 = time.time()
        return self

    def stop(self):
        self.parts = {k: (cpu_ticks(v) - self.t0[k]) / HZ for k, v in self.pids.items()}
        self.wall = time.time() - self.w0
        self.secs = {"kamailio": sum(v for k, v in self.parts.items() if k.startswith("kamailio")),
                     "stack": sum(self.parts[k] for k in STACK_PARTS), "sipp": self.parts["sipp"]}
        return self.secs


# ---- SIPp ------------------------------------------------------------------------------------------------

class Gateway:
    """The AI gateway: one SIPp UAS answering every call, for one setup's lifetime."""

    def __init__(self, tag):
        self.tag = tag

    def start(self):
        out = open(os.path.join(RUN, "sipp", "uas-%s.out" % self.tag), "wb")
        self.p = subprocess.Popen(
            ["timeout", "-k", "5", "3600", "sipp", "-sf", os.path.join(HERE, "uas.xml"), "-i", GATEWAY_IP,
             "-p", str(GATEWAY_PORT), "-mi", GATEWAY_IP, "-mp", str(UAS_MEDIA), "-cp", str(UAS_CP),
             "-nostdin", "-recv_timeout", "20000", "-max_socket", "4096"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=os.path.join(RUN, "sipp"),
            start_new_session=True)
        out.close()
        time.sleep(0.5)
        if self.p.poll() is not None:
            raise RuntimeError("gateway SIPp exited, see %s/sipp/uas-%s.out" % (RUN, self.tag))
        return self

    def sipp_pid(self):
        r = subprocess.run(["pgrep", "-P", str(self.p.pid)], stdout=subprocess.PIPE, text=True)
        return [int(x) for x in r.stdout.split()]

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()


_seq = [0]


def cpu_busy(secs=1.0):
    """fraction of all cores busy over `secs` (/proc/stat)"""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]      # total, idle + iowait
    t0, i0 = snap()
    time.sleep(secs)
    t1, i1 = snap()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def quiet(limit=0.15, timeout=120):
    """Wait until the machine is idle (less than `limit` of its cores busy over a second): what the last
    load left behind (MariaDB flushing, the agent double, the outbox) must not be counted in the next
    latency and CPU run."""
    end = time.time() + timeout
    t0 = time.time()
    while True:
        busy = cpu_busy()
        if busy < limit or time.time() > end:
            break
    if time.time() - t0 > 2:
        log("  waited %.0f s for an idle machine (%.0f %% busy)" % (time.time() - t0, busy * 100))


def loadavg():
    """1-minute load average: how busy the shared machine was (2 cores: above ~3 the run competed)"""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_uac(rate, calls, tag, trace_msg=False, cpu=None, sipp_extra_pids=()):
    """One carrier SIPp run: `calls` calls at `rate` calls/s. Returns a dict with the counts and timing."""
    _seq[0] += 1
    base = os.path.join(RUN, "sipp", "%03d-%s-r%d" % (_seq[0], tag, rate))
    stat = base + ".stat.csv"
    cmd = ["timeout", "-k", "5", str(int(calls / rate) + 60), "sipp", "-sf", os.path.join(HERE, "uac.xml"),
           "-inf", os.path.join(RUN, "dids.csv"), "-i", CARRIER_IP, "-p", str(CARRIER_PORT),
           "-mi", CARRIER_IP, "-mp", str(UAC_MEDIA), "-cp", str(UAC_CP), "-nostdin",
           "-d", str(HOLD_MS), "-r", str(rate), "-m", str(calls), "-recv_timeout", "8000",
           "-max_socket", "4096", "-trace_stat", "-stf", stat, "-fd", "1"]
    if trace_msg:
        cmd += ["-trace_msg", "-message_file", base + ".msg"]
    cmd.append("%s:%d" % (PRIVATE_IP, SIP_PORT))
    out = open(base + ".out", "wb")
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         cwd=os.path.join(RUN, "sipp"), start_new_session=True)
    out.close()
    meter = None
    if cpu:
        time.sleep(0.05)
        kids = subprocess.run(["pgrep", "-P", str(p.pid)], stdout=subprocess.PIPE, text=True).stdout.split()
        meter = CpuMeter([int(k) for k in kids] + list(sipp_extra_pids)).start()
    rc = p.wait()
    wall = time.time() - t0
    res = {"rate": rate, "calls": calls, "rc": rc, "wall": wall, "base": base, "load": loadavg()}
    if meter:
        res["cpu"] = meter.stop()
        res["cpu_parts"] = meter.parts
    res.update(parse_stat(stat, calls))
    if trace_msg:
        res["setup_ms"] = setup_times(base + ".msg")
    return res


def parse_elapsed(v):
    """SIPp's HH:MM:SS (whole seconds: the stat file has one row per second)"""
    h, m, s = v.split(":")[:3]
    return int(h) * 3600 + int(m) * 60 + int(s)


def parse_stat(path, calls):
    rows = []
    try:
        with open(path) as f:
            head = f.readline().rstrip(";\n").split(";")
            for line in f:
                rows.append(dict(zip(head, line.rstrip(";\n").split(";"))))
    except OSError:
        pass
    if not rows:
        return {"ok": 0, "failed": calls, "created": 0, "gen_secs": None, "retrans": 0}
    last = rows[-1]
    gen = None
    for r in rows:
        if int(r["TotalCallCreated"]) >= calls:
            gen = parse_elapsed(r["ElapsedTime(C)"])
            break
    return {"ok": int(last["SuccessfulCall(C)"]), "failed": int(last["FailedCall(C)"]),
            "created": int(last["TotalCallCreated"]), "gen_secs": gen,
            "retrans": int(last.get("Retransmissions(C)", 0) or 0)}


_MSG_RE = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n(UDP message (sent|received)[^\n]*)\n\n"
                     r"([^\n]*)\n(.*?)(?=^-{20,} \d{4}-|\Z)", re.M | re.S)


def setup_times(path):
    """ms from the first INVITE sent to the first 200 OK of the INVITE received, per Call-ID"""
    sent, done = {}, {}
    with open(path, errors="replace") as f:
        text = f.read()
    for m in _MSG_RE.finditer(text):
        ts = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        first, rest = m.group(4), m.group(5)
        cid = re.search(r"^Call-ID:\s*(\S+)", rest, re.M | re.I)
        if not cid:
            continue
        cid = cid.group(1)
        if m.group(3) == "sent" and first.startswith("INVITE "):
            sent.setdefault(cid, ts)
        elif m.group(3) == "received" and first.startswith("SIP/2.0 200") and \
                re.search(r"^CSeq:\s*\d+\s+INVITE", rest, re.M | re.I):
            done.setdefault(cid, ts)
    return sorted((done[c] - sent[c]) * 1000.0 for c in done if c in sent)


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


# ---- the lock shared with the SIPp suite ----------------------------------------------------------------

LOCK_WAITED = [0.0]


class SuiteLock:
    """/tmp/sbc-test.lock, the SIPp suite's lock: our load and a suite never run at the same time. The
    suite polls it every 0.5 s for up to 10 minutes: it is held per setup and released in between."""

    def __enter__(self):
        self.f = open(LOCK, "a+")
        t0 = time.time()
        said = False
        while True:
            try:
                fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not said:
                    log("waiting for %s (a SIPp suite is running)" % LOCK)
                    said = True
                time.sleep(0.5)
        LOCK_WAITED[0] += time.time() - t0
        self.since = time.time()
        if said:
            log("got the lock after %.0f s" % (time.time() - t0))
        self.f.seek(0)
        self.f.truncate()
        self.f.write("make bench pid %d since %s\n" % (os.getpid(), time.strftime("%H:%M:%S")))
        self.f.flush()
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()
        time.sleep(1.0)     # longer than the suite's poll interval: a waiting suite gets in now

    def let_suites_in(self):
        """Release the lock for a moment (our Kamailio stays up, idle)."""
        self.__exit__()
        self.__enter__()


class Running:
    """A setup's Kamailio and the gateway SIPp, from start to stop."""

    def __init__(self, kam, tag):
        self.kam, self.tag = kam, tag
        self.gw = None

    def __enter__(self):
        try:
            self.gw = Gateway(self.tag).start()
            self.kam.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        try:
            stop_kamailio()
        finally:
            if self.gw:
                self.gw.stop()

    def uac(self, rate, calls, what, **kw):
        return run_uac(rate, calls, "%s-%s" % (what, self.tag), sipp_extra_pids=self.gw.sipp_pid(), **kw)


def settle(timeout=40):
    """Wait until Kamailio holds no transaction and no dialog (tm's wait timer is 5 s)."""
    end = time.time() + timeout
    while time.time() < end:
        tm = fields(kamcmd("tm.stats"))
        m = re.search(r"active_dialogs = (\d+)", kamcmd("stats.get_statistics", "active_dialogs"))
        dlg = int(m.group(1)) if m else 0       # no dialog module: the ceiling
        if int(tm.get("current", 0)) == 0 and dlg == 0:
            return True
        time.sleep(0.5)
    return False


def agent_reset():
    """The double keeps every request it saw: forget them (memory) and any rule."""
    agent_post("/_reset")


# ---- phases --------------------------------------------------------------------------------------------------

def step(run, rate):
    calls = rate * STEP_SECS
    r = run.uac(rate, calls, "step", cpu=True)
    failed = calls - r["ok"]
    r["fail_ratio"] = failed / calls
    r["held"] = r["gen_secs"] is not None and r["gen_secs"] <= STEP_SECS * 1.1 + 1
    r["clean"] = r["fail_ratio"] < FAIL_LIMIT and r["held"]
    log("  %-28s %5d cps: %6d ok %5d failed %6d retrans, generated in %s s, cpu s kamailio %.1f "
        "stack %.1f sipp %.1f, load %.1f -> %s"
        % (run.kam.name(), rate, r["ok"], failed, r["retrans"],
           "%.1f" % r["gen_secs"] if r["gen_secs"] is not None else "-", r["cpu"]["kamailio"],
           r["cpu"]["stack"], r["cpu"]["sipp"], r["load"], "clean" if r["clean"] else "NOT clean"))
    agent_reset()
    settle(20)
    return r


def stepup(run, start=0):
    """Climb STEPS from index `start`; clean_cps 0 if even the first step is not clean."""
    log("step-up: %s from %d cps" % (run.kam.name(), STEPS[start]))
    steps, clean = [], 0
    for rate in STEPS[start:]:
        r = step(run, rate)
        if not r["clean"]:
            steps.append(r)
            r = step(run, rate)      # once more: a neighbour's burst must not end the climb
        steps.append(r)
        if not r["clean"]:
            break
        clean = rate
    return {"clean_cps": clean, "steps": steps, "top": clean == STEPS[-1]}


def warm_up(run):
    """Before a measured run at LAT_CPS: connections to the DB, rtpengine and the agent, first dispatcher
    choices; then nothing in flight and an idle machine."""
    run.uac(LAT_CPS, LAT_CPS * 2, "warm")
    settle(20)
    agent_reset()
    quiet()


def latency(run):
    log("latency at %d cps: %s" % (LAT_CPS, run.kam.name()))
    warm_up(run)
    rated = run.kam.setup == "sbc" and "NO_RATING" not in run.kam.defines
    probe = AgentProbe(LAT_SECS * 10, 10) if rated else None
    r = run.uac(LAT_CPS, LAT_CPS * LAT_SECS, "lat", trace_msg=True, cpu=True)
    if rated:
        r["ra"] = fields(kamcmd("rating_agent.stats"))
        r["agent_loaded"] = probe.result()
    settle(20)
    agent_reset()
    t = r["setup_ms"]
    r["p50"], r["p99"], r["n"] = pct(t, 0.5), pct(t, 0.99), len(t)
    r["kam_ms_per_1k"] = r["cpu"]["kamailio"] * 1e6 / r["calls"]
    r["stack_ms_per_1k"] = (r["cpu"]["kamailio"] + r["cpu"]["stack"]) * 1e6 / r["calls"]
    log("  %d/%d ok, setup p50 %.2f ms p99 %.2f ms; CPU per 1000 calls: kamailio %.0f ms, whole stack %.0f ms"
        % (r["ok"], r["calls"], r["p50"], r["p99"], r["kam_ms_per_1k"], r["stack_ms_per_1k"]))
    return r


def profile(run):
    """perf record of every Kamailio process of the setup during a run at LAT_CPS (perf_profile.py)"""
    log("perf profile at %d cps: %s" % (LAT_CPS, run.kam.name()))
    warm_up(run)
    roles = kamailio_roles()
    data = os.path.join(RUN, "perf-%s.data" % run.tag)
    rec = perf_profile.Recorder(kamailio_pids(), data).start()
    time.sleep(0.5)
    try:
        r = run.uac(LAT_CPS, LAT_CPS * LAT_SECS, "profile")
    finally:
        rec.stop()
    settle(20)
    agent_reset()
    prof = perf_profile.summarize(data, roles)
    prof.update(calls=r["ok"], data=data)
    log("  %d samples over %d calls, kept in %s" % (prof["total"], r["ok"], data))
    return prof


class AgentProbe:
    """The agent's own latency as libcurl sees it: n POST /v1/authorization one after the other on one
    kept-alive connection (curl -w per transfer), at most `rate` per second. Run alone (the agent idle)
    or next to a load run (the agent as loaded as it is for the SBC)."""

    BODY = ('{"transaction_tag": "bench-agent-%d", "account_tag": "4989555000", '
            '"destination": "sip:4930100000@127.0.8.1"}')

    def __init__(self, n, rate=None):
        cmd = ["curl", "-s"] + (["--rate", "%d/s" % rate] if rate else [])
        for i in range(n):
            # --next starts a new set of options (same connection): every transfer names all of its own
            cmd += ["-o", "/dev/null", "-w", "%{time_total}\\n", "-H", "Content-Type: application/json",
                    "-d", self.BODY % i, AGENT + "/v1/authorization"] + (["--next"] if i < n - 1 else [])
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)

    def result(self):
        out, _ = self.p.communicate(timeout=300)
        t = [float(x) * 1000 for x in out.split()]
        return {"n": len(t), "p50": pct(t, 0.5), "p99": pct(t, 0.99)}


def mem_snapshot():
    shm = fields(kamcmd("core.shmmem"))
    per = [int(x) for x in re.findall(r"^\s*real_used:\s*(\d+)", kamcmd("pkg.stats"), re.M)]
    return {"shm": int(shm["real_used"]), "pkg": sum(per), "pkg_per": per}


def quarter_steps(lk):
    """shm change in each quarter of a leak check, in bytes: +a / +b / +c / +d"""
    prev, out = lk["before"]["shm"], []
    for q in lk["quarters"]:
        out.append("%+d" % (q["shm"] - prev))
        prev = q["shm"]
    return " / ".join(out)


def leak(run, lock, clean_cps):
    rate = max(LAT_CPS, int(clean_cps * LEAK_LOAD))
    calls = min(LEAK_CALLS, rate * LEAK_MAX_SECS)
    log("leak check: %s, %d calls at %d cps" % (run.kam.name(), calls, rate))
    res = {"rate": rate, "calls": calls, "ok": 0, "cpu": {"kamailio": 0.0, "stack": 0.0, "sipp": 0.0}}
    run.uac(rate, rate * 3, "leakwarm")
    settle()
    agent_reset()
    res["before"] = mem_snapshot()
    # shm after each quarter too: memory that grows with every quarter is a leak, memory that grows in
    # the first and then stays is a cache filling up
    marks = [calls * q // 4 for q in (1, 2, 3, 4)]
    res["quarters"] = []
    done = 0
    while done < calls:
        mark = next(m for m in marks if m > done)
        n = min(rate * 30, mark - done)
        r = run.uac(rate, n, "leak", cpu=True)
        for k in res["cpu"]:
            res["cpu"][k] += r["cpu"][k]
        res["ok"] += r["ok"]
        done += n
        agent_reset()
        if done == mark:
            res["settled"] = settle()
            res["quarters"].append(mem_snapshot())
        if done < calls and time.time() - lock.since > 300:
            lock.let_suites_in()        # the suite gives up after 10 minutes of waiting
    res["after"] = res["quarters"][-1]
    b, a = res["before"], res["after"]
    res["shm_delta"] = a["shm"] - b["shm"]
    res["pkg_delta"] = a["pkg"] - b["pkg"]
    res["pkg_max_delta"] = max((x - y for x, y in zip(a["pkg_per"], b["pkg_per"])), default=0)
    res["kam_ms_per_1k"] = res["cpu"]["kamailio"] * 1e6 / calls
    log("  %d/%d ok; shm %+d bytes (%+.1f per call; by quarter %s), pkg %+d bytes over all processes "
        "(largest %+d)" % (res["ok"], calls, res["shm_delta"], res["shm_delta"] / calls, quarter_steps(res),
                           res["pkg_delta"], res["pkg_max_delta"]))
    return res


def ra_counter(name):
    return int(fields(kamcmd("rating_agent.stats"))[name])


def outbox_drain(run):
    """Agent outage with OUTBOX_RECORDS begin/end records pending, then the agent comes back."""
    calls = OUTBOX_RECORDS // 2
    rate = LAT_CPS * 2
    log("outbox drain: %d calls at %d cps while the agent refuses begin/end" % (calls, rate))
    agent_rules([{"match": {"endpoint": "begin_transaction"}, "action": "error"},
                 {"match": {"endpoint": "end_transaction"}, "action": "error"}])
    enq0, del0 = ra_counter("enqueued"), ra_counter("delivered")
    r = run.uac(rate, calls, "outbox")
    end = time.time() + 30
    while ra_counter("enqueued") - enq0 < 2 * r["ok"] and time.time() < end:
        time.sleep(0.2)
    time.sleep(1.2)      # the outbox gauges are refreshed every second
    st = fields(kamcmd("rating_agent.stats"))
    pending = int(st["depth"])
    want = int(st["enqueued"]) - enq0 - (int(st["delivered"]) - del0)
    agent_reset()        # the agent is back: every request answered
    meter = CpuMeter().start()
    t0 = time.time()
    kamcmd("rating_agent.flush")
    deadline = t0 + 300
    delivered = 0
    while time.time() < deadline:
        delivered = ra_counter("delivered") - del0
        if delivered >= want:
            break
        time.sleep(0.05)
    secs = time.time() - t0
    cpu = meter.stop()
    res = {"calls_ok": r["ok"], "pending": pending, "records": want, "delivered": delivered, "secs": secs,
           "rate": delivered / secs if secs > 0 else 0, "cpu": cpu}
    log("  %d records pending (outbox depth %d), %d delivered in %.2f s: %.0f records/s"
        % (want, pending, delivered, secs, res["rate"]))
    agent_reset()
    return res


def index_bench():
    log("bench/index: 1M DIDs in sbc_tenant")
    r = subprocess.run([sys.executable, os.path.join(TOP, "bench", "index", "bench_index.py")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
    sys.stdout.write(r.stdout)
    i = r.stdout.find("\n----")
    return r.stdout[i + 1:] if i >= 0 and r.returncode == 0 else "bench/index failed:\n" + r.stdout[-3000:]


# ---- report ----------------------------------------------------------------------------------------------

def ratio(a, b):
    if a is None or b is None or b == 0 or a != a or b != b:
        return "-"
    return "%.2f" % (a / b)


def fmt(v, f="%.0f"):
    if v is None or v != v:
        return "-"
    return f % v


def machine():
    def cmd(*c):
        try:
            return subprocess.run(c, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  cwd=TOP).stdout.strip()
        except OSError:
            return "?"
    kv = cmd("dpkg-query", "-W", "-f=${Version}", "kamailio")
    commit = cmd("git", "rev-parse", "--short", "HEAD")
    dirty = " (with local changes)" if cmd("git", "status", "--porcelain", "--untracked-files=no") else ""
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return kv, commit + dirty, load


def report(res, started, wall):
    kv, commit, load = res["machine"]
    L = []
    add = L.append
    add("# make bench, %s" % started.strftime("%Y-%m-%d %H:%M"))
    add("")
    add("Machine: %d cores (shared with other jobs; load average %s at the start), Kamailio %s, commit %s. "
        "Every setup: %d children per UDP socket, shm %d MB, pkg 16 MB, memory manager %s, one Kamailio at a time on the same "
        "loopback stack (MariaDB, Redis, rtpengine, rating agent double). Calls: INVITE with SDP, 200, ACK, "
        "%d ms hold, BYE; no RTP. Step-up: %d s per step, clean = fewer than 0.1 %% failed calls and the rate "
        "held by SIPp. Latency and CPU at %d cps for %d s. The bench took %.0f min, %.0f of them waiting for "
        "the SIPp suite lock."
        % (os.cpu_count() or 0, res["load_start"], kv, commit, CHILDREN, SHM_MB, MEM_MANAGER, HOLD_MS, STEP_SECS, LAT_CPS,
           LAT_SECS, wall / 60, res["lock_waited"] / 60))
    add("")
    su, lat, lk = res["stepup"], res["latency"], res["leak"]
    cols = [s for s in ("ceiling", "baseline", "sbc") if s in SETUPS]

    def val(d, s, key):
        return d.get(s, {}).get(key) if d.get(s) else None

    def row(name, getter, f="%.0f", ratios=True):
        vals = [getter(s) for s in cols]
        cells = [fmt(v, f) for v in vals]
        if ratios and "sbc" in cols:
            sbc = getter("sbc")
            cells.append(ratio(sbc, getter("baseline")) if "baseline" in cols else "-")
            cells.append(ratio(sbc, getter("ceiling")) if "ceiling" in cols else "-")
        elif "sbc" in cols:
            cells += ["", ""]
        add("| %s | %s |" % (name, " | ".join(cells)))

    add("## Side by side")
    add("")
    add("| | %s | this SBC / baseline | this SBC / ceiling |" % " | ".join(LABELS[s] for s in cols))
    add("|---|%s---|---|" % ("---|" * len(cols)))
    row("clean CPS (highest step < 0.1 % failed)", lambda s: val(su, s, "clean_cps"))
    row("call setup p50 at %d cps (ms)" % LAT_CPS, lambda s: val(lat, s, "p50"), "%.2f")
    row("call setup p99 at %d cps (ms)" % LAT_CPS, lambda s: val(lat, s, "p99"), "%.2f")
    row("Kamailio CPU per 1000 calls at %d cps (ms)" % LAT_CPS, lambda s: val(lat, s, "kam_ms_per_1k"))
    row("whole stack CPU per 1000 calls at %d cps (ms)" % LAT_CPS, lambda s: val(lat, s, "stack_ms_per_1k"))
    row("leak check: calls (all answered?)", lambda s: val(lk, s, "calls"), ratios=False)
    row("leak check: rate (cps)", lambda s: val(lk, s, "rate"), ratios=False)
    row("shm real_used before (KB)", lambda s: lk[s]["before"]["shm"] / 1024 if lk.get(s) else None, ratios=False)
    row("shm real_used after (KB)", lambda s: lk[s]["after"]["shm"] / 1024 if lk.get(s) else None, ratios=False)
    row("shm change in each quarter of the calls (bytes)", lambda s: quarter_steps(lk[s]) if lk.get(s) else None,
        "%s", ratios=False)
    row("shm change per call (bytes)", lambda s: lk[s]["shm_delta"] / lk[s]["calls"] if lk.get(s) else None,
        "%+.2f", ratios=False)
    row("pkg change, all processes (KB)", lambda s: lk[s]["pkg_delta"] / 1024 if lk.get(s) else None, "%+.1f",
        ratios=False)
    row("Kamailio CPU per 1000 calls during the leak run (ms)", lambda s: val(lk, s, "kam_ms_per_1k"), ratios=False)
    add("")
    add("Whole stack = Kamailio + rtpengine + MariaDB + Redis + the rating agent double (SIPp not counted). "
        "Leak check: %s calls requested per setup (BENCH_LEAK_CALLS), at most %d s of load "
        "(BENCH_LEAK_MAX_SECS) at %.0f %% of the setup's clean CPS; memory read once every transaction and "
        "dialog was gone." % (LEAK_CALLS, LEAK_MAX_SECS, LEAK_LOAD * 100))
    for s in cols:
        if lk.get(s) and lk[s]["ok"] != lk[s]["calls"]:
            add("%s: %d of %d leak-check calls answered." % (LABELS[s], lk[s]["ok"], lk[s]["calls"]))
    add("")

    targets = res["targets"] = []
    if "sbc" in cols and su.get("sbc"):
        if su.get("baseline") and su["baseline"]["clean_cps"]:
            r = su["sbc"]["clean_cps"] / su["baseline"]["clean_cps"]
            targets.append("this SBC >= 2x the baseline's clean CPS: %.2fx -> %s" % (r, "met" if r >= 2 else "NOT met"))
        if su.get("ceiling") and su["ceiling"]["clean_cps"]:
            r = su["sbc"]["clean_cps"] / su["ceiling"]["clean_cps"]
            targets.append("this SBC >= 60 %% of the ceiling: %.0f %% -> %s" % (r * 100, "met" if r >= 0.6 else "NOT met"))
    rt = res.get("rating")
    if rt:
        targets.append("rating overhead <= 1 ms p50 over the agent's own latency: %.2f ms -> %s"
                       % (rt["overhead"], "met" if rt["overhead"] <= 1 else "NOT met"))
    if any(su.get(s, {}).get("top") for s in cols):
        targets.append("(a setup clean at the last step, %d cps, was not pushed further: BENCH_STEPS)" % STEPS[-1])
    add("## Targets")
    add("")
    for t in targets:
        add("- " + t)
    add("")

    add("## Latency runs (at %d cps; the side-by-side table takes each setup's lower p50)" % LAT_CPS)
    add("")
    add("| setup | round | calls ok | setup p50 (ms) | setup p99 (ms) | Kamailio CPU / 1000 calls (ms) | load average |")
    add("|---|---|---|---|---|---|---|")
    for name, rnd, r in res["latency_all"]:
        add("| %s | %d | %d/%d | %.2f | %.2f | %.0f | %.1f |" % (name, rnd, r["ok"], r["calls"], r["p50"], r["p99"],
                                                              r["kam_ms_per_1k"], r["load"]))
    add("")
    add("## Step-up runs (the side-by-side table takes each setup's better round)")
    add("")
    add("| setup | cps | calls ok | failed | retransmissions | held the rate | Kamailio CPU (s) | stack CPU (s) | SIPp CPU (s) | load average |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in res["stepup_all"]:
        for st in r["steps"]:
            add("| %s | %d | %d | %d | %d | %s | %.1f | %.1f | %.1f | %.1f |"
                % (name, st["rate"], st["ok"], st["calls"] - st["ok"], st["retrans"], "yes" if st["held"] else "no",
                   st["cpu"]["kamailio"], st["cpu"]["stack"], st["cpu"]["sipp"], st["load"]))
    add("")

    if res["features"]:
        add("## What each SBC feature costs (at %d cps)" % LAT_CPS)
        add("")
        add("Each feature off (-A NO_<feature>) next to its own run of the SBC as shipped (the two runs one "
            "after the other, the order alternating from feature to feature, each on an idle machine). The "
            "feature costs = as shipped - without.")
        add("")
        add("| this SBC | setup p50 (ms) | setup p99 (ms) | Kamailio CPU / 1000 calls (ms) | whole stack CPU / 1000 calls (ms) |")
        add("|---|---|---|---|---|")
        for feat, r, ref in res["features"]:
            for name, x in (("as shipped (next to the run without %s)" % feat, ref),
                            ("without %s (-A NO_%s)" % (feat, feat), r)):
                add("| %s | %.2f | %.2f | %.0f | %.0f |" % (name, x["p50"], x["p99"], x["kam_ms_per_1k"],
                                                            x["stack_ms_per_1k"]))
            add("| **%s costs** | **%+.2f** | %+.2f | **%+.0f** | **%+.0f** |"
                % (feat, ref["p50"] - r["p50"], ref["p99"] - r["p99"], ref["kam_ms_per_1k"] - r["kam_ms_per_1k"],
                   ref["stack_ms_per_1k"] - r["stack_ms_per_1k"]))
        add("")

    runs = [(LABELS[s], lat[s]) for s in cols if lat.get(s)] + \
        [("SBC without " + f, r) for f, r, _ in res["features"]]
    if runs:
        add("## Where the CPU goes (at %d cps, ms of CPU per 1000 calls)" % LAT_CPS)
        add("")
        add("| process | %s |" % " | ".join(n for n, _ in runs))
        add("|---|%s" % ("---|" * len(runs)))
        names = set()
        for _, r in runs:
            names.update(r["cpu_parts"])
        names.discard("sipp")
        ref = dict(runs[len(cols) - 1][1]["cpu_parts"]) if len(cols) else {}
        for n in sorted(names, key=lambda k: (not k.startswith("kamailio"), -ref.get(k, 0), k)):
            cells = ["%.0f" % (r["cpu_parts"].get(n, 0) * 1e6 / r["calls"]) if n in r["cpu_parts"] else "-"
                     for _, r in runs]
            if any(c not in ("-", "0") for c in cells):
                add("| %s | %s |" % (n, " | ".join(cells)))
        add("| **Kamailio** | %s |" % " | ".join("**%.0f**" % r["kam_ms_per_1k"] for _, r in runs))
        add("| **whole stack** | %s |" % " | ".join("**%.0f**" % r["stack_ms_per_1k"] for _, r in runs))
        add("")

    if rt:
        add("## Rating authorization (rating_agent)")
        add("")
        add("| | p50 (ms) | p99 (ms) |")
        add("|---|---|---|")
        add("| agent double idle, libcurl on a kept-alive connection, 10 requests/s (%d requests) | %.2f | %.2f |"
            % (rt["agent"]["n"], rt["agent"]["p50"], rt["agent"]["p99"]))
        add("")
        add("Rating overhead = setup p50 with rating - setup p50 with -A NO_RATING (the run next to it) - the "
            "agent's own p50 during the run with rating (the same libcurl probe at 10/s, the agent as loaded as "
            "the SBC found it); rating_agent.stats gives the module's own authorization latency (histogram "
            "bucket bounds).")
        add("")
        add("| pair | setup p50 / p99 with rating (ms) | without (ms) | agent p50 / p99 (ms) | rating_agent.stats p50 / p99 (ms) | overhead (ms) |")
        add("|---|---|---|---|---|---|")
        for i, x in enumerate(rt["pairs"]):
            w, o, m = x["with"], x["without"], x["with"].get("ra") or {}
            add("| %d | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %s / %s | %.2f |"
                % (i + 1, w["p50"], w["p99"], o["p50"], o["p99"], w["agent_loaded"]["p50"],
                   w["agent_loaded"]["p99"], m.get("latency_p50_ms", "-"), m.get("latency_p99_ms", "-"),
                   x["overhead"]))
        add("")
        add("Rating overhead, median of %d pair(s): **%.2f ms**." % (len(rt["pairs"]), rt["overhead"]))
        add("")
    if res["workers"]:
        add("| rating_agent workers | clean CPS |")
        add("|---|---|")
        for w, r in res["workers"]:
            add("| %s | %d |" % (w, r["clean_cps"]))
        add("")

    ob = res.get("outbox")
    if ob:
        add("## Rating outbox drain")
        add("")
        add("The agent double answered begin/end with 500 while %d calls were made; %d records were pending "
            "(outbox depth %d). Then the agent answered again and `rating_agent.flush` was called: %d records "
            "delivered in %.2f s = **%.0f records/s** (one sender process, outbox_max_inflight 16; CPU during "
            "the drain: Kamailio %.1f s, Redis + agent + rest %.1f s)."
            % (ob["calls_ok"], ob["records"], ob["pending"], ob["delivered"], ob["secs"], ob["rate"],
               ob["cpu"]["kamailio"], ob["cpu"]["stack"]))
        add("")
    pr = res.get("profile")
    if pr:
        add("## Where this SBC's Kamailio CPU goes (perf)")
        add("")
        add("`perf record -e cpu-clock -F 999 -g` of every Kamailio process of the SBC during %d calls at %d cps "
            "(%d samples; the data stays in %s). A sample in the kernel counts for the system call it "
            "was made from (with the context switches it led to), else for the library, module or part of "
            "Kamailio's core it was in (the Debian builds are stripped and have no frame pointers: the "
            "sampled function is known, not its callers)." % (pr["calls"], LAT_CPS, pr["total"], pr["data"]))
        add("")
        L.extend(perf_profile.report_lines(pr))
        add("")
    elif PROFILE and res.get("profile_skipped"):
        add("Not profiled: %s" % res["profile_skipped"])
        add("")
    if res.get("index"):
        add("## sbc_tenant index (bench/index)")
        add("")
        add("```")
        add(res["index"].rstrip())
        add("```")
        add("")
    return "\n".join(L)


# ---- main ------------------------------------------------------------------------------------------------

HTTP_ASYNC_DIR = None


def prepare():
    global HTTP_ASYNC_DIR
    r = subprocess.run([os.path.join(HERE, "build-http-async-client.sh")], stdout=subprocess.PIPE, text=True,
                       check=True)
    HTTP_ASYNC_DIR = r.stdout.strip().splitlines()[-1]
    if os.path.isdir(RUN):
        stack("stop")
        stop_kamailio()
    subprocess.run(["rm", "-rf", RUN], check=True)
    os.makedirs(os.path.join(RUN, "sipp"))
    with open(os.path.join(RUN, "dids.csv"), "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(DIDS):
            f.write("49301%05d\n" % i)
    log("starting MariaDB, Redis, rtpengine and the rating agent double (scripts/stack.sh, %s)" % RUN)
    stack("start")
    stop_kamailio()     # stack.sh starts the SBC too; every phase starts the setup it needs


def main():
    # SIGTERM (and SIGINT, ignored in background jobs) end the run through the finally below, which
    # stops every process the bench started
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda n, f: sys.exit(128 + n))
    started = datetime.now()
    t0 = time.time()
    with open("/proc/loadavg") as f:
        load_start = " ".join(f.read().split()[:3])
    res = {"machine": machine(), "load_start": load_start, "stepup": {}, "stepup_all": [], "latency": {},
           "latency_all": [], "leak": {}, "features": [], "workers": [], "rating": None, "outbox": None, "index": None}
    try:
        prepare()
        # One setup at a time, all its phases under one hold of the suite lock. Round 2 runs the setups in
        # the opposite order, climbs again from two steps below round 1's result and keeps the better of
        # the two (other jobs on the machine only ever make a run worse).
        for rnd in range(ROUNDS):
            for s in (SETUPS if rnd % 2 == 0 else list(reversed(SETUPS))):
                with SuiteLock() as lock, Running(Kamailio(s), s) as run:
                    lat = latency(run)
                    res["latency_all"].append((LABELS[s], rnd + 1, lat))
                    if s not in res["latency"] or lat["p50"] < res["latency"][s]["p50"]:
                        res["latency"][s] = lat
                    prev = res["stepup"].get(s)
                    start = max(0, STEPS.index(prev["clean_cps"]) - 2) if prev and prev["clean_cps"] else 0
                    su = stepup(run, start)
                    res["stepup_all"].append(("%s, round %d" % (LABELS[s], rnd + 1), su))
                    if prev is None or su["clean_cps"] > prev["clean_cps"]:
                        res["stepup"][s] = su
                    if rnd == 0:
                        res["leak"][s] = leak(run, lock, su["clean_cps"])
        # The SBC alone. Each part runs on its own when the setups are left out (e.g. only the outbox
        # drain: BENCH_SETUPS="" BENCH_FEATURES="" BENCH_WORKERS="" BENCH_INDEX=0).
        if FEATURES or OUTBOX_RECORDS > 0 or PROFILE:
            with SuiteLock():
                # each feature next to its own run of the SBC as shipped, the order alternating: a
                # feature's cost is the difference of two runs minutes apart, not hours
                for i, feat in enumerate(FEATURES):
                    pair = {}
                    for d in ([None, feat] if i % 2 == 0 else [feat, None]):
                        kam = Kamailio("sbc", ["NO_" + d] if d else [])
                        with Running(kam, "sbc-no-" + d.lower() if d else "sbc-ref-" + feat.lower()) as run:
                            pair[d] = latency(run)
                    res["features"].append((feat, pair[feat], pair[None]))
                if PROFILE:
                    res["profile_skipped"] = perf_profile.ensure()
                    if not res["profile_skipped"]:
                        with Running(Kamailio("sbc"), "sbc-profile") as run:
                            try:
                                res["profile"] = profile(run)
                            except (RuntimeError, subprocess.TimeoutExpired) as e:
                                res["profile_skipped"] = str(e)
                if OUTBOX_RECORDS > 0:
                    with Running(Kamailio("sbc"), "sbc-outbox") as run:
                        res["outbox"] = outbox_drain(run)
        # BENCH_FEATURES may name RATING more than once: one pair each, the median overhead counts
        pairs = [{"with": w, "without": o, "overhead": w["p50"] - o["p50"] - w["agent_loaded"]["p50"]}
                 for f, o, w in res["features"] if f == "RATING"]
        if pairs:
            res["rating"] = {"agent": AgentProbe(100, 10).result(), "pairs": pairs,
                             "overhead": pct([x["overhead"] for x in pairs], 0.5)}
        if WORKERS:
            if "sbc" in res["stepup"]:
                res["workers"].append(("2 (default)", res["stepup"]["sbc"]))
            # from two steps below the default's clean CPS, like round 2 of the setups
            sbc = res["stepup"].get("sbc")
            start = max(0, STEPS.index(sbc["clean_cps"]) - 2) if sbc and sbc["clean_cps"] else 0
            with SuiteLock():
                for n in WORKERS:
                    with Running(Kamailio("sbc", workers=n), "sbc-w%d" % n) as run:
                        r = stepup(run, start)
                    res["workers"].append((str(n), r))
                    res["stepup_all"].append(("this SBC, %d rating workers" % n, r))
    finally:
        stop_kamailio()
        stack("stop")
    if RUN_INDEX:
        res["index"] = index_bench()
    res["lock_waited"] = LOCK_WAITED[0]
    text = report(res, started, time.time() - t0)
    print()
    print(text)
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, started.strftime("%Y-%m-%d-%H%M") + ".md")
    with open(path, "w") as f:
        f.write(text + "\n")
    log("written to %s" % os.path.relpath(path, TOP))


if __name__ == "__main__":
    main()
