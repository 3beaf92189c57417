"""Rating on outbound calls (AI gateway -> carrier) through the shipped cfg: the carriers of the
authorization are tried in order with failover (RATING_CARRIERS=1), an agent's carrier the SBC does not
know is never used, a denial gets exactly one reply, and the open fail policy lets calls through.
"""
import re

import pytest

import agent_control
from sipp_harness import ALPHA_GWS, BROKEN_CARRIER, CARRIER_IP, PRIVATE, PUBLIC

ALPHA_DID = "4930100001"
UNKNOWN_CARRIER = "127.0.1.99"   # not in the carrier address group (nothing listens there)


@pytest.fixture(autouse=True)
def agent_reset(sbc):
    agent_control.reset()
    yield
    agent_control.reset()


def _carriers(number, carriers):
    agent_control.rules({"match": {"endpoint": "authorization", "destination_contains": number},
                         "action": "allow", "carriers": carriers})


def _outbound_call(sbc, number):
    """An answered outbound call from the first alpha gateway: (callid, diag, log, INVITE events)."""
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call.xml", ALPHA_GWS[0], PUBLIC, service=number, calls=1, hold_ms=500).start()
    ans = u.wait_event("ANSWERED", timeout=15)
    assert ans is not None, "not answered\n" + sbc.diagnose(off, None, u)
    callid = ans["callid"]
    u.wait()
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and u.events("BYE_OK"), diag
    return callid, diag, sbc.stack.log_lines_for(off, callid), sbc.peers.events(mark, "INVITE", callid)


def test_agent_carriers_fail_over_in_order(sbc):
    """Carriers [broken (503), carrier]: the broken one gets the INVITE first, then the next one."""
    number = "4989123101"
    _carriers(number, ["UDP:%s:5060" % BROKEN_CARRIER, "UDP:%s:5060" % CARRIER_IP])
    callid, diag, log, invites = _outbound_call(sbc, number)
    assert len(invites[BROKEN_CARRIER]) == 1 and len(invites[CARRIER_IP]) == 1, diag
    assert "event=failover" in log and "failed_gateway=sip:%s:5060" % BROKEN_CARRIER in log, diag
    assert "gateway=sip:%s:5060" % CARRIER_IP in log, diag


def test_agent_carrier_unknown_is_skipped(sbc):
    """A carrier outside the carrier address group is skipped (logged), the next one takes the call."""
    number = "4989123102"
    _carriers(number, ["UDP:%s:5060" % UNKNOWN_CARRIER, "UDP:%s:5060" % CARRIER_IP])
    callid, diag, log, invites = _outbound_call(sbc, number)
    assert [ip for ip, evs in invites.items() if evs] == [CARRIER_IP], diag
    assert "event=carrier-skipped" in log and "carrier=sip:%s:5060" % UNKNOWN_CARRIER in log, diag
    assert "event=failover" not in log, diag


def test_agent_carriers_none_known_uses_dispatcher(sbc):
    """Only unknown carriers: the carrier dispatcher group (set 1 = the test carrier) takes the call."""
    number = "4989123103"
    _carriers(number, ["UDP:%s:5060" % UNKNOWN_CARRIER])
    callid, diag, log, invites = _outbound_call(sbc, number)
    assert [ip for ip, evs in invites.items() if evs] == [CARRIER_IP], diag
    assert "event=carrier-none" in log, diag


def test_agent_carriers_all_fail_no_dispatcher_fallback(sbc):
    """Every agent carrier fails: the caller gets that failure (a 503 goes upstream as 500, RFC 3261
    16.7), the dispatcher group is not tried (the agent rated the call for its carriers only)."""
    number = "4989123104"
    _carriers(number, ["UDP:%s:5060" % BROKEN_CARRIER])
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.expect_code(ALPHA_GWS[0], PUBLIC, number, 500)
    finals = u.events("FINAL")
    callid = finals[0]["callid"] if finals else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and len(finals) == 1 and finals[0]["code"] == "500", diag
    assert sbc.peers.receivers(mark, callid) == [BROKEN_CARRIER], diag


def test_outbound_denied_one_reply_no_carrier(sbc):
    """An outbound call the agent refuses (NOT_FOUND -> 404): one 404 to the gateway, no carrier
    INVITE, only the authorization at the agent."""
    number = "4989123105"
    agent_control.rules({"match": {"endpoint": "authorization", "destination_contains": number},
                         "action": "deny", "reason": "NOT_FOUND"})
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.expect_code(ALPHA_GWS[0], PUBLIC, number, 404)
    finals = u.events("FINAL")
    callid = finals[0]["callid"] if finals else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and len(finals) == 1 and finals[0]["code"] == "404", diag
    assert callid and sbc.peers.receivers(mark, callid) == [], diag
    assert [r["endpoint"] for r in agent_control.requests(callid)] == ["authorization"], diag
    assert "cause=rating-NOT_FOUND" in sbc.stack.log_lines_for(off, callid), diag


def _failopen(sbc):
    out = sbc.stack.kamcmd("rating_agent.stats")
    m = re.search(r"\bfailopen: (\d+)", out)
    assert m, out
    return int(m.group(1))


def test_fail_open_policy_lets_calls_through(sbc):
    """RATING_FAIL_POLICY="open": with the agent closing every connection, an inbound and an outbound
    call are both answered, each counted as a fail-open authorization."""
    with sbc.stack.kamailio_args(' -A RATING_FAIL_POLICY="open"'):
        agent_control.rules({"match": {"endpoint": "authorization"}, "action": "close"})
        before = _failopen(sbc)
        for src, side, number in ((CARRIER_IP, PRIVATE, ALPHA_DID), (ALPHA_GWS[0], PUBLIC, "4989123106")):
            off = sbc.stack.log_offset()
            u = sbc.uac("uac_call.xml", src, side, service=number, calls=1, hold_ms=300).run()
            diag = sbc.diagnose(off, None, u)
            assert u.rc == 0 and u.events("ANSWERED") and u.events("BYE_OK"), diag
        after = _failopen(sbc)
        assert after - before == 2, "auth_failopen %d -> %d" % (before, after)
