"""Dependency faults while calls run: each dependency of the stack is killed (or stopped) under a live
call, new calls must fail cleanly (exactly one reply) or keep working as documented, and everything
recovers once the dependency is back. Every test restarts what it stopped (scripts/stack.sh start brings
back whatever is not running) and checks the stack is whole again before it ends.

Already proved elsewhere, not repeated here:
  sbc_tenant reload and change tracking with MariaDB stopped      test_29_tenant_db_down.py
  every rating-agent failure mode (timeout, 5xx, garbage, 422,     tests/rating_double/e2e (own Kamailio)
    closed connection) -> exactly one 500, fail open, outbox
    across agent outages and Kamailio restarts, Redis paused
  agent closing the connection through the shipped cfg -> 500     test_40_rating.py
  failover on 503 / on a gateway that never answers, one call     test_05_failover.py
    not marking it inactive
"""
import re
import signal
import subprocess
import time

import agent_control
from hostile_common import ALPHA_DID, OUTBOUND_NUMBER, SIDES, alive, kill_daemon, pid_of, sipwire, wait
from sipp_harness import ALPHA_GWS, BROKEN_GW, CARRIER_IP, PRIVATE, PUBLIC, STACK_ENV
from tenant_common import TenantRows, parse_kamcmd

GAMMA_DID = "4940100001"       # set 40: BROKEN_GW first, then ALPHA_GWS[0]
RECOVERY_BOUND = 10            # s after rtpengine is back by which calls must go through again
DS_PING_INTERVAL = 10          # etc/kamailio-local.cfg dispatcher probing
DS_PROBING_THRESHOLD = 3
DS_INACTIVE_THRESHOLD = 2


def _held_call(sbc, hold_ms, scenario="uac_call_nortp.xml", src=CARRIER_IP, side=PRIVATE, did=ALPHA_DID):
    """A call that is answered now and hangs up after hold_ms (SIPp, started, answered)."""
    off = sbc.stack.log_offset()
    u = sbc.uac(scenario, src, side, name="held", service=did, calls=1, hold_ms=hold_ms).start()
    ans = u.wait_event("ANSWERED", timeout=10)
    assert ans is not None, "held call not answered\n" + sbc.diagnose(off, None, u)
    u.callid = ans["callid"]
    return u


def _one_final(side, did=None, wait_s=10.0, linger=2.0):
    """A raw call from the listed peer of side: (call, its final codes, setup seconds); hung up at once
    if it was answered."""
    s = SIDES[side]
    call = sipwire.Call(s["src"], s["sbc"], did or s["did"])
    code = call.invite(wait=wait_s, linger=linger)
    if code is not None and code < 300:
        assert call.request("BYE") == 200
    call.close()
    return call, [c for c, _ in call.finals], call.setup_time


def _answered_call(sbc, src=CARRIER_IP, side=PRIVATE, did=ALPHA_DID, scenario="uac_call_nortp.xml"):
    off = sbc.stack.log_offset()
    u = sbc.uac(scenario, src, side, name="fault-call", service=did, calls=1, hold_ms=300).run()
    ok = u.rc == 0 and u.events("ANSWERED") and u.events("BYE_OK")
    return u, ok, off


# ---- rtpengine ------------------------------------------------------------------------------------

def test_rtpengine_killed_new_calls_503_then_recovered(sbc):
    held = _held_call(sbc, 7000, scenario="uac_call.xml")
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    kill_daemon("rtpengine")
    try:
        for side in ("private", "public"):
            call, finals, secs = _one_final(side)
            assert finals == [503], "%s: %r\n%s" % (side, finals, sbc.stack.log_lines_for(off, call.callid))
            assert "cause=rtpengine" in sbc.stack.log_lines_for(off, call.callid)
            assert sbc.peers.receivers(mark, call.callid) == []
        held.wait()
        assert held.rc == 0 and held.events("BYE_OK"), "the call in progress did not end normally\n" + \
            sbc.diagnose(off, held.callid, held)
    finally:
        sbc.stack.start()
    restarted_at = time.time()
    # With every rtpengine marked disabled the module tests them again on the next call (it does not
    # wait for RTPE_DISABLE_TOUT when it has nothing else): the first call after the restart works.
    recovered = None
    while time.time() - restarted_at < RECOVERY_BOUND:
        u, ok, _ = _answered_call(sbc, scenario="uac_call.xml")
        if ok:
            recovered = time.time()
            break
        time.sleep(1)
    assert recovered, "no call went through %ds after rtpengine came back\n%s" % (
        RECOVERY_BOUND, sbc.diagnose(off, None, u))
    u, ok, off2 = _answered_call(sbc, src=ALPHA_GWS[0], side=PUBLIC, did=OUTBOUND_NUMBER)
    assert ok, sbc.diagnose(off2, None, u)


# ---- MariaDB --------------------------------------------------------------------------------------

def _cdr_count(sbc, callid):
    return int(sbc.stack.sql("SELECT COUNT(*) FROM acc_cdrs WHERE callid = '%s'" % callid)[0][0])


def _db_answers(sbc):
    try:
        return sbc.stack.sql("SELECT 1") == [["1"]]
    except Exception:
        return False


def test_mariadb_stopped_calls_route_reloads_fail_cleanly(sbc):
    off0 = sbc.stack.log_offset()
    ds_before = sbc.stack.dispatcher_flags()
    held = _held_call(sbc, 4000)
    kill_daemon("mariadb", signal.SIGTERM, timeout=30)
    during = []
    try:
        # Routing runs from memory, both ways, without waiting on the dead database.
        for src, side, did in ((CARRIER_IP, PRIVATE, ALPHA_DID), (ALPHA_GWS[0], PUBLIC, OUTBOUND_NUMBER)):
            t0 = time.time()
            u, ok, off = _answered_call(sbc, src, side, did)
            assert ok and time.time() - t0 < 5, sbc.diagnose(off, None, u)
            during.append(u.events("ANSWERED")[0]["callid"])
        # The ACL still holds (its table is in memory).
        stranger = sipwire.Call("127.0.1.95", PRIVATE, ALPHA_DID)
        assert stranger.invite(linger=0.5) == 403 and [c for c, _ in stranger.finals] == [403]
        stranger.close()
        # Reloads fail, say so, and keep what was loaded.
        out = sbc.stack.kamcmd("dispatcher.reload")
        assert "error" in out.lower(), out
        assert sbc.stack.dispatcher_flags() == ds_before
        out = sbc.stack.kamcmd("permissions.addressReload")
        assert "error" in out.lower() or "fail" in out.lower(), out
        held.wait()
        assert held.rc == 0 and held.events("BYE_OK"), held.describe()
    finally:
        sbc.stack.start()
    assert wait(lambda: _db_answers(sbc), 30), "MariaDB is not back"
    assert "error" not in TenantRows(sbc).dispatcher_reload().lower()
    # New calls get their CDR again (db_mysql reconnects by itself).
    u, ok, off = _answered_call(sbc)
    assert ok, sbc.diagnose(off, None, u)
    callid = u.events("ANSWERED")[0]["callid"]
    assert wait(lambda: _cdr_count(sbc, callid) == 1, 10), "no CDR after MariaDB came back"
    # The CDR rows of the calls during the outage could not be written (acc keeps no queue); each
    # call's event lines (routed, answered, end with tenant, DID, gateway, duration) are in the log.
    log = sbc.stack.log_since(off0)
    for cid in during + [held.callid]:
        assert re.search(r"event=end callid=%s .*duration=" % re.escape(cid), log), cid


# ---- Redis (rating outbox) -------------------------------------------------------------------------

def _ra_stats(sbc):
    return parse_kamcmd(sbc.stack.kamcmd("rating_agent.stats"))["outbox"]


def _redis(*args):
    r = subprocess.run(["redis-cli", "-p", STACK_ENV["SBC_REDIS_PORT"]] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=10)
    return r.stdout.strip()


def _calls(sbc, n, name):
    """n answered inbound calls (SIPp, one after the other at 5/s); their Call-IDs."""
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name=name, service=ALPHA_DID, calls=n, rate=5,
                hold_ms=200).run()
    ids = [e["callid"] for e in u.events("ANSWERED")]
    assert u.rc == 0 and len(ids) == n and len(u.events("BYE_OK")) == n, sbc.diagnose(off, None, u)
    return ids


def test_redis_killed_outbox_falls_back_nothing_acknowledged_lost(sbc):
    """The agent refuses begin/end for now, so every record stays in the outbox. Records written while
    Redis runs are acknowledged by it (AOF); Redis is then killed (SIGKILL): calls go on, their records
    are kept in shared memory (as documented, src/modules/rating_agent/README section 8); Redis comes
    back with every record it had acknowledged, and once the agent takes records again each call's
    begin and end arrive exactly once, in order."""
    # Records of earlier tests' calls still on their way would blur the counts: let them go first.
    agent_control.reset()
    sbc.stack.kamcmd("rating_agent.flush")
    assert wait(lambda: _ra_stats(sbc)["depth"] == "0", 15), _ra_stats(sbc)
    agent_control.rules({"match": {"endpoint": "begin_transaction"}, "action": "error"},
                        {"match": {"endpoint": "end_transaction"}, "action": "error"})
    try:
        st0 = _ra_stats(sbc)
        assert st0["store"] == "redis" and st0["redis_up"] == "1", st0
        in_redis = _calls(sbc, 2, "before-redis-kill")
        assert wait(lambda: int(_ra_stats(sbc)["depth"]) == 4, 10), _ra_stats(sbc)
        acked = {cid: _redis("LLEN", "ra:q:" + cid) for cid in in_redis}
        assert set(acked.values()) == {"2"}, acked
        kill_daemon("redis")
        try:
            in_shm = _calls(sbc, 2, "redis-down")
            assert wait(lambda: int(_ra_stats(sbc)["stored_in_shm"]) >= int(st0["stored_in_shm"]) + 4, 10), \
                _ra_stats(sbc)
        finally:
            sbc.stack.start()
        assert wait(lambda: _redis("PING") == "PONG", 10)
        assert {cid: _redis("LLEN", "ra:q:" + cid) for cid in in_redis} == acked, "Redis lost records it had acknowledged"
        # Redis is back: the next calls' records go to Redis again, also from SIP workers whose link
        # to the old Redis process is stale (one reconnect and retry), none to shared memory.
        st1 = _ra_stats(sbc)
        after = _calls(sbc, 4, "redis-back")
        assert wait(lambda: all(_redis("LLEN", "ra:q:" + cid) == "2" for cid in after), 10), \
            ({cid: _redis("LLEN", "ra:q:" + cid) for cid in after}, _ra_stats(sbc))
        assert _ra_stats(sbc)["stored_in_shm"] == st1["stored_in_shm"], (st1, _ra_stats(sbc))
        in_shm += after
        agent_control.reset()
        sbc.stack.kamcmd("rating_agent.flush")
        assert wait(lambda: int(_ra_stats(sbc)["depth"]) == 0, 30), _ra_stats(sbc)
        for cid in in_redis + in_shm:
            reqs = agent_control.wait_requests(cid, "end_transaction")
            assert [r["endpoint"] for r in reqs] == ["begin_transaction", "end_transaction"], (cid, reqs)
        assert _ra_stats(sbc)["redis_up"] == "1" and int(_ra_stats(sbc)["lost"]) == int(st0["lost"])
    finally:
        agent_control.reset()
        if not alive(pid_of("redis")):
            sbc.stack.start()


# ---- rating agent ---------------------------------------------------------------------------------

def test_rating_agent_slow_garbage_killed_one_reply_live_calls_unaffected(sbc):
    agent_control.reset()
    held = _held_call(sbc, 9000)
    mark = sbc.peers.mark()
    try:
        # Slower than RATING_TIMEOUT_MS (1500): one 500 once the timeout hits, not before, not twice.
        agent_control.rules({"match": {"endpoint": "authorization"}, "action": "allow", "delay_ms": 2500})
        call, finals, secs = _one_final("private", linger=2.5)
        assert finals == [500] and 1.4 <= secs <= 3.0, (finals, secs)
        agent_control.rules({"match": {"endpoint": "authorization"}, "action": "garbage"})
        call2, finals, _ = _one_final("public", linger=1.5)
        assert finals == [500], finals
        kill_daemon("agent")
        try:
            call3, finals, secs = _one_final("private", linger=1.5)
            assert finals == [500] and secs < 2.0, (finals, secs)
            # The live call hangs up while the agent is down: its end record waits in the outbox.
            held.wait()
            assert held.rc == 0 and held.events("BYE_OK"), held.describe()
        finally:
            sbc.stack.start()
        for c in (call, call2, call3):
            assert sbc.peers.receivers(mark, c.callid) == []
        sbc.stack.kamcmd("rating_agent.flush")
        reqs = agent_control.wait_requests(held.callid, "end_transaction", timeout=15)
        assert [r["endpoint"] for r in reqs] == ["end_transaction"], reqs
        u, ok, off = _answered_call(sbc)
        assert ok, sbc.diagnose(off, None, u)
    finally:
        agent_control.reset()
        if not alive(pid_of("agent")):
            sbc.stack.start()


# ---- a gateway that never answers -------------------------------------------------------------------

def _flags(sbc):
    return sbc.stack.dispatcher_flags().get((40, "sip:%s:5060" % BROKEN_GW), "")


def test_silent_gateway_failover_marked_down_only_by_probing(sbc):
    """Gamma's first gateway stops answering INVITEs but still answers probes: every call fails over
    after FR_TIMER and the gateway stays active (calls never mark it). Then it stops answering probes
    too: after DS_PROBING_THRESHOLD failed probes it is inactive and calls go straight to the second
    gateway. Once it answers probes again it is back after DS_INACTIVE_THRESHOLD good ones."""
    sbc.peers.replace(BROKEN_GW, None)
    silent = sipwire.Recorder(BROKEN_GW, invite_code=None)
    try:
        off = sbc.stack.log_offset()
        mark = sbc.peers.mark()
        u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="silent-gw", service=GAMMA_DID, calls=3,
                    rate=3, hold_ms=200).run()
        ids = [e["callid"] for e in u.events("ANSWERED")]
        assert u.rc == 0 and len(ids) == 3, sbc.diagnose(off, None, u)
        for cid in ids:
            assert len(silent.requests("INVITE", cid)) >= 1 and sbc.peers.receivers(mark, cid) == [ALPHA_GWS[0]]
        assert _flags(sbc).startswith("A"), _flags(sbc)

        silent.answer_options = False
        t0 = time.time()
        assert wait(lambda: _flags(sbc).startswith("I"), (DS_PROBING_THRESHOLD + 1) * DS_PING_INTERVAL + 5, 0.5), \
            _flags(sbc)
        down_after = time.time() - t0
        call, finals, secs = _one_final("private", did=GAMMA_DID, linger=0)
        assert finals == [200] and secs < 2.0 and silent.requests("INVITE", call.callid) == [], (finals, secs)

        silent.answer_options = True
        assert wait(lambda: _flags(sbc).startswith("A"), (DS_INACTIVE_THRESHOLD + 1) * DS_PING_INTERVAL + 5, 0.5), \
            _flags(sbc)
        assert down_after >= (DS_PROBING_THRESHOLD - 1) * DS_PING_INTERVAL - 1, down_after
    finally:
        silent.close()
