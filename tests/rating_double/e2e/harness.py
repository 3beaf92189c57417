"""End-to-end harness for the rating_agent module: its own Redis, rating agent double, SIPp UAS
and Kamailio (tests/rating_double/e2e/ra-test.cfg), all on loopback ports of their own.

Addresses (override with the environment):
    Kamailio 127.0.9.2:5097 (RA_E2E_PORT), UAS 127.0.9.3:5097, UAC 127.0.9.1:5097,
    double 127.0.0.1:18097 (RA_E2E_AGENT_PORT), Redis 127.0.0.1:16397 (RA_E2E_REDIS_PORT),
    run dir /tmp/ra-run (RA_E2E_RUNDIR). Module: RA_MODULE_DIR (default: <repo>/build/modules when
    rating_agent.so is there, else the Kamailio source tree in /tmp/ksrc).
Every process started here is stopped here, by pid.
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SYSMODS = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


def module_dir():
    env = os.environ.get("RA_MODULE_DIR")
    if env:
        return env
    built = os.path.join(REPO, "build", "modules")
    if os.path.exists(os.path.join(built, "rating_agent.so")):
        return built
    return "/tmp/ksrc/kamailio-5.6.3/src/modules/rating_agent"


class Stack:
    def __init__(self):
        self.rundir = os.environ.get("RA_E2E_RUNDIR", "/tmp/ra-run")
        self.sip_port = int(os.environ.get("RA_E2E_PORT", "5097"))
        self.agent_port = int(os.environ.get("RA_E2E_AGENT_PORT", "18097"))
        self.redis_port = int(os.environ.get("RA_E2E_REDIS_PORT", "16397"))
        self.kam_ip, self.uas_ip, self.uac_ip = "127.0.9.2", "127.0.9.3", "127.0.9.1"
        self.procs = {}
        self.logs = {}
        self.ncalls = 0
        os.makedirs(self.rundir, exist_ok=True)

    # ---- processes ------------------------------------------------------------------------
    def _spawn(self, name, argv, **kw):
        log = open(os.path.join(self.rundir, name + ".log"), "ab")
        self.logs[name] = log
        # a session (process group) of its own: stop() reaches the children too (sipp under
        # timeout, Kamailio's processes) and nothing else
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, **kw)
        return self.procs[name]

    def stop(self, name, sig=signal.SIGTERM, wait=10):
        p = self.procs.pop(name, None)
        if p is None:
            return
        try:
            os.killpg(p.pid, sig)
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # whatever is left of the group
        except ProcessLookupError:
            pass
        p.wait(timeout=5)
        log = self.logs.pop(name, None)
        if log:
            log.close()

    def stop_all(self):
        for name in ["kamailio", "uas", "uas2", "double", "redis"]:
            self.stop(name)

    def start_redis(self):
        self._spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind",
                              "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--daemonize", "no"])
        wait_for(lambda: self.redis("PING") == "PONG", 10, "redis up")

    def redis(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.redis_port)] + list(args),
                           capture_output=True, text=True)
        return r.stdout.strip()

    def start_double(self):
        self._spawn("double", [sys.executable, os.path.join(HERE, "..", "rating_double.py"),
                               "--listen", "127.0.0.1:%d" % self.agent_port])
        wait_for(self._double_up, 10, "double up")

    def _double_up(self):
        try:
            return self.agent_get("/status")[0] == 204
        except OSError:
            return False

    def start_uas(self):
        self._spawn("uas", ["timeout", "900", "sipp", "-sf", os.path.join(HERE, "uas_ra.xml"),
                            "-i", self.uas_ip, "-p", str(self.sip_port), "-nostdin",
                            "-cp", "18297", "-trace_logs", "-log_file",
                            os.path.join(self.rundir, "uas-events.log")])
        time.sleep(0.5)

    def one_shot_uas(self, ip="127.0.9.4", name="uas2"):
        """A UAS for one call on ip (ra-test.cfg sends R-URI user "limit" there); it exits after
        that call, so its log (<name>-events.log) is complete once it has."""
        log = os.path.join(self.rundir, name + "-events.log")
        if os.path.exists(log):
            os.remove(log)
        self._spawn(name, ["timeout", "120", "sipp", "-sf", os.path.join(HERE, "uas_ra.xml"),
                           "-i", ip, "-p", str(self.sip_port), "-m", "1", "-nostdin",
                           "-cp", "18299", "-trace_logs", "-log_file", log])
        time.sleep(0.5)
        return log

    def start_kamailio(self, cfg=None, **defines):
        defs = {"RA_IP": self.kam_ip, "RA_PORT": str(self.sip_port),
                "RA_UAS": '"sip:%s:%d"' % (self.uas_ip, self.sip_port),
                "RA_AGENT": '"http://127.0.0.1:%d"' % self.agent_port,
                "RA_REDIS": '"redis://127.0.0.1:%d/0"' % self.redis_port,
                "RA_CTL": '"unix:%s/kamailio_ctl"' % self.rundir,
                "RA_MPATH": '"%s:%s"' % (module_dir(), SYSMODS),
                "RA_KEMI_JS": '"%s"' % os.path.join(HERE, "ra-test.js")}
        defs.update({k: v for k, v in defines.items()})
        if "WITH_DLGDB" in defs:
            self._dbtext()
        argv = ["kamailio", "-f", cfg or os.path.join(HERE, "ra-test.cfg"), "-Y", self.rundir, "-P",
                os.path.join(self.rundir, "k.pid"), "-DD", "-E", "-m", "256", "-M", "16"]
        for k, v in defs.items():
            argv += ["-A", k if v is None else "%s=%s" % (k, v)]
        self._spawn("kamailio", argv)
        wait_for(lambda: "uptime" in self.rpc("core.uptime"), 20, "kamailio up")
        # the module's own processes are up when the sender published its first gauges
        wait_for(lambda: "gauges_age_ms: -1" not in self.rpc("rating_agent.stats"), 10,
                 "rating_agent sender up")

    def _dbtext(self):
        """db_text files for the dialog table (kept across restarts, empty at first use)."""
        d = os.path.join(self.rundir, "dbtext")
        if not os.path.isdir(d):
            os.makedirs(d)
            for t in ("version", "dialog", "dialog_vars"):
                with open(os.path.join("/usr/share/kamailio/dbtext/kamailio", t)) as f:
                    data = f.read()
                with open(os.path.join(d, t), "w") as f:
                    f.write(data)

    def stop_kamailio(self):
        self.stop("kamailio", wait=20)

    def rpc(self, *args):
        r = subprocess.run(["kamcmd", "-s", "unix:%s/kamailio_ctl" % self.rundir] + list(args),
                           capture_output=True, text=True, timeout=10)
        return r.stdout + r.stderr

    def stats(self):
        """rating_agent.stats as a flat dict {section.key: value}."""
        out, sec = {}, ""
        for line in self.rpc("rating_agent.stats").splitlines():
            line = line.strip()
            if line.endswith(": {"):
                sec = line[:-3] + "."
            elif ":" in line:
                k, v = line.split(":", 1)
                v = v.strip()
                out[sec + k.strip()] = int(v) if v.lstrip("-").isdigit() else v
        return out

    # ---- the agent double -----------------------------------------------------------------
    def agent_get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.agent_port, timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()

    def agent_post(self, path, body):
        c = http.client.HTTPConnection("127.0.0.1", self.agent_port, timeout=5)
        c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()

    def rules(self, *rules):
        st, _ = self.agent_post("/_control", {"rules": list(rules)})
        assert st == 200

    def reset_agent(self):
        self.agent_post("/_reset", {})

    def requests(self, tag=None):
        st, body = self.agent_get("/_requests")
        assert st == 200
        reqs = json.loads(body)
        if tag is not None:
            reqs = [r for r in reqs if (r.get("body") or {}).get("transaction_tag") == tag]
        return reqs

    # ---- calls ----------------------------------------------------------------------------
    def call(self, account, expect=200, hold_ms=1000, service="4930123", calls=1, rate=10,
             timeout=60):
        """Run SIPp UAC; expect: 200 (answered, caller hangs up after hold_ms), "bye" (answered,
        the SBC hangs up), "cancel" (caller cancels after hold_ms, 487) or a final code. Returns (sipp exit code, [Call-IDs], [final codes])."""
        self.ncalls += 1
        tag = "c%d" % self.ncalls
        events = os.path.join(self.rundir, "uac-%s.log" % tag)
        for old in (events, events + ".err"):
            if os.path.exists(old):
                os.remove(old)
        if isinstance(expect, int) and expect != 200:
            sf = os.path.join(self.rundir, "uac_final_%d.xml" % expect)
            with open(os.path.join(HERE, "uac_ra_final.xml.in")) as f:
                tpl = f.read()
            with open(sf, "w") as f:
                f.write(tpl.replace("@CODE@", str(expect)))
            extra = []
        else:
            sf = os.path.join(HERE, {"bye": "uac_ra_wait_bye.xml",
                                     "cancel": "uac_ra_cancel.xml"}.get(expect, "uac_ra.xml"))
            extra = ["-d", str(hold_ms)]
        argv = ["timeout", str(timeout), "sipp", "-sf", sf, "-s", service, "-set", "account",
                account, "-i", self.uac_ip, "-p", str(self.sip_port), "-m", str(calls),
                "-r", str(rate), "-l", str(max(calls, 1)), "-cp", "18298", "-nostdin",
                "-recv_timeout", "20000", "-trace_logs", "-log_file", events,
                "-trace_err", "-error_file", events + ".err",
                "-cid_str", tag + "-%u-%p@" + self.uac_ip,
                "%s:%d" % (self.kam_ip, self.sip_port)] + extra
        r = subprocess.run(argv, capture_output=True, text=True)
        cids, codes = [], []
        if os.path.exists(events):
            with open(events) as f:
                for line in f:
                    if line.startswith("EVENT=FINAL"):
                        kv = dict(p.split("=", 1) for p in line.split() if "=" in p)
                        codes.append(int(kv["code"]))
                        cids.append(kv["callid"])
        return r.returncode, cids, codes


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if pred():
                return
        except Exception:  # noqa: BLE001 - a service coming up may refuse for a while
            pass
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)
