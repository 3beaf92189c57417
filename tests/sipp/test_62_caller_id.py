"""Caller identity for the AI (etc/kamailio.cfg route[CALLER_ID], route[STRIP_CALLER_HDRS]; HDR_CALLER,
HDR_ORIG_CALLED in kamailio-local.cfg).

Checked in the INVITE the alpha gateway received (SIPp -trace_msg): X-Caller-Number comes from the
carrier's P-Asserted-Identity (else From), X-Original-Called from the oldest Diversion entry, next to
X-Tenant / X-DID; Privacy: id hides the number everywhere in the INVITE; copies of these headers sent by
a carrier, an AI gateway or in replies never cross the SBC.
"""
import re

from media_common import media_call
from sipp_harness import ALPHA_GWS, CARRIER_IP, PUBLIC
from tenant_common import callid_of, fixture_tenant_attrs
from test_32_cfg_hiding import find_message, headers

ALPHA_DID = "4930100001"
NO_SINK = 9
ID_HEADERS = ("x-caller-number", "x-original-called", "x-tenant", "x-did")


def _gateway_invite(sbc, mark, u, off):
    callid = callid_of(u)
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and callid and u.events("BYE_OK"), diag
    got = sbc.peers.receivers(mark, callid)
    assert len(got) == 1 and got[0] in ALPHA_GWS, "receivers %r\n%s" % (got, diag)
    inv = find_message(sbc.peers[got[0]], callid, r"INVITE ")
    assert inv, diag
    return inv, diag


def _call(sbc, **kw):
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = media_call(sbc, ALPHA_DID, "8 0 101", NO_SINK, name="callerid", **kw)
    return _gateway_invite(sbc, mark, u, off)


def _ids(inv):
    return [(n.lower(), v) for n, v in headers(inv, *ID_HEADERS)]


def test_caller_from_pai_original_called_from_diversion(sbc):
    """PAI wins over From; two Diversion headers (the newest first, the oldest with a comma in its
    display name and a tel: URI): X-Original-Called is the oldest one's number."""
    inv, diag = _call(sbc, headers=(
        "P-Asserted-Identity: \"Carrier Caller\" <sip:+4989111222@carrier.example>",
        "Diversion: <sip:4930777666@carrier.example>;reason=no-answer",
        "Diversion: \"Sales, Desk\" <tel:+4930999888>;reason=unconditional"))
    assert _ids(inv) == [("x-tenant", "alpha"), ("x-did", ALPHA_DID), ("x-caller-number", "+4989111222"),
                         ("x-original-called", "+4930999888")], "%r\n%s" % (_ids(inv), inv)
    assert headers(inv, "p-asserted-identity"), inv


def test_caller_from_from_without_pai(sbc):
    inv, diag = _call(sbc, from_user="+4989555111")
    assert _ids(inv) == [("x-tenant", "alpha"), ("x-did", ALPHA_DID), ("x-caller-number", "+4989555111")], \
        "%r\n%s" % (_ids(inv), inv)


def test_privacy_id_hides_the_caller(sbc):
    """Privacy: id: X-Caller-Number anonymous, no P-Asserted-Identity, an anonymous From, and neither
    the asserted nor the From number anywhere in the INVITE the AI gets."""
    inv, diag = _call(sbc, from_user="4989555222", from_name="\"Jane Doe\" ", headers=(
        "P-Asserted-Identity: <sip:+4989333444@carrier.example>", "Privacy: id"))
    assert ("x-caller-number", "anonymous") in _ids(inv), "%r\n%s" % (_ids(inv), inv)
    assert not headers(inv, "p-asserted-identity", "p-preferred-identity"), inv
    frm = headers(inv, "from", "f")
    assert len(frm) == 1 and re.match(r'"?Anonymous"?\s*<sip:anonymous@anonymous\.invalid>', frm[0][1]), inv
    for secret in ("4989555222", "4989333444", "Jane"):
        assert secret not in inv, "%s leaked to the AI:\n%s" % (secret, inv)


def test_forged_caller_headers_from_carrier_replaced(sbc):
    """A carrier's own X-Caller-Number / X-Original-Called never reach the AI: exactly the SBC's one."""
    inv, diag = _call(sbc, from_user="4989555333", headers=(
        "X-Caller-Number: 0000", "x-original-called: 0000", "X-CALLER-NUMBER: 1111"))
    assert _ids(inv) == [("x-tenant", "alpha"), ("x-did", ALPHA_DID), ("x-caller-number", "4989555333")], \
        "%r\n%s" % (_ids(inv), inv)


def test_caller_headers_from_gateway_dropped(sbc):
    """Outbound: whatever identity headers an AI gateway sends, the carrier gets none of them."""
    off = sbc.stack.log_offset()
    u = media_call(sbc, "4989123000", "8 0 101", NO_SINK, src=ALPHA_GWS[0], side=PUBLIC, name="callerid_out",
                   headers=("X-Caller-Number: 0000", "X-Original-Called: 0000"))
    callid = callid_of(u)
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and u.events("BYE_OK"), diag
    inv = find_message(sbc.peers[CARRIER_IP], callid, r"INVITE ")
    assert inv and not headers(inv, *ID_HEADERS), "carrier got:\n%s" % inv


def test_caller_headers_in_replies_dropped(sbc):
    """The gateway's 180 and 200 carrying identity headers of their own: the carrier sees none. (The
    gateway's 180 without SDP is relayed under ringback=relay.)"""
    for ip in ALPHA_GWS:
        sbc.peers.replace(ip, "cfg_uas_answer_xhdr.xml")
    off = sbc.stack.log_offset()
    with fixture_tenant_attrs(sbc, "alpha", ALPHA_DID, "ringback=relay"):
        u = media_call(sbc, ALPHA_DID, "8 0 101", NO_SINK, name="callerid_rpl")
    callid = callid_of(u)
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and u.events("BYE_OK"), diag
    for first in (r"SIP/2.0 180 ", r"SIP/2.0 200 "):
        rpl = find_message(u, callid, first)
        assert rpl and not headers(rpl, *ID_HEADERS), "carrier got:\n%s" % rpl
