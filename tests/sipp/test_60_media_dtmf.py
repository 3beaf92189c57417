"""DTMF through the SBC (etc/kamailio.cfg route[MEDIA_FLAGS], route[DTMF_INFO]; DTMF_INFO in
kamailio-local.cfg, tenant attr dtmf_info).

RFC 4733 telephone-events cross rtpengine both ways: SIPp plays the telephone-event captures of the digits
1, 5 and # (uac_dtmf.xml) and the far end's own RTP socket (RtpSink) must receive those events, end bit
included. SIP INFO DTMF from the carrier is relayed as it is (dtmf_info=pass, the default) or, for a
tenant with dtmf_info=convert, answered by the SBC and played to the AI by rtpengine as telephone-events.
"""
import pytest

from media_common import SinkGateway, wait_sink
from sipp_harness import ALPHA_GWS, CARRIER_IP, PRIVATE, PUBLIC, RtpSink
from tenant_common import callid_of

GW = "127.0.4.60"
SET = 4160
DID_PASS = "4999600001"       # tenant t4-dtmf-pass: attrs ''
DID_CONVERT = "4999600002"    # tenant t4-dtmf-conv: dtmf_info=convert
DIGITS = [1, 5, 11]           # uac_dtmf.xml: 1, 5, # (event code 11)


@pytest.fixture(scope="module")
def gw(sbc):
    g = SinkGateway(sbc, GW, SET, {DID_PASS: ("t4-dtmf-pass", ""),
                                  DID_CONVERT: ("t4-dtmf-conv", "dtmf_info=convert")})
    yield g
    assert not g.close()


def _events_ok(sink, digits):
    """Every digit as a complete event: several packets, the last ones with the end bit and a duration."""
    evs = sink.events()
    for d in digits:
        mine = [e for e in evs if e[0] == d]
        if len(mine) < 3 or not mine[-1][1] or mine[-1][2] < 800:
            return False
    return sink.digits() == digits


def test_rfc4733_from_carrier_reaches_gateway(sbc, gw):
    since = gw.mark()
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_dtmf.xml", CARRIER_IP, PRIVATE, name="dtmf_in", service=DID_PASS, calls=1,
                hold_ms=300).run()
    callid = callid_of(u)
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and u.events("DTMF_SENT") and u.events("BYE_OK"), diag
    inv = gw.invite(since, callid)
    assert inv and 101 in inv["fmts"], "telephone-event not offered to the gateway: %r\n%s" % (inv, diag)
    assert gw.wait_packets(lambda s: _events_ok(s, DIGITS)), "events at the gateway: %r\n%s" % (
        gw.sink.events(), diag)


def test_rfc4733_from_gateway_reaches_carrier(sbc):
    """Outbound call: the AI sends the digits, the carrier's RTP socket gets them."""
    sink = RtpSink(CARRIER_IP)
    try:
        sbc.peers.replace(CARRIER_IP, "uas_answer_sink.xml", sets={"sink_port": sink.port, "answer_pt": 8})
        off = sbc.stack.log_offset()
        u = sbc.uac("uac_dtmf.xml", ALPHA_GWS[0], PUBLIC, name="dtmf_out", service="4989123000", calls=1,
                    hold_ms=300).run()
        callid = callid_of(u)
        diag = sbc.diagnose(off, callid, u)
        assert u.rc == 0 and u.events("DTMF_SENT") and u.events("BYE_OK"), diag
        assert wait_sink(sink, lambda s: _events_ok(s, DIGITS)), "events at the carrier: %r\n%s" % (
            sink.events(), diag)
    finally:
        sink.close()


def test_info_passed_through_by_default(sbc, gw):
    since = gw.mark()
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_dtmf_info.xml", CARRIER_IP, PRIVATE, name="info_pass", service=DID_PASS, calls=1,
                hold_ms=300).run()
    callid = callid_of(u)
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and len(u.events("INFO_OK")) == 2 and u.events("BYE_OK"), diag
    infos = [(e["type"], e["body"]) for e in gw.peer.events("INFO", since) if e.get("callid") == callid]
    assert infos == [("application/dtmf-relay", "Signal=5"), ("application/dtmf", "#")], diag
    # Audio crossed; no telephone-event was made up.
    assert gw.sink.payload_types().get(8, 0) > 20 and not gw.sink.events(), gw.sink.payload_types()


def test_info_converted_to_rfc4733(sbc, gw):
    """dtmf_info=convert: the SBC answers both INFOs itself, the gateway gets 5 and # as telephone-events
    (and the audio), never the INFO."""
    since = gw.mark()
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_dtmf_info.xml", CARRIER_IP, PRIVATE, name="info_conv", service=DID_CONVERT, calls=1,
                hold_ms=1000).run()
    callid = callid_of(u)
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and len(u.events("INFO_OK")) == 2 and u.events("BYE_OK"), diag
    assert not [e for e in gw.peer.events("INFO", since) if e.get("callid") == callid], \
        "the INFO reached the gateway\n" + diag
    assert gw.wait_packets(lambda s: _events_ok(s, [5, 11])), "events at the gateway: %r\n%s" % (
        gw.sink.events(), diag)
    assert gw.sink.payload_types().get(8, 0) > 20, gw.sink.payload_types()
