"""sbc_tenant atomic reload under load: 120 calls/s for 18 s while the index (100,000 DIDs) is reloaded
five times, four by RPC and one by change tracking after an UPDATE that moves the DID to another gateway
group. Every call must be answered (zero failed calls), and the calls after the reload follow the new row.
Kamailio runs without rating here (-A NO_RATING): this is the routing path under reloads; the rating
agent test double is a Python process that would be the bottleneck (rating under load: the rating e2e
tests and `make bench`).
"""
import time

import pytest

from sipp_harness import CARRIER_IP, PRIVATE
from tenant_common import GW_A, GW_B, TenantRows, call_number

SET_A = 4140
SET_B = 4141
DID = "4999400001"
BULK = 100000          # extra DIDs of the tenant: a reload is real work, not a 10-row table
BULK_PREFIX = "49994"  # 49994 + 6 digits: 11-digit numbers, never DID
RATE = 120
SECONDS = 18
HOLD_MS = 300


def _bulk(rows, sql):
    # One session: the triggers skip the per-row version bump, one bump at the end (as the schema says).
    rows.sql("SET @sbc_routing_bulk = 1; %s; SET @sbc_routing_bulk = NULL; "
             "UPDATE sbc_routing_version SET version = version + 1 WHERE id = 1" % sql)


@pytest.fixture(scope="module")
def no_rating(sbc):
    with sbc.stack.kamailio_args(" -A NO_RATING"):
        yield


@pytest.fixture(scope="module")
def rows(sbc, no_rating):
    r = TenantRows(sbc)
    try:
        r.two_groups(SET_A, SET_B, "t4-load")
        _bulk(r, "DELETE FROM did_routing WHERE did LIKE '%s%%' AND description = 't4 bulk'" % BULK_PREFIX)
        _bulk(r, "INSERT INTO did_routing (did, tenant_id, description) SELECT CONCAT('%s', LPAD(seq, 6, '0')), "
                 "%d, 't4 bulk' FROM seq_10_to_%d" % (BULK_PREFIX, r.tid, BULK + 9))
        r.did(DID, r.tid)
        probe = "%s%06d" % (BULK_PREFIX, BULK + 9)
        got = r.wait_lookup(probe, lambda x: x.get("tenant") == "t4-load", timeout=10)
        assert got.get("code") == "1", got
        got = r.wait_lookup(DID, lambda x: x.get("gateway_group") == str(SET_A), timeout=5)
        assert got.get("gateway_group") == str(SET_A), got
        yield r
    finally:
        try:
            _bulk(r, "DELETE FROM did_routing WHERE did LIKE '%s%%' AND description = 't4 bulk'" % BULK_PREFIX)
        finally:
            errors = r.cleanup()
        assert not errors, errors


def test_reloads_during_120_cps_no_failed_call_and_new_rows_followed(sbc, rows):
    off = sbc.stack.log_offset()
    st0 = rows.stats()
    assert int(st0["dids"]) >= BULK, st0
    mark = sbc.peers.mark()
    total = RATE * SECONDS
    u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="t4-load", service=DID, calls=total, rate=RATE,
                limit=600, hold_ms=HOLD_MS, timeout=SECONDS + 60).start()
    t_start = time.time()

    def at(sec):
        time.sleep(max(0.0, t_start + sec - time.time()))

    rpc_reloads = []
    at(3)
    rpc_reloads.append(sbc.stack.kamcmd("sbc_tenant.reload", timeout=20))
    at(6)
    rows.sql("UPDATE did_routing SET gateway_group = %d WHERE did = '%s'" % (SET_B, DID))
    t_update = time.time() - t_start
    got = rows.wait_lookup(DID, lambda x: x.get("gateway_group") == str(SET_B), timeout=5)
    t_seen = time.time() - t_start
    assert got.get("gateway_group") == str(SET_B), got
    for sec in (9, 12, 15):
        at(sec)
        rpc_reloads.append(sbc.stack.kamcmd("sbc_tenant.reload", timeout=20))

    u.wait(timeout=SECONDS + 70)
    answered = u.events("ANSWERED")
    byes = u.events("BYE_OK")
    diag = "rc %s, %d answered, %d BYE ok of %d\n%s" % (u.rc, len(answered), len(byes), total,
                                                        sbc.diagnose(off, None, u))
    assert u.rc == 0 and len(answered) == total and len(byes) == total, diag

    ours = {e["callid"] for e in answered}
    a = sorted(call_number(e["callid"]) for e in sbc.peers.events(mark, "INVITE")[GW_A] if e["callid"] in ours)
    b = sorted(call_number(e["callid"]) for e in sbc.peers.events(mark, "INVITE")[GW_B] if e["callid"] in ours)
    summary = "A: %d calls (last #%s), B: %d calls (first #%s); UPDATE at %.2f s, seen by RPC at %.2f s" % (
        len(a), a[-1] if a else None, len(b), b[0] if b else None, t_update, t_seen)
    assert len(a) + len(b) == total and not set(a) & set(b), summary + "\n" + diag
    assert a and b, summary
    # Calls switch once, in order: only calls in flight during the swap may land on the old group late.
    late = [n for n in a if n > b[0]]
    assert len(late) <= RATE // 10, "%s; %d calls on the old group after the first on the new one" % (
        summary, len(late))
    # ... at the time of the change: not before the UPDATE, at most about a second after RPC saw it.
    assert b[0] >= RATE * (t_update - 0.5), summary
    assert b[0] <= RATE * (t_seen + 1.0), summary

    st = rows.stats()
    assert st["last_reload"]["reloads_failed"] == st0["last_reload"]["reloads_failed"], st
    assert int(st["last_reload"]["reloads_ok"]) >= int(st0["last_reload"]["reloads_ok"]) + 5, st
    assert all("dids" in r for r in rpc_reloads), rpc_reloads

    # Calls after the reloads follow the new row.
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="t4-load-after", service=DID, calls=3, rate=10,
                hold_ms=100).run()
    ids = {e["callid"] for e in u.events("ANSWERED")}
    assert u.rc == 0 and len(ids) == 3, u.describe()
    assert all(sbc.peers.receivers(mark, c) == [GW_B] for c in ids), sbc.peers.events(mark, "INVITE")
    print(summary)
