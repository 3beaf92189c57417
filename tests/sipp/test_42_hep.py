"""WITH_HEP: every call's SIP messages go to the HEP collector as HEPv3 with the configured capture ID,
the initial INVITE with the Call-ID as correlation ID (Canyan rating-agent-hep / Homer style)."""
import time

import pytest

from hep_collector import HepCollector
from sipp_harness import ALPHA_GWS, CARRIER_IP, PRIVATE, PRIVATE_IP, PUBLIC_IP

ALPHA_DID = "4930100001"
CAPTURE_ID = 2077


@pytest.fixture(scope="module")
def hep(sbc):
    col = HepCollector()
    try:
        with sbc.stack.kamailio_args(' -A WITH_HEP -A HEP_COLLECTOR="sip:%s:%d" -A HEP_CAPTURE_ID=%d' % (
                col.addr[0], col.addr[1], CAPTURE_ID)):
            yield col
    finally:
        col.close()


def _first_lines(pkts):
    return [p["payload"].split("\r\n", 1)[0] for p in pkts]


def _wait_for(hep, callid, pred, timeout=5.0):
    deadline = time.time() + timeout
    while not pred(hep.for_call(callid)) and time.time() < deadline:
        time.sleep(0.1)
    return hep.for_call(callid)


def test_hep_answered_call_both_legs(sbc, hep):
    """An answered inbound call: INVITE in from the carrier and out to the gateway, 200 OK both legs,
    ACK and BYE with its 200, all as HEPv3 SIP with the call's Call-ID as correlation ID."""
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_call.xml", CARRIER_IP, PRIVATE, service=ALPHA_DID, calls=1, hold_ms=500).run()
    ans = u.events("ANSWERED")
    diag = sbc.diagnose(off, ans[0]["callid"] if ans else None, u)
    assert u.rc == 0 and ans and u.events("BYE_OK"), diag
    callid = ans[0]["callid"]
    pkts = _wait_for(hep, callid, lambda ps: sum(l.startswith("BYE ") for l in _first_lines(ps)) >= 2)
    lines = _first_lines(pkts)
    msg = "HEP packets of %s: %r (bad: %r)\n%s" % (callid, lines, hep.bad, diag)
    assert hep.bad == [], msg
    assert all(p["capture_id"] == CAPTURE_ID and p["proto_type"] == 1 for p in pkts), msg
    assert all(p["ts_sec"] > time.time() - 120 for p in pkts), msg
    assert any(p.get("correlation_id") == callid for p in pkts), msg
    invites = [p for p in pkts if p["payload"].startswith("INVITE ")]
    # Received from the carrier on the private side, sent to a gateway from the public side.
    assert any(p["src_ip4"] == CARRIER_IP and p["dst_ip4"] == PRIVATE_IP for p in invites), msg
    assert any(p["src_ip4"] == PUBLIC_IP and p["dst_ip4"] in ALPHA_GWS for p in invites), msg
    oks = [p for p in pkts if p["payload"].startswith("SIP/2.0 200") and "INVITE" in
           p["payload"].split("CSeq:", 1)[-1].split("\r\n", 1)[0]]
    assert any(p["dst_ip4"] == CARRIER_IP for p in oks) and any(p["src_ip4"] in ALPHA_GWS for p in oks), msg
    assert any(l.startswith("ACK ") for l in lines), msg
    assert sum(l.startswith("BYE ") for l in lines) >= 2, msg


def test_hep_refused_call_traced_with_its_reply(sbc, hep):
    """An INVITE for an unknown DID: the INVITE and the SBC's own 404 both reach the collector."""
    off = sbc.stack.log_offset()
    u = sbc.expect_code(CARRIER_IP, PRIVATE, "4999999999", 404)
    finals = u.events("FINAL")
    callid = finals[0]["callid"] if finals else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and callid, diag
    pkts = _wait_for(hep, callid, lambda ps: any(l.startswith("SIP/2.0 404") for l in _first_lines(ps)))
    lines = _first_lines(pkts)
    msg = "HEP packets of %s: %r\n%s" % (callid, lines, diag)
    assert any(l.startswith("INVITE ") for l in lines), msg
    assert any(l.startswith("SIP/2.0 404") for l in lines), msg
