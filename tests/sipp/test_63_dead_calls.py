"""Dead-call detection (etc/kamailio.cfg route[CALL_FEATURES], route[DLG_EXPIRED], route[RTPE_TIMEOUT];
DLG_KA_INTERVAL / DLG_KA_FAILED_LIMIT in kamailio-local.cfg, rtpengine --timeout and --b2b-url in
scripts/stack.sh).

The carrier vanishes mid-call (its SIPp is killed: no BYE, no replies from then on):
- its RTP stops, the gateway's too: rtpengine's media timeout (set to 3 s here with rtpengine-ctl) ends
  the call, Kamailio hangs up both sides (cause media-timeout);
- no RTP at all, so only SIP can tell: the SBC's in-dialog OPTIONS keepalive (every DLG_KA_INTERVAL = 30 s,
  the dialog module's minimum) goes unanswered and the SBC hangs up 10 s later (cause keepalive), within
  DLG_KA_INTERVAL + FR_TIMER + 10 s of the answer.
Each time the gateway gets the SBC's BYE, the CDR names the cause, the rating agent double records the
end of the call, and neither the dialog nor the rtpengine session is left.
"""
import subprocess
import time

import pytest

import agent_control
from media_common import SinkGateway, media_call, wait_log
from sipp_harness import CARRIER_IP, PRIVATE, RTPE_PORT
from tenant_common import callid_of
from test_30_cfg_cdr import cdr_rows

GW = "127.0.4.66"
SET = 4163
DID = "4999630001"
NO_SINK = 9
KA_INTERVAL = 30              # DLG_KA_INTERVAL default
FR_TIMER = 3                  # s, FR_TIMER default: the unanswered OPTIONS ends as 408 after it
KA_GRACE = 10                 # s the dialog module still gives a call whose keepalive failed
MEDIA_TIMEOUT = 3             # s, rtpengine --timeout for the media test
STACK_MEDIA_TIMEOUT = 60      # scripts/stack.sh


@pytest.fixture(scope="module")
def gw(sbc):
    g = SinkGateway(sbc, GW, SET, {DID: ("t4-deadcall", "")})
    yield g
    assert not g.close()


def _rtpe_timeout(seconds):
    out = subprocess.run(["rtpengine-ctl", "-ip", "127.0.0.1:%d" % (RTPE_PORT + 1), "set", "timeout",
                          str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=10).stdout
    assert "Success" in out, out


@pytest.fixture
def short_media_timeout(sbc):
    _rtpe_timeout(MEDIA_TIMEOUT)
    yield MEDIA_TIMEOUT
    _rtpe_timeout(STACK_MEDIA_TIMEOUT)


def _wait_gateway_bye(gw, since, callid, timeout):
    ev = gw.peer.wait_event("BYE", timeout=timeout, since=since)
    return ev if ev and ev.get("callid") == callid else None


def _assert_ended(sbc, gw, callid, off, u, cause):
    log = wait_log(sbc, off, callid, "event=end callid=%s " % callid)
    diag = sbc.diagnose(off, callid, u)
    assert "event=end callid=%s " % callid in log and "cause=%s side=sbc" % cause in log, diag
    cdr = cdr_rows(sbc, callid, cols=("sip_code", "cause", "side", "duration"))
    assert [(r["sip_code"], r["cause"], r["side"]) for r in cdr] == [("200", cause, "sbc")], \
        "%r\n%s" % (cdr, diag)
    reqs = agent_control.wait_requests(callid, "end_transaction")
    seen = [r["endpoint"] for r in reqs]
    assert seen == ["authorization", "begin_transaction", "end_transaction"], "agent saw %r\n%s" % (seen, diag)
    assert callid not in sbc.stack.wait_rtpe_gone(callid), "rtpengine session left\n" + diag
    assert sbc.stack.wait_dialog_ended(callid, timeout=10) in (None, 5), "dialog left\n" + diag
    return diag


def test_media_timeout_ends_call(sbc, gw, short_media_timeout):
    since = gw.mark()
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_dtmf.xml", CARRIER_IP, PRIVATE, name="dead_media", service=DID, calls=1,
                hold_ms=60000).start()
    try:
        ev = u.wait_event("DTMF_SENT", timeout=10)
        callid = callid_of(u)
        assert ev and callid, sbc.diagnose(off, callid, u)
        u.vanish()
        t_gone = time.time()
        bye = _wait_gateway_bye(gw, since, callid, timeout=MEDIA_TIMEOUT + 8)
        waited = time.time() - t_gone
    finally:
        u.vanish()
    diag = _assert_ended(sbc, gw, callid, off, u, "media-timeout")
    assert bye, "no BYE at the gateway within %d s\n%s" % (MEDIA_TIMEOUT + 8, diag)
    assert waited <= MEDIA_TIMEOUT + 8, diag


def test_keepalive_ends_call_of_vanished_carrier(sbc, gw):
    since = gw.mark()
    off = sbc.stack.log_offset()
    u = media_call(sbc, DID, "8 0 101", NO_SINK, hold_ms=120000, name="dead_ka", start=True)
    try:
        ans = u.wait_event("ANSWERED", timeout=10)
        callid = ans and ans["callid"]
        assert callid, sbc.diagnose(off, None, u)
        t_answer = time.time()
        u.vanish()
        limit = KA_INTERVAL + FR_TIMER + KA_GRACE + 3
        bye = _wait_gateway_bye(gw, since, callid, timeout=limit)
        took = time.time() - t_answer
    finally:
        u.vanish()
    diag = _assert_ended(sbc, gw, callid, off, u, "keepalive")
    assert bye, "no BYE at the gateway within %d s of the answer\n%s" % (limit, diag)
    # Not earlier than the first keepalive, and the gateway answered the ones it got.
    assert KA_INTERVAL <= took <= limit, "BYE after %.1f s\n%s" % (took, diag)
    assert [e for e in gw.peer.events("KA_OPTIONS", since) if e.get("callid") == callid], diag
