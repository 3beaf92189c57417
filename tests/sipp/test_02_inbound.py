"""Inbound calls: carrier (127.0.1.10) -> SBC private side -> DID lookup -> the tenant's AI gateway.

Each test asserts the SIP outcome on the caller's side AND which gateway got the call (the peers log
every INVITE they receive, see sipp_harness.Peers).
"""
import time

import pytest

from sipp_harness import (ALPHA_GWS, BETA_GW, CARRIER_IP, PRIVATE, PRIVATE_IP, PUBLIC_IP,
                          RINGING_GW, rtp_streams)

ALPHA_DID = "4930100001"


def _answered(sbc, u, off):
    ans = u.wait_event("ANSWERED", timeout=10)
    assert ans is not None, "call not answered\n" + sbc.diagnose(off, None, u)
    return ans


def _assert_media_crossed(sbc, off, u, callid, caller_ip, callee_ips):
    """rtpengine holds the call and received RTP on both sides, from the real endpoints."""
    q = sbc.stack.rtpe_query(callid)
    assert q.get("result") == "ok", "rtpengine does not know %s: %r\n%s" % (callid, q, sbc.diagnose(off, callid, u))
    streams = rtp_streams(q)
    private = [s for s in streams if s[1] == PRIVATE_IP]
    public = [s for s in streams if s[1] == PUBLIC_IP]
    msg = "rtpengine streams %r\n%s" % (streams, sbc.diagnose(off, callid, u))
    assert len(private) == 1 and len(public) == 1, msg
    assert private[0][2] == caller_ip and private[0][3] >= 10, msg
    assert public[0][2] in callee_ips and public[0][3] >= 10, msg


def _assert_cleaned_up(sbc, off, callid, *sipps):
    left = sbc.stack.wait_rtpe_gone(callid)
    assert callid not in left, "rtpengine still holds %s\n%s" % (callid, sbc.diagnose(off, callid, *sipps))
    state = sbc.stack.wait_dialog_ended(callid)
    assert state in (None, 5), "dialog of %s still in state %s\n%s" % (callid, state, sbc.diagnose(off, callid, *sipps))


def test_inbound_exact_did_with_media_carrier_hangs_up(sbc):
    """Exact DID -> tenant alpha; RTP both ways through rtpengine; BYE from the carrier."""
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call.xml", CARRIER_IP, PRIVATE, service=ALPHA_DID, calls=1, hold_ms=4000).start()
    ans = _answered(sbc, u, off)
    callid = ans["callid"]
    time.sleep(2.0)  # the carrier plays g711a.pcap, the gateway echoes it
    _assert_media_crossed(sbc, off, u, callid, CARRIER_IP, ALPHA_GWS)
    # The dialog module tracks the call (state 4 = confirmed by the ACK).
    state = sbc.stack.dialogs().get(callid)
    assert state == 4, "dialog of %s in state %r during the call\n%s" % (callid, state, sbc.diagnose(off, callid, u))
    u.wait()
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and u.events("BYE_OK"), diag
    # The carrier sees rtpengine's private address in the answer, the gateway its public one.
    assert ans.get("sdp_ip") == PRIVATE_IP, diag
    got = sbc.peers.receivers(mark, callid)
    assert len(got) == 1 and got[0] in ALPHA_GWS, "receivers %r\n%s" % (got, diag)
    inv = sbc.peers.events(mark, "INVITE", callid)[got[0]][0]
    # R-URI names the chosen gateway; the offer carries rtpengine's public address.
    assert inv["ruri_user"] == ALPHA_DID and inv["ruri_host"] == got[0], inv["line"] + "\n" + diag
    assert inv.get("sdp_ip") == PUBLIC_IP, inv["line"] + "\n" + diag
    assert sbc.peers.events(mark, "BYE", callid)[got[0]], "gateway did not get the BYE\n" + diag
    _assert_cleaned_up(sbc, off, callid, u)


def test_inbound_gateway_hangs_up(sbc):
    """The AI gateway ends the call: its BYE must reach the carrier (and media flows gateway->carrier)."""
    off = sbc.stack.log_offset()
    for ip in ALPHA_GWS:
        sbc.peers.replace(ip, "uas_answer_bye.xml", hold_ms=3000, rtp_echo=False)
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_wait_bye.xml", CARRIER_IP, PRIVATE, service=ALPHA_DID, calls=1,
                rtp_echo=True).start()
    ans = _answered(sbc, u, off)
    callid = ans["callid"]
    time.sleep(1.5)  # the gateway plays g711a.pcap, the carrier echoes it
    _assert_media_crossed(sbc, off, u, callid, CARRIER_IP, ALPHA_GWS)
    u.wait()
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and u.events("BYE_RECEIVED"), diag
    got = sbc.peers.receivers(mark, callid)
    assert len(got) == 1 and got[0] in ALPHA_GWS, "receivers %r\n%s" % (got, diag)
    assert sbc.peers.events(mark, "BYE_SENT_OK", callid)[got[0]], \
        "gateway's BYE got no 200\n" + sbc.peers[got[0]].describe() + "\n" + diag
    _assert_cleaned_up(sbc, off, callid, u)


@pytest.mark.parametrize("did,expected,why", [
    ("4930200002", (BETA_GW,), "prefix 4930* -> beta"),
    ("4930123456", ALPHA_GWS, "prefix 49301* (longer than 4930*) -> alpha"),
    ("4930191111", (BETA_GW,), "prefix 493019* (longest) -> beta"),
    ("4930555000", ALPHA_GWS, "exact DID beats prefix 4930* -> alpha"),
    ("+4930100001", ALPHA_GWS, "leading + stripped, exact -> alpha"),
], ids=["short-prefix", "longer-prefix", "longest-prefix", "exact-beats-prefix", "plus-stripped"])
def test_did_routing(sbc, did, expected, why):
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, service=did, calls=1, hold_ms=300).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = "%s\n%s" % (why, sbc.diagnose(off, callid, u))
    assert u.rc == 0 and ans and u.events("BYE_OK"), diag
    got = sbc.peers.receivers(mark, callid)
    assert len(got) == 1 and got[0] in expected, "receivers %r, expected one of %r\n%s" % (got, expected, diag)
    inv = sbc.peers.events(mark, "INVITE", callid)[got[0]][0]
    assert inv["ruri_user"] == did.lstrip("+") and inv["ruri_host"] == got[0], inv["line"] + "\n" + diag


def test_reinvite_mid_call(sbc):
    """re-INVITE from the carrier with a new offer goes through rtpengine and the route set."""
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_reinvite.xml", CARRIER_IP, PRIVATE, service=ALPHA_DID, calls=1, hold_ms=1500).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = sbc.diagnose(off, callid, u)
    re_ok = u.events("REINVITE_OK")
    assert u.rc == 0 and re_ok and u.events("BYE_OK"), diag
    assert re_ok[0].get("sdp_ip") == PRIVATE_IP, re_ok[0]["line"] + "\n" + diag
    got = sbc.peers.receivers(mark, callid)
    assert len(got) == 1 and got[0] in ALPHA_GWS, "receivers %r\n%s" % (got, diag)
    reinv = sbc.peers.events(mark, "REINVITE", callid)[got[0]]
    assert reinv and reinv[0].get("sdp_ip") == PUBLIC_IP, "gateway re-INVITE %r\n%s" % (reinv, diag)
    assert sbc.peers.events(mark, "BYE", callid)[got[0]], diag
    _assert_cleaned_up(sbc, off, callid, u)


def test_cancel_before_answer(sbc):
    """CANCEL while the gateway rings: 200 for the CANCEL, 487 for the INVITE, rtpengine session gone."""
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_cancel.xml", CARRIER_IP, PRIVATE, service="4950100001", calls=1, hold_ms=2000).start()
    ring = u.wait_event("RINGING", timeout=10)
    assert ring is not None, "no 180\n" + sbc.diagnose(off, None, u)
    callid = ring["callid"]
    time.sleep(0.5)
    during = sbc.stack.rtpe_calls()
    u.wait()
    diag = sbc.diagnose(off, callid, u, sbc.peers[RINGING_GW])
    assert callid in during, "rtpengine had no session while ringing: %r\n%s" % (during, diag)
    assert u.rc == 0, diag
    assert [e["code"] for e in u.events("RINGING")] == ["180"], diag
    assert u.events("CANCEL_OK") and [e["code"] for e in u.events("FINAL")] == ["487"], diag
    assert sbc.peers.receivers(mark, callid) == [RINGING_GW], diag
    assert sbc.peers.events(mark, "CANCELLED", callid)[RINGING_GW], "gateway did not see the CANCEL\n" + diag
    _assert_cleaned_up(sbc, off, callid, u)



@pytest.mark.parametrize("who_hangs_up", ["carrier", "gateway"])
def test_inbound_call_over_tcp(sbc, who_hangs_up):
    """A carrier on TCP (one connection): INVITE, ACK and its BYE over it, or the gateway's BYE sent
    back to it over TCP; the gateway side stays on UDP."""
    off = sbc.stack.log_offset()
    if who_hangs_up == "gateway":
        for ip in ALPHA_GWS:
            sbc.peers.replace(ip, "uas_answer_bye.xml", hold_ms=1000, rtp_echo=False)
        scenario, done = "uac_call_wait_bye.xml", "BYE_RECEIVED"
    else:
        scenario, done = "uac_call_nortp.xml", "BYE_OK"
    mark = sbc.peers.mark()
    u = sbc.uac(scenario, CARRIER_IP, PRIVATE, name="uac_tcp_" + who_hangs_up, service=ALPHA_DID,
                calls=1, hold_ms=500, extra=["-t", "t1"]).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and ans and u.events(done), diag
    got = sbc.peers.receivers(mark, callid)
    assert len(got) == 1 and got[0] in ALPHA_GWS, "receivers %r\n%s" % (got, diag)
    peer_done = "BYE" if who_hangs_up == "carrier" else "BYE_SENT_OK"
    assert sbc.peers.events(mark, peer_done, callid)[got[0]], sbc.peers[got[0]].describe() + "\n" + diag
    _assert_cleaned_up(sbc, off, callid, u)


def test_reinvite_from_gateway(sbc):
    """The AI gateway re-INVITEs mid-call (new offer from the public side), then hangs up."""
    off = sbc.stack.log_offset()
    for ip in ALPHA_GWS:
        sbc.peers.replace(ip, "uas_reinvite_bye.xml", hold_ms=1000)
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_wait_bye.xml", CARRIER_IP, PRIVATE, service=ALPHA_DID, calls=1,
                rtp_echo=True).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and ans and u.events("BYE_RECEIVED"), diag
    reinv = u.events("REINVITE")
    # The carrier gets the gateway's new offer with rtpengine's private address.
    assert reinv and reinv[0].get("sdp_ip") == PRIVATE_IP, "carrier re-INVITE %r\n%s" % (reinv, diag)
    got = sbc.peers.receivers(mark, callid)
    assert len(got) == 1 and got[0] in ALPHA_GWS, "receivers %r\n%s" % (got, diag)
    re_ok = sbc.peers.events(mark, "REINVITE_OK", callid)[got[0]]
    gw_diag = sbc.peers[got[0]].describe() + "\n" + diag
    assert re_ok and re_ok[0].get("sdp_ip") == PUBLIC_IP, gw_diag
    assert sbc.peers.events(mark, "BYE_SENT_OK", callid)[got[0]], gw_diag
    _assert_cleaned_up(sbc, off, callid, u)
