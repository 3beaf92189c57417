"""Early media and ringback on inbound calls (etc/kamailio.cfg route[RINGBACK], onreply_route[CALL_REPLY];
RINGBACK_MODE in kamailio-local.cfg, tenant attr ringback=local|relay).

The AI gateway (uas_early_media.xml on 127.0.4.64, set 4164) answers after a delay, sending before that
nothing, a 183 with SDP or a 180 without SDP. The carrier (uac_media.xml) offers the port of its own
RtpSink; the gateway's SDP names the port of the gateway's RtpSink, so the test sends and receives the
early media itself on both ends.
Own rows: tenant t4-ring-local (DID 4999640001, attrs '': RINGBACK_MODE "local") and t4-ring-relay
(DID 4999640002, ringback=relay).
"""
import re
import time

import pytest

from media_common import SinkGateway, media_call, wait_sink
from sipp_harness import CARRIER_IP, PRIVATE_IP, RtpSink, sdp_media
from test_32_cfg_hiding import sip_messages

GW = "127.0.4.64"
SET = 4164
DID_LOCAL = "4999640001"
DID_RELAY = "4999640002"
AI_TAG = "SIPpTag01"          # uas_early_media.xml's To tag: [pid]SIPpTag01[call_number]
PCMA = b"\xd5" * 160


@pytest.fixture(scope="module")
def gw(sbc):
    g = SinkGateway(sbc, GW, SET, {DID_LOCAL: ("t4-ring-local", ""),
                                  DID_RELAY: ("t4-ring-relay", "ringback=relay")},
                    scenario="uas_early_media.xml", sets={"early": 0})
    yield g
    assert not g.close()


def _replies(u, callid):
    """(code, has SDP, To tag of the AI, text) of every reply to the INVITE the carrier received, in order
    (a retransmission, the same message again, counted once)."""
    out = []
    for m in dict.fromkeys(sip_messages(u)):
        if not re.search(r"^(Call-ID|i)\s*:\s*%s\s*$" % re.escape(callid), m, re.M | re.I):
            continue
        first = re.match(r"SIP/2.0 (\d{3}) ", m)
        if not first or not re.search(r"^CSeq\s*:\s*1 INVITE\s*$", m, re.M | re.I):
            continue
        to = re.search(r"^(To|t)\s*:.*$", m, re.M | re.I).group(0)
        out.append((first.group(1), bool(re.search(r"^v=0\s*$", m, re.M)), AI_TAG in to, m))
    return out


def _provisionals(u, callid):
    return [(c, sdp, ai) for c, sdp, ai, _ in _replies(u, callid) if c != "100" and c < "200"]


def _call(sbc, gw, did, early, answer_ms, sink, hold_ms=300):
    gw.restart(hold_ms=answer_ms, early=early)
    since = gw.mark()
    off = sbc.stack.log_offset()
    u = media_call(sbc, did, "8 101", sink.port, hold_ms=hold_ms, name="ring-%s-%d" % (did[-1], early),
                   start=True)
    inv = gw.peer.wait_event("INVITE", timeout=10, since=since)
    assert inv is not None, "no INVITE at the gateway\n" + sbc.diagnose(off, None, u)
    return u, inv, off, since


@pytest.mark.parametrize("did,early,expected", [
    # ringback "local": the SBC's 180 (no SDP, its own To tag) at once; the AI's 183 with SDP relayed,
    # its 180 without SDP not (the carrier already rings)
    (DID_LOCAL, 0, [("180", False, False)]),
    (DID_LOCAL, 2, [("180", False, False)]),
    # ringback "relay": exactly what the AI sends
    (DID_RELAY, 0, []),
    (DID_RELAY, 2, [("180", False, True)]),
])
def test_ringback_before_a_slow_answer(sbc, gw, did, early, expected):
    """The AI answers 1.5 s after the INVITE: the carrier's provisional replies by mode, a local 180
    arriving while the AI has not answered, and the call goes on normally with the AI's 200."""
    sink = RtpSink(CARRIER_IP)
    try:
        u, inv, off, _ = _call(sbc, gw, did, early, 1500, sink)
        u.wait()
    finally:
        sink.close()
    callid = inv["callid"]
    diag = sbc.diagnose(off, callid, u, gw.peer)
    assert u.rc == 0 and u.events("ANSWERED") and u.events("BYE_OK"), diag
    replies = _replies(u, callid)
    assert _provisionals(u, callid) == expected, "%r\n%s" % ([r[:3] for r in replies], diag)
    final = [r for r in replies if r[0] == "200"]
    assert final and final[0][2], "the 200 is not the AI's\n" + diag
    if expected and not expected[0][2]:
        # the local 180 came before the AI answered (the 200 is 1.5 s later), and only once
        codes = [r[0] for r in replies]
        assert codes.index("180") < codes.index("200"), diag
    assert sbc.stack.wait_dialog_ended(callid) in (None, 5), "dialog left\n" + diag


@pytest.mark.parametrize("did,local180", [(DID_LOCAL, True), (DID_RELAY, False)])
def test_early_media_183_bridged_before_answer(sbc, gw, did, local180):
    """The AI sends 183 with SDP and answers 6 s later: the carrier gets the 183 with rtpengine's
    address on the private side (after the SBC's own 180 in local mode, never after), and RTP flows
    both ways between the two ends while the AI has not sent its 200."""
    sink = RtpSink(CARRIER_IP)
    try:
        u, inv, off, since = _call(sbc, gw, did, 1, 6000, sink)
        callid = inv["callid"]

        def diag():
            return sbc.diagnose(off, callid, u, gw.peer)

        def answered():
            return bool(gw.peer.events("ANSWER", since))

        end = time.time() + 5
        while time.time() < end and not any(r[0] == "183" for r in _replies(u, callid)):
            time.sleep(0.05)
        early = [r for r in _replies(u, callid) if r[0] == "183"]
        assert early, "no 183 at the carrier\n" + diag()
        sdp = early[0][3]
        m = re.search(r"^m=audio (\d+) RTP/AVP ([ 0-9]+)\s*$", sdp, re.M)
        assert re.search(r"^c=IN IP4 %s\s*$" % re.escape(PRIVATE_IP), sdp, re.M) and m, sdp
        assert int(m.group(1)) != gw.sink.port and GW not in sdp, "the AI's own media address leaked:\n" + sdp
        # AI -> carrier: the gateway sends to rtpengine's public address in the INVITE it got
        gw_port, _ = sdp_media(inv["sdp_m"])
        gw.sink.send((inv["sdp_ip"], gw_port), 8, PCMA, 25, interval=0.02)
        got = wait_sink(sink, lambda s: s.payload_types().get(8, 0) >= 10, timeout=3.0)
        before_200 = not answered()
        assert got, "no early RTP at the carrier: %r\n%s" % (sink.payload_types(), diag())
        assert before_200, "the AI answered before the early media was checked\n" + diag()
        # carrier -> AI, to the address of the 183
        sink.send((PRIVATE_IP, int(m.group(1))), 8, PCMA, 25, interval=0.02)
        got = wait_sink(gw.sink, lambda s: s.payload_types().get(8, 0) >= 10, timeout=3.0)
        before_200 = not answered()
        assert got, "no early RTP at the gateway: %r\n%s" % (gw.sink.payload_types(), diag())
        assert before_200, "the AI answered before the early media was checked\n" + diag()
        u.wait()
    finally:
        sink.close()
    d = diag()
    assert u.rc == 0 and u.events("ANSWERED") and u.events("BYE_OK"), d
    want = ([("180", False, False)] if local180 else []) + [("183", True, True)]
    assert _provisionals(u, callid) == want, "%r\n%s" % (_provisionals(u, callid), d)
    assert callid not in sbc.stack.wait_rtpe_gone(callid), "rtpengine still holds the call\n" + d
