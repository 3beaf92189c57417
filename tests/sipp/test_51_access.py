"""Access control under attack: no open relay, in any direction, with any method or header.

Recorders take over the addresses of every gateway and carrier of the suite and listen on arbitrary
destinations (hostile_common.TARGETS), so a request or reply the SBC sends anywhere is seen.

- Strangers (unlisted IPs) on both sockets, a carrier on the public socket and a gateway on the private
  one: every request is refused with 403 (an ACK is never answered), over UDP and TCP, whatever the
  method (INVITE, REGISTER, MESSAGE, SUBSCRIBE, OPTIONS to a user, a forged in-dialog BYE, a preloaded
  Route); only OPTIONS to the SBC itself (keepalive) is answered 200 before the ACL, by design.
- A listed peer forging Contact or Route headers inside a real dialog cannot make the SBC send anything
  to another host (route[INDIALOG_NEXT_HOP]); a spoofed Via gets its reply sent back to the real source.
- SQL metacharacters in the Call-ID and the calling number (they reach acc_cdrs and the rating agent)
  change nothing in the routing tables and are stored and sent byte for byte.

The same refusals from listed sources, REGISTER/MESSAGE/SUBSCRIBE/... relay attempts and initial
requests with foreign Route sets are corpus entries (test_50_malformed.py); DIDs with SQL metacharacters
are test_07_bad_input.py; the basic 403 per side with SIPp is test_04_rejections.py.
"""
import json
import time
import uuid

import pytest

import agent_control
from hostile_common import (ALPHA_DID, OUTBOUND_NUMBER, SIDES, TARGET, TARGETS, RecorderPeers, raw_shot, shot,
                            sipwire, verdict, wait)
from sipp_harness import ALPHA_GWS, CARRIER_IP, PRIVATE

CORPUS = {e.name: e for e in sipwire.load_corpus()}
# Corpus requests sent from the wrong place (each is a valid or relay-seeking request from a listed peer
# in the corpus). Pike counts every request a stranger sends; these stay below PIKE_REQS_DENSITY (16)
# per source per sampling window so that every one is answered.
ATTEMPTS = ("valid-invite", "method-register-relay", "method-message-relay", "method-subscribe-relay",
            "method-bye-forged-route", "method-invite-route-target", "method-ack-unknown")
KEEPALIVE = "method-options-keepalive"


@pytest.fixture(scope="module")
def peers(sbc):
    p = RecorderPeers(sbc)
    yield p
    p.restore()


def _no_traffic(peers, callids):
    return [(ip, m["first"]) for ip, m in peers.messages() if m["callid"] in callids]


@pytest.mark.parametrize("src_udp,src_tcp,side", [
    ("127.0.1.99", "127.0.1.98", "private"),       # strangers on the carrier side
    ("127.0.2.99", "127.0.2.98", "public"),        # strangers on the gateway side
    (CARRIER_IP, CARRIER_IP, "public"),            # the carrier on the gateway side
    (ALPHA_GWS[0], ALPHA_GWS[1], "private"),       # gateways on the carrier side
], ids=["stranger-private", "stranger-public", "carrier-on-public", "gateway-on-private"])
def test_wrong_source_refused_whatever_it_asks(sbc, peers, src_udp, src_tcp, side):
    off = sbc.stack.log_offset()
    shots = [shot(CORPUS[name], proto, side, src=src, label="%s/%s from %s" % (name, proto, src))
             for name in ATTEMPTS + (KEEPALIVE,) for proto, src in (("udp", src_udp), ("tcp", src_tcp))]
    sipwire.send(shots, wait_for=lambda s: s.entry.name != "method-ack-unknown", quiet=1.5)
    time.sleep(0.3)
    bad = []
    for s in shots:
        want = "200" if s.entry.name == KEEPALIVE else sipwire.DROPPED if s.entry.name == "method-ack-unknown" \
            else "403"
        got = verdict(s, peers, reach=frozenset())
        if got != want:
            bad.append("expected %s, got %s\n%s" % (want, got, s.describe()))
    pike = [l for l in sbc.stack.log_since(off).splitlines() if "pike" in l.lower()]
    assert not bad, "\n".join(bad + pike)
    leaked = _no_traffic(peers, {s.callid for s in shots})
    assert leaked == [], leaked


def _dialog(sbc, peers, side, contact=None):
    """A call answered by a recorder (200) from the listed peer of side; returns (call, callee)."""
    s = SIDES[side]
    peers.invite_code(200)
    call = sipwire.Call(s["src"], s["sbc"], s["did"], contact=contact)
    code = call.invite()
    assert code == 200, "call from %s not answered: %r\n%r" % (s["src"], code, call.received[-1:])
    got = [ip for ip, m in peers.messages(callid=call.callid) if m["method"] == "INVITE"]
    assert len(got) == 1 and got[0] in s["reach"], got
    return call, peers[got[0]]


@pytest.mark.parametrize("side", ["private", "public"], ids=["inbound", "outbound"])
def test_spoofed_contact_cannot_redirect_in_dialog_requests(sbc, peers, side):
    """The caller's Contact names another host, where the callee's requests would go. They are refused
    (403) and the other host gets nothing. A refused BYE still ends the call in the SBC (the dialog
    module acts on it) and frees its media; the caller that forged its address is left to its timers."""
    off = sbc.stack.log_offset()
    call, callee = _dialog(sbc, peers, side, contact="sip:victim@%s:5060" % TARGET)
    try:
        for method in ("INFO", "BYE"):
            code = callee.send_in_dialog(call.callid, method)
            assert code == 403, "callee's %s towards the forged Contact: %r\n%s" % (
                method, code, sbc.stack.log_lines_for(off, call.callid))
        assert peers[TARGET].snapshot() == [], peers[TARGET].snapshot()
        assert "reason=foreign-next-hop" in sbc.stack.log_lines_for(off, call.callid)
        assert sbc.stack.wait_dialog_ended(call.callid) in (None, 5)
        assert call.callid not in sbc.stack.wait_rtpe_gone(call.callid)
        assert [m for _, m in peers.messages(callid=call.callid) if m["method"] == "BYE"] == []
    finally:
        peers.invite_code(486)
        call.close()


@pytest.mark.parametrize("side", ["private", "public"], ids=["inbound", "outbound"])
def test_forged_route_tail_in_known_dialog_refused(sbc, peers, side):
    """Inside a real dialog, either end appends a Route to another host after the SBC's own entries:
    refused with 403, nothing reaches the host; the dialog itself still works."""
    call, callee = _dialog(sbc, peers, side)
    tail = ["<sip:%s:5060;lr>" % TARGET]
    try:
        assert call.request("INFO", extra_routes=tail) == 403
        assert callee.send_in_dialog(call.callid, "INFO", extra_routes=tail) == 403
        assert call.request("INFO") == 200, "the dialog's own route set no longer works"
        assert call.request("BYE", extra_routes=tail) == 403
        for ip in TARGETS:
            assert peers[ip].snapshot() == [], (ip, peers[ip].snapshot())
        assert sbc.stack.wait_dialog_ended(call.callid) in (None, 5)
        assert call.callid not in sbc.stack.wait_rtpe_gone(call.callid)
    finally:
        peers.invite_code(486)
        call.close()


def test_spoofed_via_reply_goes_back_to_the_source(sbc, peers):
    """Via sent-by names another host (no rport): the reply goes to the IP the request came from
    (RFC 3261 18.2.2, received=), at the Via port, never to the named host."""
    s = raw_shot("private", lambda port: (
        "INVITE sip:4999999999@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bK-via%d\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:4940000000@%s>;tag=v%d\r\nTo: <sip:4999999999@%s>\r\n"
        "Call-ID: hostile-via-%d@x\r\nCSeq: 1 INVITE\r\nContact: <sip:a@%s:%d>\r\nContent-Length: 0\r\n\r\n"
        % (PRIVATE[0], PRIVATE[1], TARGET, port, TARGET, port, PRIVATE[0], port, CARRIER_IP, port)))
    sipwire.send([s], wait_for=lambda _: False, quiet=1.5)
    assert wait(lambda: any(m["code"] == 404 for _, m in peers.messages(callid=s.callid)), 3), \
        peers.messages(callid=s.callid)
    got = [(ip, m["first"]) for ip, m in peers.messages(callid=s.callid)]
    assert got == [(CARRIER_IP, "SIP/2.0 404 Not Found")], got


# ---- SQL metacharacters ------------------------------------------------------------------------

SQL_CALLID = "hostile-sql-'\"\\`()<>--{}[]%27%3B@x"       # every char is legal in a Call-ID word
SQL_CALLER = "49');DROP/**/TABLE/**/tenants;--"            # legal in a SIP URI user part


def _tables(sbc):
    return sbc.stack.sql(
        "SELECT (SELECT COUNT(*) FROM tenants), (SELECT COUNT(*) FROM did_routing), "
        "(SELECT COUNT(*) FROM dispatcher), (SELECT COUNT(*) FROM address), "
        "(SELECT COALESCE(SUM(CRC32(CONCAT_WS(',', id, name, gateway_group, enabled))), 0) FROM tenants), "
        "(SELECT COALESCE(SUM(CRC32(CONCAT_WS(',', id, did, tenant_id, enabled))), 0) FROM did_routing)")


def _cdr(sbc, callid):
    rows = sbc.stack.sql("SELECT HEX(callid), HEX(did), sip_code FROM acc_cdrs WHERE HEX(callid) = '%s'"
                         % callid.encode().hex().upper())
    return [(bytes.fromhex(c).decode(), bytes.fromhex(d).decode(), code) for c, d, code in rows]


@pytest.mark.parametrize("side,did,caller", [
    ("private", ALPHA_DID, "4940000000"),          # inbound, relayed: the Call-ID goes everywhere
    ("private", "4999999999", "4940000000"),       # inbound, unknown DID: refused and recorded
    ("public", OUTBOUND_NUMBER, SQL_CALLER),       # outbound: the calling number labels the CDR
], ids=["inbound-relayed", "inbound-refused", "outbound-caller"])
def test_sql_metacharacters_stored_verbatim_change_nothing(sbc, peers, side, did, caller):
    before = _tables(sbc)
    s = SIDES[side]
    callid = SQL_CALLID.replace("@", "-%s-%s-%s@" % (side, did, uuid.uuid4().hex[:8]))
    sh = raw_shot(side, lambda port: (
        "INVITE sip:%s@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-sql%d;rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:%s@%s>;tag=sql%d\r\nTo: <sip:%s@%s>\r\nCall-ID: %s\r\n"
        "CSeq: 1 INVITE\r\nContact: <sip:a@%s:%d>\r\nContent-Length: 0\r\n\r\n"
        % (did, s["sbc"][0], s["sbc"][1], s["src"], port, port, caller, s["src"], port, did, s["sbc"][0],
           callid, s["src"], port)))
    sipwire.send([sh])
    want = "404" if did == "4999999999" else sipwire.RELAYED
    assert verdict(sh, peers) == want, sh.describe()
    assert wait(lambda: _cdr(sbc, callid), 8), "no acc_cdrs row for %r" % callid
    rows = _cdr(sbc, callid)
    assert len(rows) == 1 and rows[0][0] == callid, rows
    if side == "public":
        assert rows[0][1] == caller, rows
    assert _tables(sbc) == before
    if want == sipwire.RELAYED:
        auth = [r for r in agent_control.requests(callid) if r["endpoint"] == "authorization"]
        assert len(auth) == 1 and auth[0]["body"]["transaction_tag"] == callid, auth
        if side == "public":
            assert caller in json.dumps(auth[0]["body"], ensure_ascii=False), auth[0]["body"]
