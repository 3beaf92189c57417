"""Codec policy (etc/kamailio.cfg route[MEDIA_FLAGS]; CODECS_TO_GATEWAY, CODECS_TO_CARRIER, CODEC_TRANSCODE,
CODECS_TRANSCODABLE in kamailio-local.cfg; tenant attrs codecs / transcode).

Offers to an AI gateway keep only the allowed codecs (default PCMU, PCMA, G722, telephone-event; a
tenant's own list from its attrs); an offer without any of them is transcoded by rtpengine when it has a
codec rtpengine can transcode (proved with RTP: PCMA from the gateway reaches the carrier as G.729), and
otherwise, or with transcoding off, the caller gets one 488 Not Acceptable Here and no gateway is tried.
Offers to carriers are left as the AI side made them (CODECS_TO_CARRIER "").
"""
import pytest

from media_common import SinkGateway, media_call, wait_sink
from sipp_harness import ALPHA_GWS, CARRIER_IP, PUBLIC, RtpSink, sdp_media
from tenant_common import callid_of
from test_30_cfg_cdr import cdr_rows
from test_32_cfg_hiding import body, find_message

GW = "127.0.4.62"
SET = 4161
DID_DEFAULT = "4999610001"    # t4-codec-default: attrs ''
DID_NO_TX = "4999610002"      # t4-codec-notx: transcode=0
DID_PCMU = "4999610003"       # t4-codec-pcmu: codecs=PCMU,telephone-event
NO_SINK = 9                   # SDP port of a caller whose media nobody looks at (discard)


@pytest.fixture(scope="module")
def gw(sbc):
    g = SinkGateway(sbc, GW, SET, {DID_DEFAULT: ("t4-codec-default", ""),
                                  DID_NO_TX: ("t4-codec-notx", "transcode=0"),
                                  DID_PCMU: ("t4-codec-pcmu", "codecs=PCMU,telephone-event")})
    yield g
    assert not g.close()


def _answered(sbc, off, u):
    callid = callid_of(u)
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and callid and u.events("BYE_OK"), diag
    return callid, diag


def _refused_488(sbc, gw, did, fmts):
    since = gw.mark()
    off = sbc.stack.log_offset()
    u = media_call(sbc, did, fmts, NO_SINK, name="codec_488")
    finals = u.events("FINAL")
    callid = finals[0]["callid"] if finals else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and [e["code"] for e in finals] == ["488"] and not u.events("ANSWERED"), diag
    assert not gw.peer.events("INVITE", since), "the gateway got the call\n" + diag
    log = sbc.stack.log_lines_for(off, callid)
    assert "event=rejected" in log and "code=488 cause=no-common-codec" in log, diag
    cdr = cdr_rows(sbc, callid)
    assert [(r["sip_code"], r["cause"], r["side"]) for r in cdr] == [("488", "no-common-codec", "sbc")], \
        "%r\n%s" % (cdr, diag)


def test_offer_to_gateway_keeps_allowed_codecs(sbc, gw):
    """PCMA, PCMU, G729, GSM, G722, telephone-event offered: the gateway sees PCMA, PCMU, G722 and
    telephone-event, in the caller's order."""
    since = gw.mark()
    off = sbc.stack.log_offset()
    u = media_call(sbc, DID_DEFAULT, "8 0 18 3 9 101", NO_SINK, name="codec_strip")
    callid, diag = _answered(sbc, off, u)
    inv = gw.invite(since, callid)
    assert inv and inv["fmts"] == [8, 0, 9, 101], "%r\n%s" % (inv, diag)


def test_tenant_codec_list(sbc, gw):
    """Tenant attrs codecs=PCMU,telephone-event: PCMA is dropped for this tenant's platform only."""
    since = gw.mark()
    off = sbc.stack.log_offset()
    u = media_call(sbc, DID_PCMU, "8 0 101", NO_SINK, name="codec_tenant")
    callid, diag = _answered(sbc, off, u)
    inv = gw.invite(since, callid)
    assert inv and inv["fmts"] == [0, 101], "%r\n%s" % (inv, diag)


def test_transcoding_when_no_common_codec(sbc, gw):
    """The carrier offers G.729 only: the gateway is offered the allowed codecs instead, answers PCMA,
    the carrier's answer says G.729, and PCMA sent by the gateway reaches the carrier as G.729 (20-byte
    payloads, payload type 18)."""
    since = gw.mark()
    off = sbc.stack.log_offset()
    carrier = RtpSink(CARRIER_IP)
    try:
        u = media_call(sbc, DID_DEFAULT, "18 101", carrier.port, hold_ms=2500, name="codec_tx", start=True)
        ans = u.wait_event("ANSWERED", timeout=10)
        callid = ans and ans["callid"]
        diag = sbc.diagnose(off, callid, u)
        assert ans, diag
        inv = gw.invite(since, callid)
        assert inv and 18 not in inv["fmts"] and {0, 8, 9, 101} <= set(inv["fmts"]), "%r\n%s" % (inv, diag)
        assert sdp_media(ans["sdp_m"])[1] == [18, 101], "carrier's answer %r\n%s" % (ans, diag)
        rtpe = (inv["sdp_ip"], inv["port"])     # rtpengine's address facing the gateway
        gw.sink.send(rtpe, 8, b"\xd5" * 160, 50)
        got = wait_sink(carrier, lambda s: [p for p in s.packets if p[1] == 18], timeout=3)
        assert len(got) >= 20 and {len(p[3]) for p in got} == {20}, "carrier got %r\n%s" % (
            carrier.payload_types(), diag)
        u.wait()
        callid, diag = _answered(sbc, off, u)
        assert "event=transcoding" in sbc.stack.log_lines_for(off, callid), diag
    finally:
        carrier.close()


def test_no_common_codec_without_transcoding_488(sbc, gw):
    """transcode=0: an offer of G.729 only gets 488 Not Acceptable Here, once, and no gateway is tried."""
    _refused_488(sbc, gw, DID_NO_TX, "18 101")


def test_codec_rtpengine_cannot_transcode_488(sbc, gw):
    """G.728 (payload type 15) is nothing rtpengine can decode: 488 even with transcoding on."""
    _refused_488(sbc, gw, DID_DEFAULT, "15 101")


def test_offer_to_carrier_as_offered(sbc):
    """Outbound: CODECS_TO_CARRIER is empty, the carrier sees every codec the AI offered."""
    off = sbc.stack.log_offset()
    u = media_call(sbc, "4989123000", "8 0 18 9 101", NO_SINK, src=ALPHA_GWS[0], side=PUBLIC, name="codec_out")
    callid, diag = _answered(sbc, off, u)
    inv = find_message(sbc.peers[CARRIER_IP], callid, r"INVITE ")
    m = [l for l in body(inv or "").splitlines() if l.startswith("m=audio")]
    assert m and sdp_media(m[0])[1] == [8, 0, 18, 9, 101], "%r\n%s" % (inv, diag)
