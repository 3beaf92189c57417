#!/usr/bin/env python3
"""Hostile soak: the SIPp suite's stack under steady calls, replays of the corpus, stranger floods and
repeated dependency faults for a bounded time; then nothing may be lost or left behind.

    make soak                                    (SOAK_ARGS="--minutes 30 --cps 8" make soak)
    /usr/bin/python3 tests/hostile/soak.py [--minutes 10] [--chunk 20] [--cps 6] [--fault-every 2]
                                           [--faults rtpengine,redis,mariadb,agent] [--outage 8] [--no-flood]
                                           [--reload-every 5]

Time runs in chunks of --chunk seconds. Every chunk carries inbound calls (carrier -> alpha) at --cps
and outbound calls (gateway -> carrier) at half that, short holds. A chunk is either
  quiet     the non-relayed corpus entries (tests/hostile/corpus: every reply or drop, all four
            transport/socket combinations) are replayed and must all get their expected outcome, and
            two strangers flood both sockets with INVITEs (pike must cut them): every call completes;
  a fault   one dependency is killed (rtpengine, Redis, agent: SIGKILL) or stopped (MariaDB: SIGTERM)
            for --outage seconds, then restarted (scripts/stack.sh start): calls must complete when the
            dependency is not on the call path (Redis, MariaDB), may fail while it is (rtpengine, the
            rating agent: fail closed) and in the recovery chunk after rtpengine;
and faults come every --fault-every chunks, in the order of --faults. Throughout, every --reload-every
seconds the routing data is reloaded the way operators do it: a did_routing row is edited (its
description), `sbc_tenant.reload` and `dispatcher.reload` run (dispatcher refuses a reload within 5 s of
the previous one; that refusal is counted, not a problem). At the end, after a settling pause: the same
Kamailio process is running and logged no crash, no dialog or rtpengine session is left, the rating
outbox is empty and every answered call's begin and end reached the agent once, in order (a record is
sent once more only where rating_agent logged that Redis went away between its delivery and its
removal: at-least-once, same tag and timestamps), no reload failed; shared memory (core.shmmem) and private memory (pkg.stats, summed over every process)
in use before and after are printed with the change per call. Exit status 0 when all of that holds and
no call failed outside a fault; the report lists every count.

It takes the SIPp suite's lock (/tmp/sbc-test.lock) and its stack (tests/sipp/sipp_harness.py), so it
never runs at the same time as make test.
"""
import argparse
import os
import re
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sipp"))

import agent_control  # noqa: E402
import sipp_harness as harness  # noqa: E402
from hostile_common import (ALPHA_DID, OUTBOUND_NUMBER, Flood, crash_lines, kill_daemon, shot,  # noqa: E402
                            sipwire, wait)
from sipp_harness import ALPHA_GWS, CARRIER_IP, PRIVATE, PUBLIC  # noqa: E402
from tenant_common import parse_kamcmd  # noqa: E402

# the double's list of every request of a long soak (three per call) takes a while to serialize
REQUESTS_TIMEOUT = 300
# rating_agent's warning when Redis went away between a delivery and the removal of the record: the
# record is sent again (at least once; same tag and timestamps)
RESENT_RE = re.compile(r"could not remove the delivered (begin|end) record of Call-ID (\S+) from redis: "
                       r"it will be sent again")

FAULTS = {
    # name: (pid file, signal, calls may fail while it is down)
    "rtpengine": ("rtpengine", signal.SIGKILL, True),
    "redis": ("redis", signal.SIGKILL, False),
    "mariadb": ("mariadb", signal.SIGTERM, False),
    "agent": ("agent", signal.SIGKILL, True),
}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--chunk", type=int, default=20, help="seconds per chunk (default 20)")
    ap.add_argument("--cps", type=float, default=6.0, help="inbound calls per second (outbound: half)")
    ap.add_argument("--fault-every", type=int, default=2, help="a fault every N chunks (0: none)")
    ap.add_argument("--faults", default="rtpengine,redis,mariadb,agent")
    ap.add_argument("--outage", type=float, default=8.0, help="seconds a dependency stays down")
    ap.add_argument("--no-flood", action="store_true", help="no stranger floods in quiet chunks")
    ap.add_argument("--reload-every", type=float, default=5.0,
                    help="seconds between routing reloads (0: none)")
    args = ap.parse_args(argv)
    if args.minutes * 60 < 2 * args.chunk:
        ap.error("--minutes must hold at least two chunks (the first one warms up)")
    args.faults = [f for f in args.faults.split(",") if f]
    for f in args.faults:
        if f not in FAULTS:
            ap.error("unknown fault %r (known: %s)" % (f, ", ".join(FAULTS)))
    return args


class Soak:
    def __init__(self, sbc, args):
        self.sbc = sbc
        self.args = args
        self.corpus = [e for e in sipwire.load_corpus()
                       if all(sipwire.RELAYED not in e.expect(p, s) for p in e.transports for s in e.sides)]
        self.answered = []          # Call-IDs of every answered call
        self.totals = {"calls": 0, "answered": 0, "failed_in_fault": 0, "failed_unexpected": 0,
                       "corpus_sent": 0, "corpus_wrong": 0, "flood_sent": 0, "flood_replies": 0,
                       "faults": 0}
        self.problems = []
        self.agent_seen = []        # /_requests of agent processes killed during the soak
        self.reloads = {"sbc_tenant": 0, "sbc_tenant_failed": 0, "dispatcher": 0, "dispatcher_refused": 0}
        self.stop_reloads = threading.Event()

    # -- traffic --------------------------------------------------------------------------------
    def calls(self, seconds):
        a = self.args
        n_in = max(1, int(a.cps * seconds))
        n_out = max(1, int(a.cps / 2 * seconds))
        return [(self.sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="soak-in", service=ALPHA_DID,
                              calls=n_in, rate=a.cps, hold_ms=300, timeout=seconds + 60).start(), n_in),
                (self.sbc.uac("uac_call_nortp.xml", ALPHA_GWS[0], PUBLIC, name="soak-out",
                              service=OUTBOUND_NUMBER, calls=n_out, rate=a.cps / 2, hold_ms=300,
                              timeout=seconds + 60).start(), n_out)]

    def count_calls(self, uacs, may_fail, label):
        line = []
        for u, total in uacs:
            u.wait()
            ok = {e["callid"] for e in u.events("ANSWERED")} & {e["callid"] for e in u.events("BYE_OK")}
            self.totals["calls"] += total
            self.totals["answered"] += len(ok)
            self.answered += sorted(ok)
            failed = total - len(ok)
            if failed:
                if may_fail:
                    self.totals["failed_in_fault"] += failed
                else:
                    self.totals["failed_unexpected"] += failed
                    self.problems.append("%s: %d of %d calls failed (%s)" % (label, failed, total, u.log_file))
            line.append("%s %d/%d" % (u.name, len(ok), total))
        return ", ".join(line)

    def replay_corpus(self):
        shots = [shot(e, p, s) for e in self.corpus for p in e.transports for s in e.sides]
        sipwire.send(shots, wait_for=lambda s: sipwire.DROPPED not in s.entry.expect(s.proto, s.side),
                     quiet=1.5, deadline=15.0, spacing=0.005)
        wrong = ["%s/%s/%s: %s" % (s.entry.name, s.proto, s.side, s.outcome()) for s in shots
                 if s.outcome() not in s.entry.expect(s.proto, s.side)]
        self.totals["corpus_sent"] += len(shots)
        self.totals["corpus_wrong"] += len(wrong)
        self.problems += ["corpus: " + w for w in wrong]
        return "corpus %d/%d" % (len(shots) - len(wrong), len(shots))

    # -- reloads --------------------------------------------------------------------------------
    def reload_loop(self):
        """Operators' reloads while the calls run. A failure while MariaDB is down is expected (the old
        index stays); any other failed reload is a problem."""
        k = 0
        while not self.stop_reloads.wait(self.args.reload_every):
            k += 1
            stack = self.sbc.stack
            db_up = self.db_answers()
            try:
                if db_up:
                    stack.sql("UPDATE did_routing SET description = 'soak reload %d' WHERE did = '%s'"
                              % (k, ALPHA_DID))
                stack.kamcmd("sbc_tenant.reload")
                self.reloads["sbc_tenant"] += 1
            except RuntimeError as e:
                if db_up and self.db_answers():
                    self.reloads["sbc_tenant_failed"] += 1
                    self.problems.append("sbc_tenant.reload %d failed with the database up: %s" % (k, e))
            try:
                stack.kamcmd("dispatcher.reload")
                self.reloads["dispatcher"] += 1
            except RuntimeError:
                self.reloads["dispatcher_refused"] += 1

    def left_up(self):
        """(dialogs, transactions, rtpengine sessions) still up: counts, not lists (dlg.list of a busy
        SBC is larger than kamcmd takes)."""
        stack = self.sbc.stack
        dlgs = int(stack.kamcmd("stats.get_statistics", "active_dialogs").split("=")[-1])
        trans = int(parse_kamcmd(stack.kamcmd("tm.stats"))["current"])
        return dlgs, trans, len(stack.rtpe_calls())

    def memory(self):
        """Memory in use once no call, transaction or media session is left."""
        wait(lambda: self.left_up() == (0, 0, 0), 40, 0.5)
        stack = self.sbc.stack
        shm = parse_kamcmd(stack.kamcmd("core.shmmem"))
        pkg = [int(x) for x in re.findall(r"^\s*real_used:\s*(\d+)", stack.kamcmd("pkg.stats"), re.M)]
        return {"shm": int(shm["real_used"]), "shm_max": int(shm["max_used"]), "pkg": sum(pkg),
                "pkg_procs": len(pkg)}

    # -- chunks ---------------------------------------------------------------------------------
    def quiet_chunk(self, label, may_fail=False):
        seconds = self.args.chunk
        uacs = self.calls(seconds)
        floods = []
        if not self.args.no_flood and not may_fail:
            floods = [Flood("127.0.1.97", PRIVATE, seconds / 2, 200), Flood("127.0.2.97", PUBLIC, seconds / 2, 200)]
            for f in floods:
                f.start()
        extra = self.replay_corpus() if not may_fail else "corpus skipped"
        for f in floods:
            f.join(seconds)
            self.totals["flood_sent"] += f.sent
            self.totals["flood_replies"] += sum(f.replies.values())
            if set(f.replies) - {403} or f.replies.get(403, 0) > 64:
                self.problems.append("%s: flood from %s not cut: %d sent, replies %r" % (label, f.src, f.sent,
                                                                                         f.replies))
        return "%s; %s%s" % (self.count_calls(uacs, may_fail, label), extra,
                             "; floods %s" % [(f.sent, f.replies) for f in floods] if floods else "")

    def fault_chunk(self, name, label):
        pidfile, sig, calls_may_fail = FAULTS[name]
        seconds = self.args.chunk
        uacs = self.calls(seconds)
        time.sleep(min(2.0, seconds / 4))
        if name == "agent":
            self.save_agent_requests()
        kill_daemon(pidfile, sig, timeout=30)
        time.sleep(self.args.outage)
        try:
            self.sbc.stack.start()
        except RuntimeError as e:
            self.problems.append("%s: %s" % (label, str(e)[-500:]))
        self.totals["faults"] += 1
        if name == "mariadb":
            wait(lambda: self.db_answers(), 30)
        return "%s down %.0fs; %s" % (name, self.args.outage, self.count_calls(uacs, calls_may_fail, label))

    def db_answers(self):
        try:
            return self.sbc.stack.sql("SELECT 1") == [["1"]]
        except Exception:
            return False

    def save_agent_requests(self):
        """The double keeps what it received in memory only: read it before its process is killed (the
        outbox sends nothing meanwhile: every request is refused by closing the connection)."""
        agent_control.rules({"match": {"endpoint": "*"}, "action": "close"})
        time.sleep(1.0)
        self.agent_seen += agent_control.agent("GET", "/_requests", timeout=REQUESTS_TIMEOUT)

    # -- the run --------------------------------------------------------------------------------
    def run(self):
        a = self.args
        stack = self.sbc.stack
        pid = stack.kamailio_pid()
        off = stack.log_offset()
        mem0 = None
        out0 = parse_kamcmd(stack.kamcmd("rating_agent.stats"))["outbox"]
        end = time.time() + a.minutes * 60
        k = 0
        grace = False
        faults = list(a.faults)
        print("soak: %.1f min, chunks of %ds, %.1f calls/s in + %.1f out, faults %s every %d chunks, outage %.0fs,"
              " reloads every %.0fs" % (a.minutes, a.chunk, a.cps, a.cps / 2, ",".join(faults) or "none",
                                        a.fault_every, a.outage, a.reload_every), flush=True)
        reloader = threading.Thread(target=self.reload_loop, daemon=True)
        if a.reload_every > 0:
            reloader.start()
        while time.time() + a.chunk <= end:
            k += 1
            label = "chunk %d" % k
            t0 = time.time()
            if a.fault_every and faults and k % a.fault_every == 0:
                name = faults[(k // a.fault_every - 1) % len(faults)]
                text = self.fault_chunk(name, label)
                grace = name == "rtpengine"
                label += " [%s]" % name
            else:
                text = self.quiet_chunk(label, may_fail=grace)
                if grace:
                    label += " [recovery]"
                grace = False
            print("%-22s %5.1fs  %s" % (label, time.time() - t0, text), flush=True)
            if mem0 is None:
                # The first chunk warms up (per-process caches, first reloads): memory is compared from here.
                mem0 = self.memory()
                mem0["calls"] = self.totals["calls"]
        self.stop_reloads.set()
        if reloader.is_alive():
            reloader.join(60)
        self.final_checks(pid, off, mem0, out0)

    def final_checks(self, pid, off, mem0, out0):
        stack = self.sbc.stack
        # Everything restarted and settled: outbox drained, calls ended. (No /_reset: it would clear
        # what the running double received.)
        agent_control.rules()
        stack.kamcmd("rating_agent.flush")
        drained = wait(lambda: parse_kamcmd(stack.kamcmd("rating_agent.stats"))["outbox"]["depth"] == "0", 60, 0.5)
        settled = wait(lambda: self.left_up() == (0, 0, 0), 40, 0.5)
        mem1 = self.memory()
        out1 = parse_kamcmd(stack.kamcmd("rating_agent.stats"))["outbox"]
        t = self.totals
        print("\nsoak report")
        r = self.reloads
        print("  reloads: sbc_tenant %d (%d failed with the database up), dispatcher %d (%d refused: reload_delta)"
              % (r["sbc_tenant"], r["sbc_tenant_failed"], r["dispatcher"], r["dispatcher_refused"]))
        calls = max(1, t["calls"] - mem0["calls"])
        print("  memory after the first chunk -> at the end, over %d calls:" % calls)
        print("  shm real_used: %d -> %d bytes (%+d, %+.2f per call; max_used %.1f MB)"
              % (mem0["shm"], mem1["shm"], mem1["shm"] - mem0["shm"], (mem1["shm"] - mem0["shm"]) / calls,
                 mem1["shm_max"] / 1e6))
        print("  pkg real_used, %d processes: %d -> %d bytes (%+d, %+.2f per call)"
              % (mem1["pkg_procs"], mem0["pkg"], mem1["pkg"], mem1["pkg"] - mem0["pkg"],
                 (mem1["pkg"] - mem0["pkg"]) / calls), flush=True)
        if stack.kamailio_pid() != pid or not stack.kamailio_alive():
            self.problems.append("Kamailio restarted or died (pid %s -> %s)" % (pid, stack.kamailio_pid()))
        crashes = crash_lines(self.sbc, off)
        self.problems += ["crash: " + c for c in crashes[:10]]
        if not drained:
            self.problems.append("rating outbox not drained: %r" % out1)
        if not settled:
            self.problems.append("left behind: %d dialogs, %d transactions, rtpengine sessions %r"
                                 % (self.left_up()[:2] + (list(stack.rtpe_calls())[:10],)))
        # begin/end of every answered call: exactly once each, begin first; once more only where the
        # module said it would send a delivered record again.
        resent = {}
        for kind, callid in RESENT_RE.findall(stack.log_since(off)):
            resent.setdefault(callid, {"begin": 0, "end": 0})[kind] += 1
        seen = {}
        for r in self.agent_seen + agent_control.agent("GET", "/_requests", timeout=REQUESTS_TIMEOUT):
            body = r.get("body")
            if isinstance(body, dict) and r.get("status") == 200 and r["endpoint"] in ("begin_transaction",
                                                                                        "end_transaction"):
                seen.setdefault(body.get("transaction_tag"), []).append(r["endpoint"])
        def expected(c):
            again = resent.get(c, {"begin": 0, "end": 0})
            return ["begin_transaction"] * (1 + again["begin"]) + ["end_transaction"] * (1 + again["end"])
        missing = [c for c in self.answered if seen.get(c) != expected(c)]
        self.problems += ["rating records of %s: %r" % (c, seen.get(c)) for c in missing[:10]]
        lost = int(out1["lost"]) - int(out0["lost"])
        if lost:
            self.problems.append("rating_agent counts %d records lost" % lost)
        print("  calls: %d placed, %d answered, %d failed during faults (expected), %d failed otherwise"
              % (t["calls"], t["answered"], t["failed_in_fault"], t["failed_unexpected"]))
        print("  faults: %d; corpus: %d sent, %d wrong; floods: %d INVITEs sent, %d replies"
              % (t["faults"], t["corpus_sent"], t["corpus_wrong"], t["flood_sent"], t["flood_replies"]))
        print("  rating: %d answered calls, %d with begin+end once each in order (%d records sent again after"
              " a lost acknowledgment, as logged); outbox %s -> %s delivered, %s stored in shm, %s lost"
              % (len(self.answered), len(self.answered) - len(missing),
                 sum(v["begin"] + v["end"] for v in resent.values()), out0["delivered"], out1["delivered"],
                 out1["stored_in_shm"], out1["lost"]))
        print("  Kamailio pid %s, crash lines %d, left up: %d dialogs, %d transactions, %d rtpengine sessions"
              % ((stack.kamailio_pid(), len(crashes)) + self.left_up()))
        for p in self.problems[:40]:
            print("  PROBLEM: " + p)
        print("soak: %s" % ("OK" if not self.problems else "%d problems" % len(self.problems)))
        return not self.problems


def main(argv=None):
    args = parse_args(argv)
    timeout = int(args.minutes * 60) + 600
    with harness.suite_lock(float(os.environ.get("SBC_TEST_LOCK_WAIT", "1800"))):
        stack = harness.Stack()
        peers = harness.Peers()
        stack.stop()
        harness.reset_log_dir()
        try:
            for ip, scen in harness.PEER_SCENARIOS.items():
                peers.start_one(ip, scen, timeout=timeout)
            time.sleep(0.5)
            peers.check_alive()
            stack.start()
            soak = Soak(harness.Sbc(stack, peers), args)
            soak.run()
            return 0 if not soak.problems else 1
        finally:
            if os.environ.get("SBC_TEST_KEEP") != "1":
                try:
                    stack.stop()
                finally:
                    peers.stop()


if __name__ == "__main__":
    sys.exit(main())
