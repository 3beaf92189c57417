"""CDRs (etc/kamailio.cfg, WITH_ACC): one acc_cdrs row per call with tenant, DID, gateway, direction,
final code, duration, disconnect cause and side; per-transaction rows in acc / missed_calls carry the
same extra columns.

acc_cdrs rows are written by acc's dialog CDR engine when a routed call ends, and by acc_db_request()
for a call the SBC refuses itself; the tests poll for them by Call-ID (inserts may be asynchronous).
"""
import time

import pytest

from sipp_harness import ALPHA_GWS, BETA_GW, CARRIER_IP, PRIVATE, PUBLIC, RINGING_GW

ALPHA_DID = "4930100001"
BETA_DID = "4930200002"      # prefix 4930* -> tenant beta -> set 20 (127.0.3.10 only)
DELTA_DID = "4950100001"     # tenant delta, gateway rings forever
UNKNOWN_DID = "4999999999"

CDR_COLS = ("callid", "tenant", "did", "gateway", "direction", "sip_code", "sip_reason", "cause", "side",
            "time", "start_time", "end_time", "duration")


def cdr_rows(sbc, callid, table="acc_cdrs", cols=CDR_COLS, want=1, timeout=6.0):
    """Rows of table for callid as dicts, waiting until there are at least `want` of them."""
    q = "SELECT %s FROM %s WHERE callid = '%s' ORDER BY id" % (
        ", ".join("IFNULL(`%s`, 'NULL')" % c for c in cols), table, callid.replace("'", "''"))
    end = time.time() + timeout
    while True:
        rows = [dict(zip(cols, r)) for r in sbc.stack.sql(q)]
        if len(rows) >= want or time.time() > end:
            return rows
        time.sleep(0.2)


def one_cdr(sbc, off, callid, *sipps):
    rows = cdr_rows(sbc, callid)
    assert len(rows) == 1, "acc_cdrs rows for %s: %r\n%s" % (callid, rows, sbc.diagnose(off, callid, *sipps))
    return rows[0]


def test_cdr_answered_call_carrier_hangs_up(sbc):
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="cdr_answered", service=ALPHA_DID,
                calls=1, hold_ms=1500).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    assert u.rc == 0 and ans and u.events("BYE_OK"), sbc.diagnose(off, callid, u)
    cdr = one_cdr(sbc, off, callid, u)
    diag = "%r\n%s" % (cdr, sbc.diagnose(off, callid, u))
    assert cdr["tenant"] == "alpha" and cdr["did"] == ALPHA_DID and cdr["direction"] == "in", diag
    assert cdr["gateway"] in ["sip:%s:5060" % ip for ip in ALPHA_GWS], diag
    assert (cdr["sip_code"], cdr["sip_reason"]) == ("200", "OK"), diag
    assert (cdr["cause"], cdr["side"]) == ("bye", "carrier"), diag
    assert "NULL" not in (cdr["time"], cdr["start_time"], cdr["end_time"]), diag
    # Held 1.5 s after the ACK (start_time = answer): the duration is the talk time.
    assert 1.0 <= float(cdr["duration"]) <= 4.0, diag
    # Transaction records: the answered INVITE and the BYE, both labelled.
    acc = cdr_rows(sbc, callid, "acc", ("method", "sip_code", "tenant", "did", "gateway", "direction",
                                        "cause", "side"), want=2)
    assert [(r["method"], r["sip_code"]) for r in acc] == [("INVITE", "200"), ("BYE", "200")], "%r\n%s" % (acc, diag)
    assert all(r["tenant"] == "alpha" and r["did"] == ALPHA_DID and r["direction"] == "in" for r in acc), acc
    assert (acc[1]["cause"], acc[1]["side"]) == ("bye", "carrier"), acc


def test_cdr_answered_call_gateway_hangs_up(sbc):
    off = sbc.stack.log_offset()
    for ip in ALPHA_GWS:
        sbc.peers.replace(ip, "uas_answer_bye.xml", hold_ms=1000, rtp_echo=False)
    u = sbc.uac("uac_call_wait_bye.xml", CARRIER_IP, PRIVATE, name="cdr_gw_bye", service=ALPHA_DID,
                calls=1, rtp_echo=True).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    assert u.rc == 0 and ans and u.events("BYE_RECEIVED"), sbc.diagnose(off, callid, u)
    cdr = one_cdr(sbc, off, callid, u)
    diag = "%r\n%s" % (cdr, sbc.diagnose(off, callid, u))
    assert (cdr["sip_code"], cdr["cause"], cdr["side"]) == ("200", "bye", "gateway"), diag
    assert cdr["tenant"] == "alpha" and float(cdr["duration"]) >= 0.5, diag


def test_cdr_call_rejected_by_gateway(sbc):
    """486 from the only gateway of tenant beta: no failover (not 5xx), one CDR with the gateway's code."""
    off = sbc.stack.log_offset()
    sbc.peers.replace(BETA_GW, "cfg_uas_busy.xml")
    u = sbc.expect_code(CARRIER_IP, PRIVATE, BETA_DID, 486, name="cdr_rejected")
    fin = u.events("FINAL")
    callid = fin[0]["callid"] if fin else None
    assert u.rc == 0 and fin, sbc.diagnose(off, callid, u)
    cdr = one_cdr(sbc, off, callid, u)
    diag = "%r\n%s" % (cdr, sbc.diagnose(off, callid, u))
    assert cdr["tenant"] == "beta" and cdr["did"] == BETA_DID and cdr["direction"] == "in", diag
    assert cdr["gateway"] == "sip:%s:5060" % BETA_GW, diag
    assert (cdr["sip_code"], cdr["cause"], cdr["side"]) == ("486", "rejected", "gateway"), diag
    # Never answered: no talk time.
    assert cdr["time"] != "NULL" and float(cdr["duration"]) == 0.0, diag
    missed = cdr_rows(sbc, callid, "missed_calls", ("sip_code", "tenant", "gateway", "cause", "side"))
    assert [(m["sip_code"], m["tenant"], m["cause"], m["side"]) for m in missed] == \
        [("486", "beta", "rejected", "gateway")], "%r\n%s" % (missed, diag)


def test_cdr_call_rejected_by_sbc(sbc):
    """Unknown DID: 404 from the SBC itself, CDR with side sbc and the reason as cause."""
    off = sbc.stack.log_offset()
    u = sbc.expect_code(CARRIER_IP, PRIVATE, UNKNOWN_DID, 404, name="cdr_unknown_did")
    fin = u.events("FINAL")
    callid = fin[0]["callid"] if fin else None
    assert u.rc == 0 and fin, sbc.diagnose(off, callid, u)
    cdr = one_cdr(sbc, off, callid, u)
    diag = "%r\n%s" % (cdr, sbc.diagnose(off, callid, u))
    assert cdr["did"] == UNKNOWN_DID and cdr["direction"] == "in" and cdr["tenant"] == "-", diag
    assert (cdr["sip_code"], cdr["sip_reason"]) == ("404", "Not Found"), diag
    assert (cdr["cause"], cdr["side"]) == ("unknown-did", "sbc"), diag
    assert cdr["time"] != "NULL" and cdr["start_time"] == "NULL" and cdr["duration"] == "NULL", diag


def test_cdr_cancelled_call(sbc):
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_cancel.xml", CARRIER_IP, PRIVATE, name="cdr_cancel", service=DELTA_DID, calls=1,
                hold_ms=1000).run()
    fin = u.events("FINAL")
    callid = fin[0]["callid"] if fin else None
    assert u.rc == 0 and [e["code"] for e in fin] == ["487"], sbc.diagnose(off, callid, u)
    cdr = one_cdr(sbc, off, callid, u)
    diag = "%r\n%s" % (cdr, sbc.diagnose(off, callid, u))
    assert cdr["tenant"] == "delta" and cdr["did"] == DELTA_DID, diag
    assert cdr["gateway"] == "sip:%s:5060" % RINGING_GW, diag
    assert (cdr["sip_code"], cdr["cause"], cdr["side"]) == ("487", "cancel", "carrier"), diag
    assert float(cdr["duration"]) == 0.0, diag


def test_cdr_outbound_call(sbc):
    """AI gateway -> carrier: direction out, the carrier as gateway, the gateway's BYE (side gateway)."""
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_call_nortp.xml", ALPHA_GWS[0], PUBLIC, name="cdr_outbound", service="4989123000",
                calls=1, hold_ms=500).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    assert u.rc == 0 and ans and u.events("BYE_OK"), sbc.diagnose(off, callid, u)
    cdr = one_cdr(sbc, off, callid, u)
    diag = "%r\n%s" % (cdr, sbc.diagnose(off, callid, u))
    assert cdr["direction"] == "out" and cdr["gateway"] == "sip:%s:5060" % CARRIER_IP, diag
    assert (cdr["sip_code"], cdr["cause"], cdr["side"]) == ("200", "bye", "gateway"), diag


def test_call_events_logged_one_line_each(sbc):
    """Every call event is one log line naming Call-ID, tenant, DID, gateway and the result."""
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="log_events", service=ALPHA_DID,
                calls=1, hold_ms=300).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    assert u.rc == 0 and ans, sbc.diagnose(off, callid, u)
    time.sleep(0.3)
    lines = [l for l in sbc.stack.log_since(off).splitlines() if "callid=%s " % callid in l]
    events = [l.split("event=", 1)[1].split()[0] for l in lines if "event=" in l]
    assert events == ["routed", "answered", "end"], "\n".join(lines)
    for l in lines:
        for key in ("tenant=alpha", "did=%s" % ALPHA_DID, "gateway=sip:127.0.2.1"):
            assert key in l, "%s missing in: %s" % (key, l)
    assert "code=200" in lines[1] and "cause=bye side=carrier" in lines[2], "\n".join(lines)


@pytest.fixture
def short_dialogs(sbc):
    """Kamailio restarted with DLG_TIMEOUT=3 for one test, then restarted as it was."""
    with sbc.stack.kamailio_args(" -A DLG_TIMEOUT=3"):
        yield 3


def test_cdr_call_ended_by_dialog_timeout(sbc, short_dialogs):
    """At DLG_TIMEOUT the SBC hangs up both sides itself: BYE to the carrier and to the gateway, media
    freed, and the CDR says timeout / sbc with the talk time."""
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_wait_bye.xml", CARRIER_IP, PRIVATE, name="cdr_timeout", service=ALPHA_DID,
                calls=1, rtp_echo=True).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and ans and u.events("BYE_RECEIVED"), diag
    got = sbc.peers.receivers(mark, callid)
    assert len(got) == 1 and sbc.peers.events(mark, "BYE", callid)[got[0]], "gateway got no BYE\n" + diag
    cdr = one_cdr(sbc, off, callid, u)
    diag = "%r\n%s" % (cdr, diag)
    assert (cdr["sip_code"], cdr["cause"], cdr["side"]) == ("200", "timeout", "sbc"), diag
    # The dialog timer ticks once a second: the call may end up to 1 s before DLG_TIMEOUT.
    assert cdr["tenant"] == "alpha" and 2.0 <= float(cdr["duration"]) <= 6.0, diag
    assert callid not in sbc.stack.wait_rtpe_gone(callid), "rtpengine session left\n" + diag
    assert "event=end callid=%s " % callid in sbc.stack.log_since(off) and "cause=timeout" in \
        sbc.stack.log_lines_for(off, callid), diag
