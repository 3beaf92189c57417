"""sbc_tenant per-tenant limits through the cfg (route INBOUND: sbc_tenant_check_limits() after the lookup).

  max_calls  concurrent calls, counted through the dialog module: a call at the limit gets 486 Busy Here;
             every way a call can end gives its slot back (BYE, 503 from the gateway, CANCEL, timeout).
  max_cps    token bucket of max_cps calls refilled at max_cps per second: the excess of a burst gets
             503 with Retry-After: 1.
  Limits change on reload (change tracking) without resetting the live counters.
"""
import re
import time

import pytest

from sipp_harness import CARRIER_IP, PEER_PORT, PRIVATE, SilentPeer
from tenant_common import GW_A, GW_C, GW_D, GW_SILENT, TenantRows

SET_OK = 4120     # GW_A answers
SET_503 = 4121    # GW_C answers 503
SET_RING = 4122   # GW_D rings forever

DID_LIM = "4999200001"      # t4-lim   max_calls 2
DID_LIM2 = "4999200002"     # t4-lim2  max_calls 1 (changed by the reload test)
DID_REL_OK = "4999200010"   # t4-rel   max_calls 1: answered
DID_REL_503 = "4999200011"  #                       gateway says 503 (relayed as 500)
DID_REL_RING = "4999200012"  #                      rings, caller CANCELs
DID_REL_SILENT = "4999200013"  #                    gateway never answers: 408
DID_CPS = "4999200020"      # t4-cps   max_cps 5


@pytest.fixture(scope="module")
def rows(sbc):
    r = TenantRows(sbc)
    try:
        r.gateway(GW_A)
        r.gateway(GW_C, "uas_503.xml")
        r.gateway(GW_D, "uas_ring_noanswer.xml")
        r.dispatcher_set(SET_OK, [GW_A], reload=False)
        r.dispatcher_set(SET_503, [GW_C], reload=False)
        r.dispatcher_set(SET_RING, [GW_D])
        r.lim = r.tenant("t4-lim", SET_OK, max_calls=2)
        r.lim2 = r.tenant("t4-lim2", SET_OK, max_calls=1)
        r.rel = r.tenant("t4-rel", SET_OK, max_calls=1)
        r.cps = r.tenant("t4-cps", SET_OK, max_cps=5)
        r.did(DID_LIM, r.lim)
        r.did(DID_LIM2, r.lim2)
        r.did(DID_REL_OK, r.rel)
        r.did(DID_REL_503, r.rel, group=SET_503)
        r.did(DID_REL_RING, r.rel, group=SET_RING)
        r.did(DID_REL_SILENT, r.rel, uri="sip:%s:%d" % (GW_SILENT, PEER_PORT))
        r.did(DID_CPS, r.cps)
        got = r.wait_lookup(DID_CPS, lambda x: x.get("tenant") == "t4-cps")
        assert got.get("code") == "1", got
        yield r
    finally:
        errors = r.cleanup()
        assert not errors, errors


def _answered(sbc, u, off, timeout=10):
    ev = u.wait_event("ANSWERED", timeout=timeout)
    assert ev is not None, "call not answered\n" + sbc.diagnose(off, None, u)
    return ev["callid"]


def _final(u):
    fin = u.events("FINAL")
    return int(fin[0]["code"]) if fin else None


def test_max_calls_third_call_busy_then_passes_after_hangup(sbc, rows):
    off = sbc.stack.log_offset()
    before = rows.stats()["limits"]
    mark = sbc.peers.mark()
    u1 = rows.start_call(DID_LIM, hold_ms=3000, name="t4-lim-1")
    u2 = rows.start_call(DID_LIM, hold_ms=9000, name="t4-lim-2")
    c1 = _answered(sbc, u1, off)
    c2 = _answered(sbc, u2, off)
    assert rows.wait_live_calls(rows.lim, 2) == 2, rows.tenant_counters(rows.lim)
    assert sbc.peers.receivers(mark, c1) == [GW_A] and sbc.peers.receivers(mark, c2) == [GW_A]

    # Third concurrent call: 486 from the SBC, never sent to the gateway.
    mark3 = sbc.peers.mark()
    u3 = rows.expect(DID_LIM, 486, name="t4-lim-3")
    c3 = u3.events("FINAL")[0]["callid"] if u3.events("FINAL") else None
    assert u3.rc == 0 and _final(u3) == 486, sbc.diagnose(off, c3, u3)
    assert sbc.peers.receivers(mark3) == [], "the refused call reached a gateway"
    assert rows.live_calls(rows.lim) == 2

    # The first call hangs up: its slot is free again, a new call passes.
    u1.wait()
    assert u1.rc == 0, u1.describe()
    assert rows.wait_live_calls(rows.lim, 1) == 1, rows.tenant_counters(rows.lim)
    mark4 = sbc.peers.mark()
    u4 = rows.call(DID_LIM, hold_ms=200, name="t4-lim-4")
    c4 = u4.events("ANSWERED")[0]["callid"] if u4.events("ANSWERED") else None
    assert u4.rc == 0 and c4, sbc.diagnose(off, c4, u4)
    assert sbc.peers.receivers(mark4, c4) == [GW_A]

    u2.wait()
    assert u2.rc == 0, u2.describe()
    assert rows.wait_live_calls(rows.lim, 0) == 0, rows.tenant_counters(rows.lim)
    t = rows.tenant_counters(rows.lim)
    assert (t["max_calls"], t["rejected_calls"], t["accepted"]) == ("2", "1", "3"), t
    after = rows.stats()["limits"]
    assert int(after["rejected_calls"]) == int(before["rejected_calls"]) + 1, (before, after)


def test_limits_change_on_reload_without_resetting_counters(sbc, rows):
    off = sbc.stack.log_offset()
    u1 = rows.start_call(DID_LIM2, hold_ms=10000, name="t4-lim2-held")
    _answered(sbc, u1, off)
    assert rows.wait_live_calls(rows.lim2, 1) == 1
    assert _final(rows.expect(DID_LIM2, 486, name="t4-lim2-busy")) == 486

    # max_calls 1 -> 2 in the database: live after the change-tracking reload, the live call still counted.
    rows.set_tenant("t4-lim2", max_calls=2)
    end = time.time() + 3
    while rows.tenant_counters(rows.lim2)["max_calls"] != "2" and time.time() < end:
        time.sleep(0.1)
    t = rows.tenant_counters(rows.lim2)
    assert t["max_calls"] == "2" and t["calls"] == "1", t
    u2 = rows.call(DID_LIM2, hold_ms=200, name="t4-lim2-second")
    assert u2.rc == 0 and u2.events("ANSWERED"), u2.describe()
    assert rows.wait_live_calls(rows.lim2, 1) == 1

    # Back to 1 while one call is up: the next call is refused.
    rows.set_tenant("t4-lim2", max_calls=1)
    end = time.time() + 3
    while rows.tenant_counters(rows.lim2)["max_calls"] != "1" and time.time() < end:
        time.sleep(0.1)
    assert _final(rows.expect(DID_LIM2, 486, name="t4-lim2-busy-again")) == 486
    u1.wait()
    assert u1.rc == 0, u1.describe()
    assert rows.wait_live_calls(rows.lim2, 0) == 0


def _assert_free_again(sbc, rows, what):
    """t4-rel has max_calls 1: its one slot must be free again after each kind of failed call."""
    assert rows.wait_live_calls(rows.rel, 0) == 0, "%s kept the slot: %r" % (what, rows.tenant_counters(rows.rel))


def test_slot_released_by_every_kind_of_call_end(sbc, rows):
    off = sbc.stack.log_offset()

    # 1. gateway rejects (503, no other gateway, no fallback): the caller gets it as 500 (tm relays a
    #    503 as 500, RFC 3261 16.7)
    mark = sbc.peers.mark()
    u = rows.expect(DID_REL_503, 500, name="t4-rel-503")
    assert u.rc == 0 and _final(u) == 500, sbc.diagnose(off, None, u)
    assert sbc.peers.receivers(mark) == [GW_C]
    _assert_free_again(sbc, rows, "a 503 from the gateway")

    # 2. ringing, then CANCEL: while it rings the slot is taken (another call gets 486), then freed
    mark = sbc.peers.mark()
    u = sbc.uac("uac_cancel.xml", CARRIER_IP, PRIVATE, name="t4-rel-cancel", service=DID_REL_RING, calls=1,
                hold_ms=2500).start()
    assert u.wait_event("RINGING", timeout=10) is not None, sbc.diagnose(off, None, u)
    assert rows.live_calls(rows.rel) == 1
    assert _final(rows.expect(DID_REL_OK, 486, name="t4-rel-busy-while-ringing")) == 486
    u.wait()
    fin = u.events("FINAL")
    assert u.rc == 0 and fin and fin[0]["code"] == "487", sbc.diagnose(off, None, u)
    assert sbc.peers.receivers(mark) == [GW_D]
    _assert_free_again(sbc, rows, "a CANCELled call")

    # 3. the gateway never answers: tm times out (408 after FR_TIMER), nothing to fail over to
    silent = SilentPeer(GW_SILENT)
    try:
        u = rows.expect(DID_REL_SILENT, 408, name="t4-rel-timeout")
        cid = u.events("FINAL")[0]["callid"] if u.events("FINAL") else None
        assert u.rc == 0 and _final(u) == 408, sbc.diagnose(off, cid, u)
        assert cid and silent.got("INVITE", cid) >= 1, "the silent gateway never got the INVITE"
    finally:
        silent.close()
    _assert_free_again(sbc, rows, "a timed-out call")

    # 4. and a normal call still passes and gives its slot back on BYE
    u = rows.call(DID_REL_OK, hold_ms=300, name="t4-rel-ok")
    assert u.rc == 0 and u.events("BYE_OK"), u.describe()
    _assert_free_again(sbc, rows, "an answered call")
    t = rows.tenant_counters(rows.rel)
    assert t["rejected_calls"] == "1" and t["accepted"] == "4", t


def test_cps_burst_excess_gets_503_retry_after(sbc, rows):
    off = sbc.stack.log_offset()
    before = rows.tenant_counters(rows.cps)
    mark = sbc.peers.mark()
    burst = 15
    u = sbc.uac("uac_expect_code.xml", CARRIER_IP, PRIVATE, name="t4-cps-burst", service=DID_CPS, calls=burst,
                rate=1000, limit=burst, sets={"expected_code": 200, "expected_alt": 503}).run()
    fin = u.events("FINAL")
    codes = [int(e["code"]) for e in fin]
    diag = "codes %r\n%s" % (codes, sbc.diagnose(off, None, u))
    assert u.rc == 0 and len(codes) == burst, diag
    ok, busy = codes.count(200), codes.count(503)
    # a full bucket holds max_cps = 5 tokens; the burst lasts a few ms (at most one more token)
    assert 5 <= ok <= 6 and ok + busy == burst, diag
    got = sbc.peers.events(mark, "INVITE").get(GW_A, [])
    assert len(got) == ok, "gateway got %d INVITEs for %d answered calls\n%s" % (len(got), ok, diag)
    with open(u.msg_file, errors="replace") as f:
        msgs = f.read()
    assert len(re.findall(r"SIP/2.0 503 .*\r?\n(?:[^\r\n]+\r?\n)*?Retry-After: 1\r?\n", msgs)) == busy, \
        "every 503 must carry Retry-After: 1\n" + diag
    t = rows.tenant_counters(rows.cps)
    assert int(t["rejected_cps"]) - int(before["rejected_cps"]) == busy, t

    # The bucket refills at 5/s: a second later a call passes again.
    time.sleep(1.0)
    u = rows.call(DID_CPS, hold_ms=100, name="t4-cps-after")
    assert u.rc == 0 and u.events("ANSWERED"), u.describe()
