#!/usr/bin/env python3
"""Hostile soak: the SIPp suite's stack under steady calls, replays of the corpus, stranger floods and
repeated dependency faults for a bounded time; then nothing may be lost or left behind.

    make soak                                    (SOAK_ARGS="--minutes 30 --cps 8" make soak)
    /usr/bin/python3 tests/hostile/soak.py [--minutes 10] [--chunk 20] [--cps 6] [--fault-every 2]
                                           [--faults rtpengine,redis,mariadb,agent] [--outage 8] [--no-flood]

Time runs in chunks of --chunk seconds. Every chunk carries inbound calls (carrier -> alpha) at --cps
and outbound calls (gateway -> carrier) at half that, short holds. A chunk is either
  quiet     the non-relayed corpus entries (tests/hostile/corpus: every reply or drop, all four
            transport/socket combinations) are replayed and must all get their expected outcome, and
            two strangers flood both sockets with INVITEs (pike must cut them): every call completes;
  a fault   one dependency is killed (rtpengine, Redis, agent: SIGKILL) or stopped (MariaDB: SIGTERM)
            for --outage seconds, then restarted (scripts/stack.sh start): calls must complete when the
            dependency is not on the call path (Redis, MariaDB), may fail while it is (rtpengine, the
            rating agent: fail closed) and in the recovery chunk after rtpengine;
and faults come every --fault-every chunks, in the order of --faults. At the end, after a settling
pause: the same Kamailio process is running and logged no crash, no dialog or rtpengine session is
left, the rating outbox is empty and every answered call's begin and end reached the agent exactly
once, in order; shared memory in use before and after is printed. Exit status 0 when all of that
holds and no call failed outside a fault; the report lists every count.

It takes the SIPp suite's lock (/tmp/sbc-test.lock) and its stack (tests/sipp/sipp_harness.py), so it
never runs at the same time as make test.
"""
import argparse
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sipp"))

import agent_control  # noqa: E402
import sipp_harness as harness  # noqa: E402
from hostile_common import (ALPHA_DID, OUTBOUND_NUMBER, Flood, crash_lines, kill_daemon, shot,  # noqa: E402
                            sipwire, wait)
from sipp_harness import ALPHA_GWS, CARRIER_IP, PRIVATE, PUBLIC  # noqa: E402
from tenant_common import parse_kamcmd  # noqa: E402

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
    args = ap.parse_args(argv)
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
        self.agent_seen += agent_control.agent("GET", "/_requests")

    # -- the run --------------------------------------------------------------------------------
    def run(self):
        a = self.args
        stack = self.sbc.stack
        pid = stack.kamailio_pid()
        off = stack.log_offset()
        shm0 = parse_kamcmd(stack.kamcmd("core.shmmem"))
        out0 = parse_kamcmd(stack.kamcmd("rating_agent.stats"))["outbox"]
        end = time.time() + a.minutes * 60
        k = 0
        grace = False
        faults = list(a.faults)
        print("soak: %.1f min, chunks of %ds, %.1f calls/s in + %.1f out, faults %s every %d chunks, outage %.0fs"
              % (a.minutes, a.chunk, a.cps, a.cps / 2, ",".join(faults) or "none", a.fault_every, a.outage),
              flush=True)
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
        self.final_checks(pid, off, shm0, out0)

    def final_checks(self, pid, off, shm0, out0):
        stack = self.sbc.stack
        # Everything restarted and settled: outbox drained, calls ended. (No /_reset: it would clear
        # what the running double received.)
        agent_control.rules()
        stack.kamcmd("rating_agent.flush")
        drained = wait(lambda: parse_kamcmd(stack.kamcmd("rating_agent.stats"))["outbox"]["depth"] == "0", 60, 0.5)
        settled = wait(lambda: not stack.dialog_callids() and not stack.rtpe_calls(), 30, 0.5)
        shm1 = parse_kamcmd(stack.kamcmd("core.shmmem"))
        out1 = parse_kamcmd(stack.kamcmd("rating_agent.stats"))["outbox"]
        if stack.kamailio_pid() != pid or not stack.kamailio_alive():
            self.problems.append("Kamailio restarted or died (pid %s -> %s)" % (pid, stack.kamailio_pid()))
        crashes = crash_lines(self.sbc, off)
        self.problems += ["crash: " + c for c in crashes[:10]]
        if not drained:
            self.problems.append("rating outbox not drained: %r" % out1)
        if not settled:
            self.problems.append("left behind: dialogs %r, rtpengine sessions %r"
                                 % (stack.dialog_callids()[:10], list(stack.rtpe_calls())[:10]))
        # begin/end of every answered call: exactly once each, begin first.
        seen = {}
        for r in self.agent_seen + agent_control.agent("GET", "/_requests"):
            body = r.get("body")
            if isinstance(body, dict) and r.get("status") == 200 and r["endpoint"] in ("begin_transaction",
                                                                                        "end_transaction"):
                seen.setdefault(body.get("transaction_tag"), []).append(r["endpoint"])
        missing = [c for c in self.answered if seen.get(c) != ["begin_transaction", "end_transaction"]]
        self.problems += ["rating records of %s: %r" % (c, seen.get(c)) for c in missing[:10]]
        lost = int(out1["lost"]) - int(out0["lost"])
        if lost:
            self.problems.append("rating_agent counts %d records lost" % lost)
        t = self.totals
        print("\nsoak report")
        print("  calls: %d placed, %d answered, %d failed during faults (expected), %d failed otherwise"
              % (t["calls"], t["answered"], t["failed_in_fault"], t["failed_unexpected"]))
        print("  faults: %d; corpus: %d sent, %d wrong; floods: %d INVITEs sent, %d replies"
              % (t["faults"], t["corpus_sent"], t["corpus_wrong"], t["flood_sent"], t["flood_replies"]))
        print("  rating: %d answered calls, %d with begin+end exactly once; outbox %s -> %s delivered, "
              "%s stored in shm, %s lost" % (len(self.answered), len(self.answered) - len(missing),
                                            out0["delivered"], out1["delivered"], out1["stored_in_shm"],
                                            out1["lost"]))
        print("  shm real_used: %.1f MB -> %.1f MB (max_used %.1f MB)"
              % (int(shm0["real_used"]) / 1e6, int(shm1["real_used"]) / 1e6, int(shm1["max_used"]) / 1e6))
        print("  Kamailio pid %s, crash lines %d, dialogs left %d, rtpengine sessions left %d"
              % (stack.kamailio_pid(), len(crashes), len(stack.dialog_callids()), len(stack.rtpe_calls())))
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
