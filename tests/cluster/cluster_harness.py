"""Harness of the cluster tests: two SBC nodes (scripts/cluster.sh) sharing MariaDB, Redis, rtpengine and
the rating agent double, the SIPp peers standing in for the carrier and the AI gateways, and access to
each node (kamcmd, log, processes) and to the shared services.

The SIPp process handling (Sipp, Peers) is tests/sipp/sipp_harness.py's; its run dir (SIPp logs) is
pointed at the cluster's before it is imported.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
RUNDIR = os.environ.get("SBC_CLUSTER_RUNDIR", "/tmp/sbc-cluster")
os.environ["SBC_RUNDIR"] = RUNDIR  # sipp_harness: SIPp logs in RUNDIR/sipp
sys.path.insert(0, os.path.join(REPO, "tests", "sipp"))

import sipp_harness  # noqa: E402
from rtpe_ng import NgClient  # noqa: E402
from sipp_harness import Peers, Sipp  # noqa: E402

SIP_PORT = 5085
DB_PORT = 13336
REDIS_PORT = 16409
# rtpengine ng port (CLI on +1); SBC_CLUSTER_RTPE_PORT moves it when another stack holds it
RTPE_PORT = int(os.environ.get("SBC_CLUSTER_RTPE_PORT", "2230"))
AGENT_PORT = 18085
NODES = {"a": ("127.0.11.1", "127.0.12.1"), "b": ("127.0.11.2", "127.0.12.2")}
RTPE_PRIVATE_IP = "127.0.11.5"
RTPE_PUBLIC_IP = "127.0.12.5"
CARRIER_IP = "127.0.11.10"
GWS_10 = ("127.0.12.10", "127.0.12.11")
GW_20 = "127.0.12.12"

CLUSTER_ENV = {
    "SBC_CLUSTER_RUNDIR": RUNDIR,
    "SBC_CLUSTER_NODES": " ".join("%s:%s:%s" % (n, ips[0], ips[1]) for n, ips in NODES.items()),
    "SBC_SIP_PORT": str(SIP_PORT),
    "SBC_DMQ_PORT": "5087",
    "SBC_DB_PORT": str(DB_PORT),
    "SBC_REDIS_PORT": str(REDIS_PORT),
    "SBC_RTPE_PORT": str(RTPE_PORT),
    "SBC_AGENT_PORT": str(AGENT_PORT),
    "SBC_RTP_MIN": "48000",
    "SBC_RTP_MAX": "49999",
    "SBC_RTPE_PRIVATE_IP": RTPE_PRIVATE_IP,
    "SBC_RTPE_PUBLIC_IP": RTPE_PUBLIC_IP,
    "SBC_DATA_SQL": os.path.join(HERE, "fixtures.sql"),
    # leases of 6 s (refreshed every 2 s): a dead node's calls stop counting within the tests' time
    "SBC_CLUSTER_ARGV": "-A\nCLUSTER_LEASE_S=6",
}

# The gateways answer in-dialog requests to the node that sent them (uas_answer_via.xml: Via, not the
# address of the INVITE), the carrier (outbound calls) is tests/sipp's uas_answer.xml.
UAS_VIA = os.path.join(HERE, "uas_answer_via.xml")
CLUSTER_PEERS = {CARRIER_IP: "uas_answer.xml", GWS_10[0]: UAS_VIA, GWS_10[1]: UAS_VIA, GW_20: UAS_VIA}


class ClusterPeers(Peers):
    """The session-long UASes of the cluster topology (the SBC nodes probe them with OPTIONS)."""

    def start(self):
        for ip, scen in CLUSTER_PEERS.items():
            self.start_one(ip, scen)
        time.sleep(0.5)
        dead = [ip for ip, p in self.procs.items() if not p.alive()]
        if dead:
            raise RuntimeError("SIPp peers did not start: " +
                               "\n".join(self.procs[ip].describe() for ip in dead))


class Node:
    """One Kamailio node of the cluster."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.private_ip, self.public_ip = NODES[name]
        self.private = (self.private_ip, SIP_PORT)
        self.public = (self.public_ip, SIP_PORT)
        self.rundir = os.path.join(RUNDIR, "node-" + name)

    def __repr__(self):
        return "node %s" % self.name

    def kamcmd(self, *args, timeout=10):
        r = subprocess.run(["kamcmd", "-s", "unix:%s/kamailio_ctl" % self.rundir] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("%s: kamcmd %s failed (rc %d): %s"
                               % (self, " ".join(args), r.returncode, r.stdout))
        return r.stdout

    def pid(self):
        try:
            with open(os.path.join(self.rundir, "kamailio.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def pids(self):
        """The main process and every process it forked."""
        main = self.pid()
        if not main:
            return []
        out, todo = [], [main]
        while todo:
            p = todo.pop()
            out.append(p)
            try:
                with open("/proc/%d/task/%d/children" % (p, p)) as f:
                    todo += [int(x) for x in f.read().split()]
            except OSError:
                pass
        return out

    def alive(self):
        pid = self.pid()
        if not pid:
            return False
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def crash(self):
        """SIGKILL to every process of the node at once: a node that dies, nothing sent on the way out."""
        pids = self.pids()
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        end = time.time() + 10
        while time.time() < end and any(os.path.exists("/proc/%d" % p) for p in pids):
            time.sleep(0.05)
        return pids

    def start(self):
        return self.cluster.script("start-node", self.name)

    # -- log ------------------------------------------------------------------------------------
    def log_path(self):
        return os.path.join(self.rundir, "kamailio.log")

    def log_offset(self):
        try:
            return os.path.getsize(self.log_path())
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(self.log_path(), "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    # -- state ----------------------------------------------------------------------------------
    def dialogs(self):
        """{Call-ID: state} from dlg.list (replicated dialogs included)."""
        out = self.kamcmd("dlg.list")
        res = {}
        for block in re.split(r"\bh_entry:", out)[1:]:
            cid = re.search(r"\bcall-id:\s*(\S+)", block)
            st = re.search(r"\bstate:\s*(\d+)", block)
            if cid:
                res[cid.group(1)] = int(st.group(1)) if st else None
        return res

    def lookup(self, did):
        """sbc_tenant.lookup as a dict."""
        res = {}
        for line in self.kamcmd("sbc_tenant.lookup", "s:" + did).splitlines():
            m = re.match(r"\s*(\w+):\s?(.*)$", line)
            if m:
                res[m.group(1)] = m.group(2)
        return res


class Cluster:
    """scripts/cluster.sh with the test environment, the nodes and the shared services."""

    def __init__(self):
        self.env = dict(os.environ)
        self.env.update(CLUSTER_ENV)
        self.nodes = {n: Node(self, n) for n in NODES}
        self.ng = NgClient("127.0.0.1", RTPE_PORT)

    def __getitem__(self, name):
        return self.nodes[name]

    def script(self, *args, timeout=180):
        """scripts/cluster.sh <args>; output through a file (the daemons it starts keep a pipe open)."""
        os.makedirs(RUNDIR, exist_ok=True)
        out_path = os.path.join(RUNDIR, "cluster-%s.out" % "-".join(args))
        with open(out_path, "wb") as out:
            p = subprocess.Popen([os.path.join(REPO, "scripts", "cluster.sh")] + list(args), env=self.env,
                                 cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "timeout after %ds" % timeout
        with open(out_path, errors="replace") as f:
            text = f.read()
        if rc != 0 and args[0] not in ("stop", "status"):
            raise RuntimeError("scripts/cluster.sh %s failed (rc %s):\n%s" % (" ".join(args), rc, text))
        return text

    def start(self):
        return self.script("start")

    def stop(self):
        return self.script("stop")

    def rpc_all(self, *args):
        """scripts/cluster.sh rpc: the one-liner the README gives for per-node commands."""
        r = subprocess.run([os.path.join(REPO, "scripts", "cluster.sh"), "rpc"] + list(args), env=self.env,
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
        return r.returncode, r.stdout

    def sql(self, query):
        r = subprocess.run(["mysql", "--no-defaults", "-S", os.path.join(RUNDIR, "mysql.sock"), "-uroot",
                            "-N", "-B", "kamailio", "-e", query],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=15)
        if r.returncode != 0:
            raise RuntimeError("mysql failed: %s" % r.stderr)
        return [line.split("\t") for line in r.stdout.splitlines()]

    def redis(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "--no-raw"] + [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
        return r.stdout

    def redis_raw(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "--raw"] + [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
        return r.stdout

    # -- rating agent double --------------------------------------------------------------------
    def agent(self, path, body=None):
        url = "http://127.0.0.1:%d%s" % (AGENT_PORT, path)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def agent_requests(self, endpoint=None, tag=None):
        reqs = self.agent("/_requests") or []
        if endpoint is not None:
            reqs = [r for r in reqs if r.get("endpoint") == endpoint]
        if tag is not None:
            reqs = [r for r in reqs if (r.get("body") or {}).get("transaction_tag") == tag]
        return reqs

    # -- helpers --------------------------------------------------------------------------------
    def uac(self, scenario, src_ip, dest, name=None, **kw):
        """A client SIPp (not started) from src_ip to dest (ip, port)."""
        return Sipp(name or scenario.replace(".xml", ""), scenario, src_ip, remote=dest, **kw)

    def diagnose(self, offsets, callid=None, *sipps):
        """Text for an assertion message: SIPp traces and each node's log since offsets {name: offset}."""
        parts = [s.describe() for s in sipps if s is not None]
        for name, off in offsets.items():
            log = self.nodes[name].log_since(off)
            if callid:
                lines = [l for l in log.splitlines() if callid in l]
                parts.append("--- node %s log lines of %s:\n%s" % (name, callid, "\n".join(lines[-30:]) or "(none)"))
            parts.append("--- node %s log since test start (tail):\n%s" % (name, "\n".join(log.splitlines()[-25:])))
        return "\n".join(parts)

    def offsets(self):
        return {n: node.log_offset() for n, node in self.nodes.items()}


def wait_until(fn, timeout, step=0.1):
    """fn() until it returns something true or timeout seconds passed; returns its last value."""
    end = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > end:
            return v
        time.sleep(step)


__all__ = ["sipp_harness", "Cluster", "ClusterPeers", "Node", "wait_until", "CARRIER_IP", "GWS_10", "GW_20",
           "NODES", "SIP_PORT", "RTPE_PRIVATE_IP", "RTPE_PUBLIC_IP"]
