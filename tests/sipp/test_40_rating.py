"""Rating (WITH_RATING, on by default): every initial INVITE is authorized by the rating agent (the test
double tests/rating_double/rating_double.py that scripts/stack.sh runs on 127.0.0.1:AGENT_PORT), and
answered calls get their begin and end records delivered to it.

The double authorizes everything when it has no rules; each test here scripts it through /_control and
resets it afterwards, so the other test files always see a permissive agent.
"""
import time

import pytest

import agent_control
from sipp_harness import CARRIER_IP, PRIVATE

ALPHA_DID = "4930100001"


@pytest.fixture(autouse=True)
def agent_reset(sbc):
    agent_control.reset()
    yield
    agent_control.reset()


def _assert_refused(sbc, code):
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.expect_code(CARRIER_IP, PRIVATE, ALPHA_DID, code)
    finals = u.events("FINAL")
    callid = finals[0]["callid"] if finals else None
    diag = sbc.diagnose(off, callid, u)
    assert len(finals) == 1 and finals[0]["code"] == str(code), diag
    assert u.rc == 0, diag
    got = sbc.peers.receivers(mark, callid)
    assert callid and got == [], "peers %r got an INVITE that should have been refused\n%s" % (got, diag)
    # The refusal's CDR is the one row route[REJECT_RECORD] writes: no failed dialog CDR insert (CDR
    # inserts are asynchronous: give them a moment).
    time.sleep(1)
    db_errors = [l for l in sbc.stack.log_since(off).splitlines() if "ERROR: db_mysql" in l]
    assert db_errors == [], "\n".join(db_errors[:5]) + "\n" + diag
    return callid, off, diag


def test_rating_authorized_call_begin_end(sbc):
    """Authorized inbound call: authorization (tag = Call-ID), then begin, then end reach the agent."""
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_call.xml", CARRIER_IP, PRIVATE, service=ALPHA_DID, calls=1, hold_ms=1500).start()
    ans = u.wait_event("ANSWERED", timeout=10)
    assert ans is not None, "call not answered\n" + sbc.diagnose(off, None, u)
    callid = ans["callid"]
    u.wait()
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and u.events("BYE_OK"), diag
    reqs = agent_control.wait_requests(callid, "end_transaction")
    seen = [(r["endpoint"], r["status"]) for r in reqs]
    msg = "agent saw %r\n%s" % (seen, diag)
    assert seen == [("authorization", 200), ("begin_transaction", 200), ("end_transaction", 200)], msg
    auth, begin, end = (r["body"] for r in reqs)
    assert auth["transaction_tag"] == callid and auth.get("tenant") == "alpha", msg
    assert all(r["ts_ok"] for r in reqs), msg
    assert end["timestamp_end"] >= begin["timestamp_begin"], "%r %r\n%s" % (begin, end, msg)


def test_rating_denied_balance_402(sbc):
    """BALANCE_INSUFFICIENT for the DID -> 402 to the carrier, no gateway gets the call."""
    agent_control.rules({"match": {"endpoint": "authorization", "destination_contains": ALPHA_DID},
            "action": "deny", "reason": "BALANCE_INSUFFICIENT"})
    callid, off, diag = _assert_refused(sbc, 402)
    seen = [r["endpoint"] for r in agent_control.requests(callid)]
    assert seen == ["authorization"], "agent saw %r\n%s" % (seen, diag)
    log = sbc.stack.log_lines_for(off, callid)
    assert "cause=rating-BALANCE_INSUFFICIENT" in log, diag


def test_rating_agent_down_fail_closed_500(sbc):
    """The agent stops answering (closes the connection): fail policy closed -> 500."""
    agent_control.rules({"match": {"endpoint": "authorization"}, "action": "close"})
    callid, off, diag = _assert_refused(sbc, 500)
    log = sbc.stack.log_lines_for(off, callid)
    assert "cause=rating-unavailable" in log, diag
