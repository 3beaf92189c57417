"""Digest authentication towards AI trunks (GW_AUTH, route[GW_CHALLENGE] of etc/kamailio.cfg).

A gateway that challenges the SBC's INVITE (401, as LiveKit SIP trunks can) gets it again with the
credentials of table gateway_credentials, the most specific row winning; wrong credentials (challenged
again) or none end the call with 403 and the challenge never reaches the carrier. The password never
appears in Kamailio's log. The gateway (uas_auth_answer.xml) checks the Authorization itself (SIPp
verifyauth) and logs the CSeq of every request, so the test sees that the dialog's later requests (ACK,
BYE) follow the CSeq + 1 of the authenticated INVITE.

Own rows: tenant t7-auth, DID 4977100001, dispatcher set 7010 with the gateway 127.0.23.10.
"""
import hashlib

import pytest

from sipp_harness import CARRIER_IP, PRIVATE
from tenant_common import TenantRows, callid_of, sql_quote

GW = "127.0.23.10"
SET = 7010
TENANT = "t7-auth"
DID = "4977100001"
REALM = "lk.test"
USER = "sbc-t7-auth"
PASSWORD = "Pw-7c1e9b-not-in-any-log"


@pytest.fixture(scope="module")
def rows(sbc):
    r = TenantRows(sbc, name_prefix="t7-", did_prefix="4977")
    try:
        r.gateway(GW, "uas_auth_answer.xml", sets={"realm": REALM, "user": USER, "pass": PASSWORD})
        r.dispatcher_set(SET, [GW])
        r.routed_did(DID, TENANT, SET)
        yield r
    finally:
        r.sql("DELETE FROM gateway_credentials WHERE description = 't7 test'")
        errors = r.cleanup()
        assert not errors, errors


def _credentials(r, rows_):
    """Replaces the test's gateway_credentials rows: (tenant_id or None, gateway, realm, user, password,
    ha1) each."""
    r.sql("DELETE FROM gateway_credentials WHERE description = 't7 test'")
    for tid, gw, realm, user, pw, ha1 in rows_:
        r.sql("INSERT INTO gateway_credentials (tenant_id, gateway, realm, username, password, ha1, description) "
              "VALUES (%s, %s, %s, %s, %s, %d, 't7 test')"
              % (sql_quote(tid), sql_quote(gw), sql_quote(realm), sql_quote(user), sql_quote(pw), ha1))


def _gw_events(sbc, mark, callid):
    evs = sbc.peers.events(mark, callid=callid).get(GW, [])
    return {e["EVENT"]: e for e in evs}, [e["EVENT"] for e in evs]


def _assert_password_not_logged(sbc):
    with open(sbc.stack.log_path(), errors="replace") as f:
        log = f.read()
    assert PASSWORD not in log, "the gateway password is in kamailio.log"
    assert hashlib.md5(("%s:%s:%s" % (USER, REALM, PASSWORD)).encode()).hexdigest() not in log


def test_challenge_answered_with_tenant_credentials(sbc, rows):
    """Tenant row for host:port beats an any-tenant row for any gateway (wrong password): the call is
    answered, the gateway saw CSeq+1 on the authenticated INVITE and on the ACK, and the carrier's BYE
    (CSeq 2) arrives with 3."""
    _credentials(rows, [(None, "", "", "someone-else", "wrong", 0),
                        (rows.tid, "%s:5060" % GW, "", USER, PASSWORD, 0),
                        (rows.tid, GW, "", "host-only", "wrong", 0)])
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = rows.call(DID, name="t7-auth-ok")
    cid = callid_of(u)
    assert u.rc == 0 and cid, "call failed\n" + sbc.diagnose(off, cid, u)
    ev, order = _gw_events(sbc, mark, cid)
    assert order[:2] == ["CHALLENGE", "AUTH_OK"], "%r\n%s" % (order, sbc.diagnose(off, cid, u))
    assert ev["CHALLENGE"]["auth"] == "", ev["CHALLENGE"]
    assert 'username="%s"' % USER in ev["AUTH_OK"]["line"], ev["AUTH_OK"]
    first = int(ev["CHALLENGE"]["cseq"])
    assert int(ev["AUTH_OK"]["cseq"]) == first + 1, ev
    ev, order = _gw_events(sbc, mark, cid)
    assert "BYE" in ev, "%r\n%s" % (order, sbc.diagnose(off, cid, u))
    assert int(ev["ACK"]["cseq"]) == first + 1, ev["ACK"]
    assert int(ev["BYE"]["cseq"]) == 3, ev["BYE"]
    log = sbc.stack.log_lines_for(off, cid)
    assert "event=gateway-auth " in log and "realm=%s" % REALM in log, log
    assert sbc.stack.wait_dialog_ended(cid) in (None, 5)
    _assert_password_not_logged(sbc)


def test_ha1_credentials(sbc, rows):
    """ha1 = 1: the row holds MD5(user:realm:password), never the password itself."""
    ha1 = hashlib.md5(("%s:%s:%s" % (USER, REALM, PASSWORD)).encode()).hexdigest()
    _credentials(rows, [(rows.tid, GW, REALM, USER, ha1, 1)])
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = rows.call(DID, name="t7-auth-ha1")
    cid = callid_of(u)
    assert u.rc == 0 and cid, "call failed\n" + sbc.diagnose(off, cid, u)
    ev, order = _gw_events(sbc, mark, cid)
    assert order[:2] == ["CHALLENGE", "AUTH_OK"], "%r\n%s" % (order, sbc.diagnose(off, cid, u))
    _assert_password_not_logged(sbc)


@pytest.mark.parametrize("case", ["wrong-password", "no-credentials", "other-realm"])
def test_unanswerable_challenge_is_403(sbc, rows, case):
    """Wrong credentials (the gateway challenges again) or no row for this tenant/gateway/realm: the
    carrier gets 403 Gateway Authentication Failed, never the 401."""
    if case == "wrong-password":
        _credentials(rows, [(rows.tid, GW, "", USER, "not-" + PASSWORD, 0)])
        expect_events, cause = ["CHALLENGE", "AUTH_BAD"], "rejected"
    elif case == "no-credentials":
        _credentials(rows, [(rows.tid + 1000, GW, "", USER, PASSWORD, 0)])
        expect_events, cause = ["CHALLENGE"], "no-credentials"
    else:
        _credentials(rows, [(rows.tid, GW, "other.realm", USER, PASSWORD, 0)])
        expect_events, cause = ["CHALLENGE"], "no-credentials"
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_expect_code.xml", CARRIER_IP, PRIVATE, name="t7-auth-" + case, service=DID, calls=1,
                sets={"expected_code": 403}).run()
    fin = u.events("FINAL")
    cid = fin[0]["callid"] if fin else None
    assert u.rc == 0 and fin, "expected one 403\n" + sbc.diagnose(off, cid, u)
    assert "Gateway Authentication Failed" in u.messages_tail(20000), u.messages_tail()
    ev, order = _gw_events(sbc, mark, cid)
    assert order == expect_events, "%r\n%s" % (order, sbc.diagnose(off, cid, u))
    log = sbc.stack.log_lines_for(off, cid)
    assert "event=gateway-auth-failed" in log and "cause=%s" % cause in log, log
    _assert_password_not_logged(sbc)
