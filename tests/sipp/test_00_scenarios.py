"""The SIPp scenarios themselves, peer to peer without the SBC (caller 127.0.5.1, callee 127.0.5.2):
a scenario bug must show up here, not as a mysterious SBC failure later."""
import re
import time

import pytest

from sipp_harness import Sipp

pytestmark = pytest.mark.no_stack

CALLER, CALLEE = "127.0.5.1", "127.0.5.2"


def _pair(uas_scen, uac_scen, uas_kw=None, uac_kw=None):
    uas = Sipp("self-uas", uas_scen, CALLEE, client=False, calls=1, timeout=30, **(uas_kw or {})).start()
    time.sleep(0.3)
    uac = Sipp("self-uac", uac_scen, CALLER, remote=(CALLEE, uas.port), calls=1, service="4930100001",
               **(uac_kw or {})).run()
    uas.wait(timeout=15)
    return uac, uas


def _kinds(s):
    return [e["EVENT"] for e in s.events()]


def _diag(*sipps):
    return "\n".join(s.describe() for s in sipps)


def test_call_with_rtp(sbc_free):
    uac, uas = _pair("uas_answer.xml", "uac_call.xml", {"rtp_echo": True}, {"hold_ms": 1000})
    assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
    assert _kinds(uac) == ["ANSWERED", "BYE_OK"] and _kinds(uas) == ["INVITE", "BYE"], _diag(uac, uas)
    assert uac.events("ANSWERED")[0]["sdp_ip"] == CALLEE and uas.events("INVITE")[0]["sdp_ip"] == CALLER


def test_call_without_rtp(sbc_free):
    uac, uas = _pair("uas_answer.xml", "uac_call_nortp.xml", None, {"hold_ms": 200})
    assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
    assert _kinds(uac) == ["ANSWERED", "BYE_OK"], _diag(uac, uas)


def test_late_180_of_another_branch_is_ignored(sbc_free):
    """DESIGN.md: a 180 arriving after the 200 must not abort the call, nor leak its tag."""
    uac, uas = _pair("selftest/uas_late_180.xml", "uac_call_nortp.xml", None, {"hold_ms": 300})
    assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
    assert "tag=BRANCHB" in uac.events("ANSWERED")[0]["line"], _diag(uac, uas)
    assert uas.events("BYE"), _diag(uac, uas)


def test_reinvite_from_caller(sbc_free):
    uac, uas = _pair("uas_answer.xml", "uac_reinvite.xml", {"rtp_echo": True}, {"hold_ms": 500})
    assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
    assert _kinds(uac) == ["ANSWERED", "REINVITE_OK", "BYE_OK"], _diag(uac, uas)
    assert _kinds(uas) == ["INVITE", "REINVITE", "BYE"], _diag(uac, uas)


def test_far_end_hangs_up(sbc_free):
    uac, uas = _pair("uas_answer_bye.xml", "uac_call_wait_bye.xml", {"hold_ms": 1000}, {"rtp_echo": True})
    assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
    assert _kinds(uac) == ["ANSWERED", "BYE_RECEIVED"] and _kinds(uas) == ["INVITE", "BYE_SENT_OK"], _diag(uac, uas)


def test_far_end_reinvites_then_hangs_up(sbc_free):
    uac, uas = _pair("uas_reinvite_bye.xml", "uac_call_wait_bye.xml", {"hold_ms": 500}, {"rtp_echo": True})
    assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
    assert _kinds(uac) == ["ANSWERED", "REINVITE", "BYE_RECEIVED"], _diag(uac, uas)
    assert _kinds(uas) == ["INVITE", "REINVITE_OK", "BYE_SENT_OK"], _diag(uac, uas)


def test_cancel_while_ringing(sbc_free):
    uac, uas = _pair("uas_ring_noanswer.xml", "uac_cancel.xml", None, {"hold_ms": 300})
    assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
    assert _kinds(uac) == ["RINGING", "CANCEL_OK", "FINAL"] and uac.events("FINAL")[0]["code"] == "487"
    assert _kinds(uas) == ["INVITE", "CANCELLED"], _diag(uac, uas)


@pytest.mark.parametrize("uas_scen,expected,alt,rc", [
    ("uas_503.xml", 503, None, 0),
    ("uas_503.xml", 404, None, 1),        # wrong code: the scenario itself fails the call
    ("uas_503.xml", 484, 503, 0),         # either of two codes
    ("uas_answer.xml", 200, None, 0),     # an answer is ACKed and hung up
    ("uas_answer.xml", 404, None, 1),
])
def test_expect_code(sbc_free, uas_scen, expected, alt, rc):
    sets = {"expected_code": expected}
    if alt:
        sets["expected_alt"] = alt
    uac, uas = _pair(uas_scen, "uac_expect_code.xml", None, {"sets": sets})
    assert uac.rc == rc and uas.rc == 0, _diag(uac, uas)
    code = "503" if uas_scen == "uas_503.xml" else "200"
    assert [e["code"] for e in uac.events("FINAL")] == [code], _diag(uac, uas)
    if code == "200":
        assert _kinds(uas) == ["INVITE", "BYE"], _diag(uac, uas)


@pytest.mark.parametrize("uas_scen,sets", [("uas_answer.xml", None), ("uas_answer_bye.xml", None),
                                           ("uas_reinvite_bye.xml", None), ("uas_ring_noanswer.xml", None),
                                           ("uas_503.xml", None),
                                           ("uas_early_media.xml", {"early": 0, "sink_port": 9})])
def test_every_uas_answers_options(sbc_free, uas_scen, sets):
    uac, uas = _pair(uas_scen, "options.xml", {"sets": sets} if sets else None)
    assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
    assert _kinds(uac) == ["FINAL"] and _kinds(uas) == ["OPTIONS"], _diag(uac, uas)


def test_media_offer_and_sink(sbc_free):
    """uac_media.xml offers -set fmts on -set sink_port with extra headers; uas_answer_sink.xml answers on
    its sink port; RTP sent to the offer's port reaches the caller's sink."""
    from sipp_harness import RtpSink, sdp_media
    c_sink, g_sink = RtpSink(CALLER), RtpSink(CALLEE)
    try:
        uac, uas = _pair("uas_answer_sink.xml", "uac_media.xml",
                         {"sets": {"sink_port": g_sink.port, "answer_pt": 0}},
                         {"hold_ms": 800, "sets": {"fmts": "18 0 101", "sink_port": c_sink.port,
                                                   "from_user": "+4930111", "from_name": "",
                                                   "h1": "Privacy: id", "h2": "", "h3": ""}})
        assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
        assert _kinds(uac) == ["ANSWERED", "BYE_OK"] and _kinds(uas) == ["INVITE", "BYE"], _diag(uac, uas)
        assert sdp_media(uas.events("INVITE")[0]["sdp_m"]) == (c_sink.port, [18, 0, 101]), _diag(uac, uas)
        assert sdp_media(uac.events("ANSWERED")[0]["sdp_m"]) == (g_sink.port, [0, 101]), _diag(uac, uas)
        with open(uac.msg_file) as f:
            sent = f.read()
        assert re.search(r"^Privacy: id\r?$", sent, re.M) and "From: <sip:+4930111@" in sent, sent[:1500]
        g_sink.send((CALLER, c_sink.port), 0, b"\xff" * 160, 5, interval=0.005)
        time.sleep(0.2)
        assert c_sink.payload_types() == {0: 5}
    finally:
        c_sink.close()
        g_sink.close()


@pytest.mark.parametrize("early,code", [(0, None), (1, "183"), (2, "180")])
def test_early_media_scenario(sbc_free, early, code):
    """uas_early_media.xml sends nothing, a 183 with SDP or a 180 without, then the 200 after -d ms."""
    from sipp_harness import RtpSink
    sink = RtpSink(CALLEE)
    try:
        uac, uas = _pair("uas_early_media.xml", "uac_media.xml",
                         {"hold_ms": 600, "sets": {"early": early, "sink_port": sink.port}},
                         {"hold_ms": 200, "sets": {"fmts": "8 101", "sink_port": 9, "from_user": "4930111",
                                                   "from_name": "", "h1": "", "h2": "", "h3": ""}})
    finally:
        sink.close()
    assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
    assert _kinds(uac) == ["ANSWERED", "BYE_OK"], _diag(uac, uas)
    assert _kinds(uas) == ["INVITE"] + (["EARLY"] if code else []) + ["ANSWER", "BYE"], _diag(uac, uas)
    from test_32_cfg_hiding import sip_messages
    got = [m for m in sip_messages(uac) if re.match(r"SIP/2.0 18\d ", m)]
    assert [m[8:11] for m in got] == ([code] if code else []), got
    if code == "183":
        assert "m=audio %d RTP/AVP 8 101" % sink.port in got[0], got
    elif code == "180":
        assert not re.search(r"^v=0", got[0], re.M), got


def test_dtmf_info_and_rfc4733_scenarios(sbc_free):
    """uac_dtmf.xml plays the digits 1, 5, # as telephone-events; uac_dtmf_info.xml sends two INFOs,
    which uas_answer_sink.xml answers and logs."""
    from sipp_harness import RtpSink
    sink = RtpSink(CALLEE)
    try:
        uac, uas = _pair("uas_answer_sink.xml", "uac_dtmf.xml", {"sets": {"sink_port": sink.port, "answer_pt": 8}},
                         {"hold_ms": 200})
        assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
        assert sink.digits() == [1, 5, 11], sink.events()
        uac, uas = _pair("uas_answer_sink.xml", "uac_dtmf_info.xml",
                         {"sets": {"sink_port": sink.port, "answer_pt": 8}}, {"hold_ms": 200})
        assert (uac.rc, uas.rc) == (0, 0), _diag(uac, uas)
        infos = uas.events("INFO")
        assert [(e["type"], e["body"]) for e in infos] == [("application/dtmf-relay", "Signal=5"),
                                                          ("application/dtmf", "#")], _diag(uac, uas)
    finally:
        sink.close()
