"""sbc_tenant change tracking: the admin flow of the product, exactly as the README tells an admin.

    UPDATE did_routing ... ;          (MariaDB; the schema's triggers bump sbc_routing_version)
    kamcmd dispatcher.reload          (the only command the admin runs)

The next call goes to the new group within 2 s: calls are placed one after another (bounded in count
and time) until one reaches the new gateway, and every call after that must go there too.
"""
import time

import pytest

from tenant_common import GW_A, GW_B, TenantRows

SET_A = 4110
SET_B = 4111
DID = "4999100001"
DID_NEW = "4999100002"
DID_TENANT_GROUP = "4999100003"


@pytest.fixture(scope="module")
def rows(sbc):
    r = TenantRows(sbc)
    try:
        r.two_groups(SET_A, SET_B, "t4-admin")
        r.did(DID, r.tid)
        r.did(DID_TENANT_GROUP, r.tid)
        got = r.wait_lookup(DID, lambda x: x.get("tenant") == "t4-admin")
        assert got.get("gateway_group") == str(SET_A), got
        yield r
    finally:
        errors = r.cleanup()
        assert not errors, errors


def _receiver(sbc, r, did, name):
    """Places one call (answered: 200, or refused: 404 for an unknown DID); returns (code, the IP of the
    gateway that got it or None)."""
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = r.expect(did, 200, alt=404, name=name)
    fin = u.events("FINAL")
    cid = fin[0].get("callid") if fin else None
    assert u.rc == 0 and fin, "call to %s failed\n%s" % (did, sbc.diagnose(off, cid, u))
    code = int(fin[0]["code"])
    got = sbc.peers.receivers(mark, cid)
    if code == 200:
        assert len(got) == 1, "answered call reached %r\n%s" % (got, sbc.diagnose(off, cid, u))
        return code, got[0]
    assert not got, "refused call reached %r\n%s" % (got, sbc.diagnose(off, cid, u))
    return code, None


def _switch_within(sbc, r, did, new_gw, t0, limit_s=2.0, max_calls=12):
    """Calls until one reaches new_gw; asserts it started within limit_s of t0 and that the next two
    calls go there too. Returns the seconds it took."""
    seen = []
    for i in range(max_calls):
        started = time.time()
        code, gw = _receiver(sbc, r, did, "t4-admin-poll")
        seen.append((round(started - t0, 2), code, gw))
        if gw == new_gw:
            assert started - t0 <= limit_s, "first call on %s started %.2f s after the change: %r" % (
                new_gw, started - t0, seen)
            for _ in range(2):
                code2, gw2 = _receiver(sbc, r, did, "t4-admin-after")
                assert gw2 == new_gw, "routing went back after the switch: %r then %s %s" % (seen, code2, gw2)
            return started - t0
        if started - t0 > limit_s:
            break
    pytest.fail("no call reached %s within %.1f s of the change: %r" % (new_gw, limit_s, seen))


def test_admin_updates_did_group(sbc, rows):
    assert _receiver(sbc, rows, DID, "t4-admin-before") == (200, GW_A)
    stats_before = rows.stats()
    v0 = rows.version()

    # The admin flow, nothing else:
    rows.sql("UPDATE did_routing SET gateway_group = %d WHERE did = '%s'" % (SET_B, DID))
    t0 = time.time()
    sbc.stack.kamcmd("dispatcher.reload")

    assert rows.version() > v0, "the did_routing trigger did not bump sbc_routing_version"
    took = _switch_within(sbc, rows, DID, GW_B, t0)
    st = rows.stats()
    assert int(st["change_tracking"]["reloads_ok"]) > int(stats_before["change_tracking"]["reloads_ok"]), st
    assert st["change_tracking"]["last_error"] == "", st
    assert int(st["live"]["version"]) >= v0 + 1, st
    print("switched after %.2f s" % took)


def test_admin_updates_tenant_group(sbc, rows):
    """A DID without its own group follows its tenant's gateway_group."""
    assert _receiver(sbc, rows, DID_TENANT_GROUP, "t4-admin-tenant-before") == (200, GW_A)
    rows.sql("UPDATE tenants SET gateway_group = %d WHERE name = 't4-admin'" % SET_B)
    t0 = time.time()
    sbc.stack.kamcmd("dispatcher.reload")
    _switch_within(sbc, rows, DID_TENANT_GROUP, GW_B, t0)


def test_admin_inserts_and_deletes_did(sbc, rows):
    """A new DID goes live (404 before, answered after); a deleted one is 404 again."""
    assert _receiver(sbc, rows, DID_NEW, "t4-admin-unknown") == (404, None)
    rows.did(DID_NEW, rows.tid, group=SET_A)
    t0 = time.time()
    sbc.stack.kamcmd("dispatcher.reload")
    _switch_within(sbc, rows, DID_NEW, GW_A, t0)

    rows.sql("DELETE FROM did_routing WHERE did = '%s'" % DID_NEW)
    got = rows.wait_lookup(DID_NEW, lambda x: x.get("code") == "-1", timeout=3.0)
    assert got.get("code") == "-1", got
    assert _receiver(sbc, rows, DID_NEW, "t4-admin-deleted") == (404, None)


def test_admin_updates_tenant_attrs(sbc, rows):
    """tenants.attrs (free text for the cfg, e.g. transfer settings) goes live like any tenant column and is
    returned as is, characters of a regular expression included; '' reads back as empty."""
    attrs = r"transfer=terminate;refer_allow=^\+?49[0-9]{6,15}$"
    rows.set_tenant("t4-admin", attrs=attrs)
    got = rows.wait_lookup(DID, lambda x: x.get("attrs") == attrs, timeout=3.0)
    assert got.get("attrs") == attrs, got
    assert rows.tenant_counters(rows.tid).get("attrs") == attrs
    rows.set_tenant("t4-admin", attrs="")
    got = rows.wait_lookup(DID, lambda x: x.get("attrs") == "", timeout=3.0)
    assert got.get("attrs") == "", got
