"""sbc_tenant with the database gone: a reload fails and says why, change tracking reports the failed
checks, and calls keep routing on the index that was live. Then MariaDB comes back (scripts/stack.sh start
restarts only what is not running) and change tracking picks edits up again.

This stops the suite's MariaDB for a few seconds, so it runs after the other tenant tests and always
restarts it (and checks that it is back) before it ends, whatever happened.
"""
import re
import signal

import pytest

from hostile_common import kill_daemon, wait
from tenant_common import GW_A, GW_B, TenantRows

SET_A = 4190
SET_B = 4191
DID = "4999900001"
WHY = re.compile(r"cannot connect to the database|(database query of table tenants|cannot read table "
                 r"sbc_routing_version) .*\(database down or connection lost")


def _db_answers(sbc):
    try:
        return sbc.stack.sql("SELECT 1") == [["1"]]
    except Exception:
        return False


@pytest.fixture(scope="module")
def rows(sbc):
    r = TenantRows(sbc)
    try:
        r.two_groups(SET_A, SET_B, "t4-dbdown")
        r.did(DID, r.tid)
        got = r.wait_lookup(DID, lambda x: x.get("tenant") == "t4-dbdown")
        assert got.get("gateway_group") == str(SET_A), got
        yield r
    finally:
        if not _db_answers(sbc):
            sbc.stack.start()
        errors = r.cleanup()
        assert not errors, errors


def _call_reaches(sbc, rows, gw):
    mark = sbc.peers.mark()
    u = rows.call(DID, hold_ms=100, name="t4-dbdown-call")
    ids = [e["callid"] for e in u.events("ANSWERED")]
    assert u.rc == 0 and ids, u.describe()
    got = sbc.peers.receivers(mark, ids[0])
    assert got == [gw], "call went to %r, expected %s" % (got, gw)


def test_reload_with_database_down_keeps_routing_and_says_why(sbc, rows):
    _call_reaches(sbc, rows, GW_A)
    checks0 = int(rows.stats()["change_tracking"]["check_errors"])
    kill_daemon("mariadb", signal.SIGTERM, timeout=30)
    try:

        # An explicit reload fails, says why, and the old index stays live. The reason depends on whether
        # this process still had a (now dead) pooled connection to the server.
        out = sbc.stack.kamcmd("sbc_tenant.reload")
        assert "error: 500" in out and WHY.search(out), out
        st = rows.stats()
        assert st["last_reload"]["result"] == "failed", st
        assert st["last_reload"]["trigger"] == "rpc", st
        assert WHY.search(st["last_reload"]["reason"]), st
        # Change tracking fails too, keeps the index, and reports it.
        assert wait(lambda: int(rows.stats()["change_tracking"]["check_errors"]) >= checks0 + 2, 5), \
            rows.stats()
        assert WHY.search(rows.stats()["change_tracking"]["last_error"]), rows.stats()
        got = rows.lookup(DID)
        assert (got.get("code"), got.get("tenant"), got.get("gateway_group")) == ("1", "t4-dbdown", str(SET_A)), got
        assert int(rows.stats()["dids"]) > 0
        _call_reaches(sbc, rows, GW_A)
    finally:
        sbc.stack.start()  # starts what is not running: MariaDB only
    assert _db_answers(sbc), "MariaDB is not back"

    # Back to normal: checks succeed again and an edit goes live by itself.
    assert wait(lambda: rows.stats()["change_tracking"]["last_error"] == "", 5), rows.stats()
    rows.sql("UPDATE did_routing SET gateway_group = %d WHERE did = '%s'" % (SET_B, DID))
    got = rows.wait_lookup(DID, lambda x: x.get("gateway_group") == str(SET_B), timeout=3)
    assert got.get("gateway_group") == str(SET_B), got
    _call_reaches(sbc, rows, GW_B)
    out = sbc.stack.kamcmd("sbc_tenant.reload")
    assert "error" not in out and "dids" in out, out
    assert rows.stats()["last_reload"]["result"] == "ok"
