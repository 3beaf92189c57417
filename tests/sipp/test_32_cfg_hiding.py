"""Topology hiding and the SBC's own headers (etc/kamailio.cfg: topoh, rtpengine, X-Tenant/X-DID).

Checked on the wire, in the messages the far ends received (SIPp -trace_msg files): a gateway never sees
an address of the private side (carrier, SBC private socket) in Via, Record-Route, Contact, From, To
or SDP, a carrier never sees one of the public side; X-Tenant / X-DID reach the gateway with the SBC's
values only, whatever the caller sent, and never travel back or towards a carrier; headers that
describe the sender's network or software (STRIP_HEADERS_RE) do not cross.
"""
import re

from sipp_harness import ALPHA_GWS, CARRIER_IP, PRIVATE, PUBLIC
from tenant_common import fixture_tenant_attrs

ALPHA_DID = "4930100001"
PRIVATE_NET = re.compile(r"127\.0\.1\.\d+")          # carrier + SBC private side
PUBLIC_NET = re.compile(r"127\.0\.[23]\.\d+")        # AI gateways + SBC public side
TOPOLOGY_HEADERS = ("via", "v", "record-route", "route", "contact", "m", "from", "f", "to", "t")

_SEP = re.compile(r"^-{20,} .*$", re.M)


def sip_messages(sipp, direction="received"):
    """Every SIP message in a SIPp -trace_msg file that it received (or sent), as text."""
    try:
        with open(sipp.msg_file, errors="replace") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    out = []
    for block in _SEP.split(data):
        block = block.lstrip("\n")
        head, _, msg = block.partition("\n")
        if (" message %s" % direction) in head and msg.strip():
            out.append(msg.lstrip("\n"))
    return out


def find_message(sipp, callid, first_line_re, direction="received"):
    """The first message of the call whose first line matches (e.g. r'^INVITE ' or r'^SIP/2.0 200')."""
    for m in sip_messages(sipp, direction):
        if re.search(r"^(Call-ID|i)\s*:\s*%s\s*$" % re.escape(callid), m, re.M | re.I) and \
                re.match(first_line_re, m):
            return m
    return None


def headers(msg, *names):
    """[(name, value)] of the headers called one of names (case-insensitive), in order."""
    head = msg.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    out = []
    for line in head.splitlines()[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() in names:
            out.append((name.strip(), value.strip()))
    return out


def body(msg):
    parts = re.split(r"\r?\n\r?\n", msg, maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def leaks(msg, net):
    """Topology headers and SDP lines of msg that name an address of net."""
    bad = ["%s: %s" % hv for hv in headers(msg, *TOPOLOGY_HEADERS) if net.search(hv[1])]
    bad += ["sdp: " + l for l in body(msg).splitlines() if net.search(l)]
    return bad


def _received_by_gateway(sbc, mark, callid):
    got = sbc.peers.receivers(mark, callid)
    assert len(got) == 1 and got[0] in ALPHA_GWS, "receivers %r" % got
    return sbc.peers[got[0]]


def test_inbound_topology_hidden_both_ways(sbc):
    """Carrier -> gateway: the INVITE at the gateway shows nothing of the private side, the 200 at the
    carrier nothing of the public side, and the call still completes (ACK/BYE via the masked route set)."""
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="topo_in", service=ALPHA_DID, calls=1,
                hold_ms=300).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and ans and u.events("BYE_OK"), diag
    gw = _received_by_gateway(sbc, mark, callid)
    inv = find_message(gw, callid, r"INVITE ")
    assert inv, "gateway trace has no INVITE of %s\n%s" % (callid, diag)
    assert not leaks(inv, PRIVATE_NET), "private side visible at the gateway:\n%s\n---\n%s" % (
        "\n".join(leaks(inv, PRIVATE_NET)), inv)
    # The gateway still has a way back: the Record-Route facing it is the SBC's public socket.
    rr = headers(inv, "record-route")
    assert rr and "127.0.2.1" in rr[0][1], inv
    bye = find_message(gw, callid, r"BYE ")
    assert bye and not leaks(bye, PRIVATE_NET), "BYE at the gateway:\n%s" % bye
    ok = find_message(u, callid, r"SIP/2.0 200 ")
    assert ok and not leaks(ok, PUBLIC_NET), "public side visible at the carrier:\n%s\n---\n%s" % (
        "\n".join(leaks(ok, PUBLIC_NET)), ok)


def test_outbound_topology_hidden_both_ways(sbc):
    """Gateway -> carrier: the carrier's INVITE shows nothing of the public side, the gateway's 200 nothing
    of the private side."""
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_nortp.xml", ALPHA_GWS[0], PUBLIC, name="topo_out", service="4989123000",
                calls=1, hold_ms=300).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and ans and u.events("BYE_OK"), diag
    assert sbc.peers.receivers(mark, callid) == [CARRIER_IP], diag
    inv = find_message(sbc.peers[CARRIER_IP], callid, r"INVITE ")
    assert inv and not leaks(inv, PUBLIC_NET), "public side visible at the carrier:\n%s\n---\n%s" % (
        "\n".join(leaks(inv, PUBLIC_NET)), inv)
    ok = find_message(u, callid, r"SIP/2.0 200 ")
    assert ok and not leaks(ok, PRIVATE_NET), "private side visible at the gateway:\n%s\n---\n%s" % (
        "\n".join(leaks(ok, PRIVATE_NET)), ok)


def test_forged_tenant_headers_replaced_inbound(sbc):
    """A carrier's X-Tenant / X-DID never reach the gateway: it gets exactly the SBC's own pair."""
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("cfg_uac_forged_headers.xml", CARRIER_IP, PRIVATE, name="forged_in", service=ALPHA_DID,
                calls=1, hold_ms=200).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and ans and u.events("BYE_OK"), diag
    inv = find_message(_received_by_gateway(sbc, mark, callid), callid, r"INVITE ")
    assert inv, diag
    got = [(n.lower(), v) for n, v in headers(inv, "x-tenant", "x-did")]
    assert got == [("x-tenant", "alpha"), ("x-did", ALPHA_DID)], "%r\n%s" % (got, inv)
    # The carrier's charging vector and User-Agent stay on its side too.
    assert not headers(inv, "p-charging-vector", "user-agent"), inv


def test_forged_tenant_headers_dropped_outbound(sbc):
    """Towards a carrier there is no X-Tenant / X-DID at all, even when the gateway sent some."""
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("cfg_uac_forged_headers.xml", ALPHA_GWS[0], PUBLIC, name="forged_out",
                service="4989123000", calls=1, hold_ms=200).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and ans and u.events("BYE_OK"), diag
    inv = find_message(sbc.peers[CARRIER_IP], callid, r"INVITE ")
    assert inv and not headers(inv, "x-tenant", "x-did"), "carrier got:\n%s" % inv


def test_callee_tenant_headers_not_passed_back(sbc):
    """X-Tenant / X-DID in the gateway's 180 and 200 do not reach the carrier. (The gateway's 180 without
    SDP is relayed under ringback=relay; with the default, local, the carrier gets the SBC's own.)"""
    off = sbc.stack.log_offset()
    for ip in ALPHA_GWS:
        sbc.peers.replace(ip, "cfg_uas_answer_xhdr.xml")
    with fixture_tenant_attrs(sbc, "alpha", ALPHA_DID, "ringback=relay"):
        u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="xhdr_back", service=ALPHA_DID,
                    calls=1, hold_ms=200).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and ans and u.events("BYE_OK"), diag
    for first in (r"SIP/2.0 180 ", r"SIP/2.0 200 "):
        rpl = find_message(u, callid, first)
        assert rpl and not headers(rpl, "x-tenant", "x-did"), "carrier got:\n%s" % rpl
