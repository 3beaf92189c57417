"""Call transfers: an AI agent hands an inbound call to a human with a blind REFER (route[TRANSFER_*] of
etc/kamailio.cfg). Per tenant (tenants.attrs "transfer=...;refer_allow=..."): refused (the default),
passed through to the carrier, or terminated by the SBC, which then calls the target through the carrier
group as an outbound call of the tenant (rating, CDR), bridges the media in rtpengine and ends the AI leg.

Own rows: tenant t7-xfer (DID 4977200001) routed to dispatcher set 7020 = the AI gateway 127.0.23.20
(address group 2: it sends the REFER), running uas_refer.xml with the test's target and hang-up mode.
The carrier's side is a SIPp caller on 127.0.1.10; the new call of a terminated transfer goes to the
session carrier peer on 127.0.1.10:5060 (carrier group 1).
"""
import re
import time

import pytest

import agent_control
from sipp_harness import CARRIER_IP, PRIVATE, PUBLIC_IP, rtp_streams
from tenant_common import TenantRows, callid_of
from test_30_cfg_cdr import cdr_rows

AI = "127.0.23.20"
SET = 7020
TENANT = "t7-xfer"
DID = "4977200001"
ALLOW = r"^\+?4930[0-9]{6,12}$"
TARGET = "+493055512345"
TARGET_URI = "sip:%s@%s" % (TARGET, PUBLIC_IP)


@pytest.fixture(scope="module")
def rows(sbc):
    r = TenantRows(sbc, name_prefix="t7-", did_prefix="4977")
    try:
        r.sql("DELETE FROM address WHERE grp = 2 AND ip_addr = '%s'" % AI)
        r.sql("INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (2, '%s', 32, 0, 't7 ai')" % AI)
        sbc.stack.kamcmd("permissions.addressReload")
        _ai(r, TARGET_URI, "bye")
        r.dispatcher_set(SET, [AI])
        r.routed_did(DID, TENANT, SET)
        yield r
    finally:
        r.sql("DELETE FROM address WHERE grp = 2 AND ip_addr = '%s'" % AI)
        sbc.stack.kamcmd("permissions.addressReload")
        errors = r.cleanup()
        assert not errors, errors


@pytest.fixture(autouse=True)
def agent_reset(sbc):
    agent_control.reset()
    yield
    agent_control.reset()


def _ai(r, target, hangup, hold_ms=1000):
    """(Re)starts the AI gateway: answers, REFERs to target after hold_ms, then hangs up itself
    (hangup "bye") or waits for the BYE ("wait")."""
    return r.gateway(AI, "uas_refer.xml", hold_ms=hold_ms,
                     sets={"target": target, "wait_bye": 1 if hangup == "wait" else 0})


def _attrs(r, attrs):
    r.set_tenant(TENANT, attrs=attrs)
    got = r.wait_lookup(DID, lambda x: x.get("attrs") == attrs, timeout=3.0)
    assert got.get("attrs") == attrs, got


def _ai_events(sbc, mark, callid):
    return sbc.peers.events(mark, callid=callid).get(AI, [])


def _kinds(evs):
    return [e["EVENT"] for e in evs]


def _wait_ai(sbc, mark, callid, kind, timeout=8.0):
    end = time.time() + timeout
    while time.time() < end:
        evs = _ai_events(sbc, mark, callid)
        if kind in _kinds(evs):
            return evs
        time.sleep(0.1)
    return _ai_events(sbc, mark, callid)


def _carrier_events(sbc, mark, callid=None):
    return sbc.peers.events(mark, callid=callid).get(CARRIER_IP, [])


def _wait_carrier(sbc, mark, callid, kind, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end and kind not in _kinds(_carrier_events(sbc, mark, callid)):
        time.sleep(0.1)
    return _kinds(_carrier_events(sbc, mark, callid))


def _transfer_calls(sbc, mark, callid):
    """Call-IDs of the new calls of transfers of callid that reached the carrier peer."""
    return [e["callid"] for e in _carrier_events(sbc, mark)
            if e["EVENT"] == "INVITE" and e["callid"].startswith("xfer-")]


@pytest.mark.parametrize("attrs,target,code,cause", [
    ("", TARGET_URI, "403", "transfer-disabled"),
    ("transfer=pass;refer_allow=" + ALLOW, "sip:+4940123456@%s" % PUBLIC_IP, "403", "target-not-allowed"),
    ("transfer=terminate;refer_allow=" + ALLOW, "sip:+4940123456@%s" % PUBLIC_IP, "403", "target-not-allowed"),
    ("transfer=pass", TARGET_URI, "403", "target-not-allowed"),
    ("transfer=pass;refer_allow=" + ALLOW, "sip:%s@%s?Replaces=abc%%3Bto-tag%%3D1" % (TARGET, PUBLIC_IP),
     "403", "attended-transfer"),
    ("transfer=terminate;refer_allow=^.*$", "sip:alice@pbx.example.com", "403", "target-not-a-number"),
    # malformed Refer-To: not a URI; a number with characters no number or user name has
    ("transfer=pass;refer_allow=" + ALLOW, "not a uri", "400", "bad-refer-to"),
    ("transfer=terminate;refer_allow=" + ALLOW, "sip:+4930<>5551234@%s" % PUBLIC_IP, "400", "bad-refer-to"),
])
def test_refer_refused(sbc, rows, attrs, target, code, cause):
    """Transfers off (TRANSFER_MODE reject), a target outside the tenant's rule (or no rule at all), an
    attended transfer, a SIP URI for terminate: 403 to the AI; a malformed Refer-To: 400. Nothing reaches
    the carrier and the call goes on (dialog confirmed, media session kept) until the AI hangs up a
    hold time later, its BYE reaching the caller."""
    _attrs(rows, attrs)
    _ai(rows, target, "bye")
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_wait_bye.xml", CARRIER_IP, PRIVATE, name="t7-xfer-refused", service=DID, calls=1,
                rtp_echo=True).start()
    ans = u.wait_event("ANSWERED", timeout=10)
    assert ans is not None, "call not answered\n" + sbc.diagnose(off, None, u)
    cid = ans["callid"]
    evs = _wait_ai(sbc, mark, cid, "REFER_REPLY")
    assert "REFER_REPLY" in _kinds(evs), "no answer to the REFER\n" + sbc.diagnose(off, cid, u)
    # the AI hangs up a hold time (1 s) after the refusal: until then the call is up as before
    state, media, bye = sbc.stack.dialogs().get(cid), sbc.stack.rtpe_calls(), u.events("BYE_RECEIVED")
    u.wait()
    diag = sbc.diagnose(off, cid, u)
    assert state == 4 and cid in media and not bye, "after the refusal: dialog state %r, media %r, BYE %r\n%s" % (
        state, cid in media, bye, diag)
    assert u.rc == 0 and u.events("BYE_RECEIVED"), diag
    evs = _wait_ai(sbc, mark, cid, "BYE_SENT_OK")
    assert _kinds(evs) == ["INVITE", "REFER_REPLY", "BYE_SENT_OK"], "%r\n%s" % (_kinds(evs), diag)
    assert evs[1]["status"] == "SIP/2.0 " + code, evs[1]["line"]
    log = sbc.stack.log_lines_for(off, cid)
    assert "event=transfer-refused" in log and "code=%s cause=%s" % (code, cause) in log, log
    assert not _transfer_calls(sbc, mark, cid), diag


def test_pass_through_to_carrier(sbc, rows):
    """pass: the carrier gets the REFER with Refer-To reduced to <sip:TARGET@carrier> and no Referred-By,
    its 202 and NOTIFYs reach the AI, and the AI's BYE the carrier."""
    _attrs(rows, "transfer=pass;refer_allow=" + ALLOW)
    _ai(rows, TARGET_URI, "bye")
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_refer.xml", CARRIER_IP, PRIVATE, name="t7-xfer-pass", service=DID, calls=1).run()
    cid = callid_of(u)
    diag = sbc.diagnose(off, cid, u)
    assert u.rc == 0 and u.events("BYE_RECEIVED"), diag
    refer = u.events("REFER")[0]
    assert refer["refer_to"].strip() == "<sip:%s@%s>" % (TARGET, CARRIER_IP), refer["line"]
    assert refer["referred_by"] == "", refer["line"]
    assert [e["code"] for e in u.events("NOTIFY_OK")] == ["100", "200"], diag
    evs = _wait_ai(sbc, mark, cid, "BYE_SENT_OK")
    kinds = _kinds(evs)
    assert kinds == ["INVITE", "REFER_REPLY", "NOTIFY", "NOTIFY", "BYE_SENT_OK"], "%r\n%s" % (kinds, diag)
    assert evs[1]["status"] == "SIP/2.0 202", evs[1]["line"]
    assert [e["frag"] for e in evs[2:4]] == ["100", "200"], diag
    log = sbc.stack.log_lines_for(off, cid)
    assert "event=transfer " in log and "mode=pass" in log and "target=%s" % TARGET in log, log
    assert "event=transfer-reply" in log and "code=202" in log, log
    assert not _transfer_calls(sbc, mark, cid), diag


def _assert_bridged_media(sbc, off, cid, new_cid, u):
    """rtpengine: the new call's session receives RTP from the carrier peer on the private side and from
    the first call's session on the public side; the first call's AI side now points at the new call."""
    q2 = sbc.stack.rtpe_query(new_cid)
    streams2 = rtp_streams(q2)
    q1 = sbc.stack.rtpe_query(cid)
    streams1 = rtp_streams(q1)
    msg = "new call streams %r\nfirst call streams %r\n%s" % (streams2, streams1, sbc.diagnose(off, cid, u))
    private2 = [s for s in streams2 if s[1] == "127.0.1.1"]
    public2 = [s for s in streams2 if s[1] == PUBLIC_IP]
    assert len(private2) == 1 and len(public2) == 1, msg
    assert private2[0][2] == CARRIER_IP and private2[0][3] >= 10, msg
    assert public2[0][2] == PUBLIC_IP and public2[0][3] >= 10, msg
    public1 = [s for s in streams1 if s[1] == PUBLIC_IP]
    assert len(public1) == 1 and public1[0][2] == PUBLIC_IP, msg


def _iflags(sbc, callid):
    m = re.search(r"\biflags:\s*(\d+)", sbc.stack.kamcmd("dlg.dlg_list", callid))
    return int(m.group(1)) if m else None


def _terminate_call(sbc, rows, caller_scenario, **kw):
    _attrs(rows, "transfer=terminate;refer_allow=" + ALLOW)
    _ai(rows, TARGET_URI, "wait")
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac(caller_scenario, CARRIER_IP, PRIVATE, name="t7-xfer-term", service=DID, calls=1, **kw).start()
    ans = u.wait_event("ANSWERED", timeout=10)
    assert ans is not None, "call not answered\n" + sbc.diagnose(off, None, u)
    cid = ans["callid"]
    evs = _wait_ai(sbc, mark, cid, "BYE")
    assert "BYE" in _kinds(evs), "AI leg not ended: %r\n%s" % (_kinds(evs), sbc.diagnose(off, cid, u))
    new = _transfer_calls(sbc, mark, cid)
    assert len(new) == 1, "new calls %r\n%s" % (new, sbc.diagnose(off, cid, u))
    return u, off, mark, cid, new[0]


def _assert_ai_side(sbc, mark, cid, diag, again=False):
    evs = _ai_events(sbc, mark, cid)
    kinds = _kinds(evs)
    want = ["INVITE", "REFER_REPLY", "NOTIFY", "NOTIFY", "BYE"] + (["BYE_AGAIN"] if again else [])
    assert kinds == want, "%r\n%s" % (kinds, diag)
    assert evs[1]["status"] == "SIP/2.0 202", evs[1]["line"]
    n1, n2, bye = evs[2], evs[3], evs[4]
    assert n1["frag"] == "100" and n1["state"].strip().startswith("active"), n1["line"]
    assert n1["event"].strip() == "refer", n1["line"]
    assert n2["frag"] == "200" and n2["state"].strip().startswith("terminated"), n2["line"]
    # The SBC's own requests to the AI leg go on from the carrier's CSeq.
    assert int(n1["cseq"]) < int(n2["cseq"]) < int(bye["cseq"]), diag


def test_terminate_bridges_and_carrier_hangs_up(sbc, rows):
    """terminate: 202, NOTIFY 100, a new outbound call of the tenant to the target through the carrier
    group (rated: authorization, begin, end under its own Call-ID), media bridged in rtpengine, NOTIFY
    200 and BYE to the AI; the caller's BYE then ends the new call too, and nothing is left."""
    u, off, mark, cid, new = _terminate_call(sbc, rows, "uac_call.xml", hold_ms=5000)
    time.sleep(1.5)  # the caller plays g711a.pcap, the carrier peer echoes it
    _assert_bridged_media(sbc, off, cid, new, u)
    # Dialog keepalives (DLG_KA_INTERVAL) go on to the caller but no longer to the AI leg, whose 481
    # would end the call (dialog iflags: 2 = keepalive to the caller, 4 = to the callee).
    flags = _iflags(sbc, cid)
    assert flags is not None and flags & 2 and not flags & 4, "iflags %r" % flags
    u.wait()
    diag = sbc.diagnose(off, cid, u)
    assert u.rc == 0 and u.events("BYE_OK"), diag
    _assert_ai_side(sbc, mark, cid, diag)
    inv = [e for e in _carrier_events(sbc, mark, new) if e["EVENT"] == "INVITE"][0]
    assert inv["ruri_user"] == TARGET and inv.get("sdp_ip") == "127.0.1.1", inv["line"] + "\n" + diag
    assert "BYE" in _wait_carrier(sbc, mark, new, "BYE"), "new call not ended\n" + diag
    log = sbc.stack.log_lines_for(off, cid)
    assert "mode=terminate" in log and "event=transfer-answered" in log, log
    # The new call is an outbound call of the tenant, authorized and accounted like any other.
    reqs = agent_control.wait_requests(new, "end_transaction")
    seen = [(r["endpoint"], r["status"]) for r in reqs]
    assert seen == [("authorization", 200), ("begin_transaction", 200), ("end_transaction", 200)], seen
    assert TARGET in reqs[0]["body"].get("destination", ""), reqs[0]["body"]
    assert reqs[0]["body"].get("tenant") == TENANT, reqs[0]["body"]
    for c in (cid, new):
        assert c not in sbc.stack.wait_rtpe_gone(c), "rtpengine still holds %s\n%s" % (c, diag)
        assert sbc.stack.wait_dialog_ended(c) in (None, 5), "dialog %s left\n%s" % (c, diag)
    rows_ = sbc.stack.sql("SELECT direction, tenant, did, cause FROM acc_cdrs WHERE callid = '%s'" % new)
    assert rows_ and rows_[0][:3] == ["out", TENANT, DID], rows_
    # The caller hung up the first call: its CDR says so (the new call's end ran inside that BYE).
    cdr = cdr_rows(sbc, cid, cols=("cause", "side"))
    assert [(r["cause"], r["side"]) for r in cdr] == [("bye", "carrier")], cdr


def test_terminate_new_callee_hangs_up(sbc, rows):
    """The transferred-to party hangs up first: the caller gets BYE. (The AI leg, already ended by the
    SBC, gets a second BYE from the dialog module, which it answers 481.)"""
    sbc.peers.replace(CARRIER_IP, "uas_answer_bye.xml", hold_ms=1500, rtp_echo=False)
    u, off, mark, cid, new = _terminate_call(sbc, rows, "uac_call_wait_bye.xml", rtp_echo=True)
    u.wait()
    diag = sbc.diagnose(off, cid, u)
    assert u.rc == 0 and u.events("BYE_RECEIVED"), diag
    assert "BYE_SENT_OK" in _wait_carrier(sbc, mark, new, "BYE_SENT_OK"), diag
    _wait_ai(sbc, mark, cid, "BYE_AGAIN", timeout=4.0)
    _assert_ai_side(sbc, mark, cid, diag, again=True)
    for c in (cid, new):
        assert c not in sbc.stack.wait_rtpe_gone(c), "rtpengine still holds %s\n%s" % (c, diag)
        assert sbc.stack.wait_dialog_ended(c) in (None, 5), "dialog %s left\n%s" % (c, diag)


def test_terminate_target_busy_call_stays_with_ai(sbc, rows):
    """The new call fails (486 from the carrier): NOTIFY 486 to the AI, the call goes on with the AI, and
    the caller's later BYE reaches the AI with a CSeq above the SBC's NOTIFYs."""
    sbc.peers.replace(CARRIER_IP, "cfg_uas_busy.xml")
    _attrs(rows, "transfer=terminate;refer_allow=" + ALLOW)
    _ai(rows, TARGET_URI, "wait")
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="t7-xfer-busy", service=DID, calls=1,
                hold_ms=3000).run()
    cid = callid_of(u)
    diag = sbc.diagnose(off, cid, u)
    assert u.rc == 0 and u.events("BYE_OK"), diag
    evs = _wait_ai(sbc, mark, cid, "BYE")
    kinds = _kinds(evs)
    assert kinds == ["INVITE", "REFER_REPLY", "NOTIFY", "NOTIFY", "BYE"], "%r\n%s" % (kinds, diag)
    assert evs[2]["frag"] == "100" and evs[3]["frag"] == "486", diag
    assert int(evs[4]["cseq"]) > int(evs[3]["cseq"]) > int(evs[2]["cseq"]), diag
    log = sbc.stack.log_lines_for(off, cid)
    assert "event=transfer-failed" in log and "code=486" in log, log
    assert cid not in sbc.stack.wait_rtpe_gone(cid), diag


def test_terminate_rating_denies_target(sbc, rows):
    """The new call goes through the rating authorization like any outbound call: a denied destination
    ends it with the mapped reply (402), the AI hears it in the NOTIFY and keeps the call."""
    agent_control.rules({"match": {"endpoint": "authorization", "destination_contains": TARGET},
                         "action": "deny", "reason": "BALANCE_INSUFFICIENT"})
    _attrs(rows, "transfer=terminate;refer_allow=" + ALLOW)
    _ai(rows, TARGET_URI, "bye")
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_wait_bye.xml", CARRIER_IP, PRIVATE, name="t7-xfer-denied", service=DID, calls=1,
                rtp_echo=True).run()
    cid = callid_of(u)
    diag = sbc.diagnose(off, cid, u)
    assert u.rc == 0 and u.events("BYE_RECEIVED"), diag
    evs = _wait_ai(sbc, mark, cid, "BYE_SENT_OK")
    assert _kinds(evs) == ["INVITE", "REFER_REPLY", "NOTIFY", "NOTIFY", "BYE_SENT_OK"], "%r\n%s" % (
        _kinds(evs), diag)
    assert evs[3]["frag"] == "402", evs[3]["line"]
    assert not _transfer_calls(sbc, mark, cid), "a denied transfer reached the carrier\n" + diag
