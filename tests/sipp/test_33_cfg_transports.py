"""Transports (etc/kamailio.cfg): TCP and TLS towards the AI gateways, in both call directions, and
SRTP from a gateway ending in rtpengine (the carrier gets plain RTP/AVP).

TCP calls use SIPp (-t t1). The Debian SIPp is built without TLS, so the TLS calls use a small SIP
user agent over Python's ssl module (below): enough for INVITE / ACK / BYE on one connection.

TLS needs the stack started with WITH_TLS (scripts/stack.sh passes it with a certificate from
scripts/gen-cert.sh). If the running stack has no TLS socket, the `tls` fixture restarts Kamailio with
TLS for these tests and restarts it as it was afterwards.
"""
import os
import re
import socket
import ssl
import subprocess
import threading
import time
import uuid

import pytest

from sipp_harness import (ALPHA_GWS, CARRIER_IP, PRIVATE, PUBLIC, PUBLIC_IP, REPO, RUNDIR, SIP_PORT,
                          Sipp)
from test_32_cfg_hiding import body, find_message

TLS_PORT = SIP_PORT + 1
TCP_GW = "127.0.3.20"        # one-off gateways of this module (nothing else uses them)
TLS_GW = "127.0.3.21"
DID_TCP_GW = "4930777001"    # exact DIDs of tenant alpha routed to them by gateway_uri
DID_TLS_GW = "4930777002"
CERT_DIR = os.path.join(RUNDIR, "tls")


# ---- a minimal SIP user agent over TLS -----------------------------------------------------------
def _crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def sip_msg(first_line, hdrs, body=""):
    lines = [first_line] + ["%s: %s" % hv for hv in hdrs]
    if body:
        body = _crlf(body)
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(body.encode()))
    return _crlf("\n".join(lines) + "\n\n") + body


def hdr_values(msg, name):
    head = msg.split("\r\n\r\n", 1)[0]
    out = []
    for line in head.split("\r\n")[1:]:
        n, sep, v = line.partition(":")
        if sep and n.strip().lower() == name.lower():
            out.append(v.strip())
    return out


def msg_body(msg):
    return msg.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg else ""


class SipStream:
    """SIP messages over one stream socket (TLS here): send() and recv() whole messages."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.log = []

    def send(self, msg):
        self.log.append(">>> " + msg)
        self.sock.sendall(msg.encode())

    def recv(self, timeout=10.0):
        end = time.time() + timeout
        while True:
            if b"\r\n\r\n" in self.buf:
                head, rest = self.buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"^(?:content-length|l)\s*:\s*(\d+)", head, re.M | re.I)
                n = int(m.group(1)) if m else 0
                if len(rest) >= n:
                    self.buf = rest[n:]
                    msg = (head + b"\r\n\r\n" + rest[:n]).decode(errors="replace")
                    self.log.append("<<< " + msg)
                    return msg
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("no complete SIP message within %.0fs; got %r" % (timeout, self.buf[:300]))
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed; got %r" % self.buf[:300])
            self.buf += data

    def recv_reply(self, cseq_method, timeout=10.0):
        """Next final reply to cseq_method (provisionals and other traffic skipped)."""
        end = time.time() + timeout
        while True:
            m = self.recv(max(0.1, end - time.time()))
            if m.startswith("SIP/2.0 ") and re.search(r"^CSeq:\s*\d+ %s" % cseq_method, m, re.M | re.I):
                code = int(m.split()[1])
                if code >= 200:
                    return code, m

    def transcript(self):
        return "\n".join(self.log[-12:])


def tls_client_context():
    ctx = ssl.create_default_context(cafile=os.path.join(CERT_DIR, "sbc-cert.pem"))
    ctx.check_hostname = False       # the SBC is addressed by IP; the chain is still verified
    return ctx


SRTP_OFFER = """v=0
o=gw 1 1 IN IP4 {ip}
s=tls-test
c=IN IP4 {ip}
t=0 0
m=audio {port} RTP/SAVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
a=sendrecv
"""


def tls_outbound_call(src_ip, number, hold_s=0.5):
    """Gateway-side caller over TLS: INVITE with an SDES-SRTP offer, ACK, BYE. Returns (stream, callid,
    200 OK of the INVITE, code of the BYE's reply)."""
    raw = socket.create_connection((PUBLIC_IP, TLS_PORT), timeout=5, source_address=(src_ip, 0))
    s = SipStream(tls_client_context().wrap_socket(raw))
    lport = s.sock.getsockname()[1]
    callid = "tls-%s@%s" % (uuid.uuid4().hex[:12], src_ip)
    ftag = uuid.uuid4().hex[:8]
    contact = "<sip:gw@%s:%d;transport=tls>" % (src_ip, lport)

    def base(method, cseq, branch):
        return [("Via", "SIP/2.0/TLS %s:%d;branch=z9hG4bK%s;rport" % (src_ip, lport, branch)),
                ("Max-Forwards", "70"), ("From", "<sip:4930100001@%s>;tag=%s" % (src_ip, ftag))]

    ruri = "sip:%s@%s:%d;transport=tls" % (number, PUBLIC_IP, TLS_PORT)
    s.send(sip_msg("INVITE %s SIP/2.0" % ruri, base("INVITE", 1, uuid.uuid4().hex) + [
        ("To", "<sip:%s@%s>" % (number, PUBLIC_IP)), ("Call-ID", callid), ("CSeq", "1 INVITE"),
        ("Contact", contact), ("User-Agent", "sbc-test tls")],
        SRTP_OFFER.format(ip=src_ip, port=22400)))
    code, ok = s.recv_reply("INVITE")
    if code != 200:
        return s, callid, ok, None
    to = hdr_values(ok, "To")[0]
    target = re.search(r"<([^>]+)>", hdr_values(ok, "Contact")[0]).group(1)
    rrs = [r.strip() for v in hdr_values(ok, "Record-Route") for r in v.split(",")]
    route = [("Route", ", ".join(reversed(rrs)))] if rrs else []
    s.send(sip_msg("ACK %s SIP/2.0" % target, base("ACK", 1, uuid.uuid4().hex) + [
        ("To", to), ("Call-ID", callid), ("CSeq", "1 ACK")] + route))
    time.sleep(hold_s)
    s.send(sip_msg("BYE %s SIP/2.0" % target, base("BYE", 2, uuid.uuid4().hex) + [
        ("To", to), ("Call-ID", callid), ("CSeq", "2 BYE")] + route))
    bye_code, _ = s.recv_reply("BYE")
    s.sock.close()
    return s, callid, ok, bye_code


class TlsGateway(threading.Thread):
    """AI gateway on <ip>:TLS_PORT over TLS that answers one call (100, 200 with an RTP/AVP answer), then
    waits for the BYE and answers it. Records every request it received."""

    def __init__(self, ip):
        super().__init__(daemon=True)
        self.ip = ip
        self.requests = []
        self.error = None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(CERT_DIR, "sbc-cert.pem"), os.path.join(CERT_DIR, "sbc-key.pem"))
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((ip, TLS_PORT))
        self.lsock.listen(4)
        self.lsock.settimeout(15)
        self.ctx = ctx
        self.start()

    def _reply(self, s, req, code, reason, extra=(), body=""):
        hdrs = [("Via", v) for v in hdr_values(req, "Via")]
        hdrs += [("From", hdr_values(req, "From")[0])]
        to = hdr_values(req, "To")[0]
        if code > 100 and ";tag=" not in to:
            to += ";tag=tlsgw1"
        hdrs += [("To", to), ("Call-ID", hdr_values(req, "Call-ID")[0]), ("CSeq", hdr_values(req, "CSeq")[0])]
        hdrs += [("Record-Route", v) for v in hdr_values(req, "Record-Route")] if code == 200 else []
        s.send(sip_msg("SIP/2.0 %d %s" % (code, reason), hdrs + list(extra), body))

    def run(self):
        try:
            conn, _ = self.lsock.accept()
            s = SipStream(self.ctx.wrap_socket(conn, server_side=True))
            self.stream = s
            end = time.time() + 20
            while time.time() < end:
                req = s.recv(timeout=max(0.1, end - time.time()))
                if req.startswith("SIP/2.0"):
                    continue
                self.requests.append(req)
                method = req.split()[0]
                if method == "INVITE":
                    self._reply(s, req, 100, "Trying")
                    sdp = "v=0\no=tlsgw 1 1 IN IP4 {0}\ns=tlsgw\nc=IN IP4 {0}\nt=0 0\n" \
                          "m=audio 22500 RTP/AVP 8\na=rtpmap:8 PCMA/8000\na=sendrecv\n".format(self.ip)
                    self._reply(s, req, 200, "OK", [("Contact", "<sip:tlsgw@%s:%d;transport=tls>"
                                                    % (self.ip, TLS_PORT))], sdp)
                elif method == "BYE":
                    self._reply(s, req, 200, "OK")
                    return
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.lsock.close()

    def got(self, method):
        return [r for r in self.requests if r.startswith(method + " ")]


# ---- fixtures -------------------------------------------------------------------------------------
def _listening_tcp(ip, port):
    out = subprocess.run(["ss", "-Hlnt", "sport = :%d" % port], stdout=subprocess.PIPE, text=True).stdout
    return ("%s:%d" % (ip, port)) in out


@pytest.fixture(scope="module")
def tls(sbc):
    """The stack's TLS socket on PUBLIC_IP:TLS_PORT; Kamailio is restarted with TLS if it has none."""
    if _listening_tcp(PUBLIC_IP, TLS_PORT):
        yield TLS_PORT
        return
    subprocess.run([os.path.join(REPO, "scripts", "gen-cert.sh"), CERT_DIR, PUBLIC_IP], check=True,
                   stdout=subprocess.DEVNULL)
    with sbc.stack.kamailio_args(' -A WITH_TLS -A TLS_PORT=%d -A TLS_CERT="%s/sbc-cert.pem"'
                                 ' -A TLS_KEY="%s/sbc-key.pem"' % (TLS_PORT, CERT_DIR, CERT_DIR)):
        assert _listening_tcp(PUBLIC_IP, TLS_PORT), sbc.stack.log_tail()
        yield TLS_PORT


@pytest.fixture
def gateway_dids(sbc):
    """DIDs of tenant alpha with a fixed gateway_uri over TCP / TLS (removed afterwards)."""
    rows = [(DID_TCP_GW, "sip:%s:5060;transport=tcp" % TCP_GW),
            (DID_TLS_GW, "sip:%s:%d;transport=tls" % (TLS_GW, TLS_PORT))]
    for did, uri in rows:
        sbc.stack.sql("DELETE FROM did_routing WHERE did = '%s'" % did)
        sbc.stack.sql("INSERT INTO did_routing (did, tenant_id, gateway_uri, enabled, description) "
                      "SELECT '%s', id, '%s', 1, 'cfg transport test' FROM tenants WHERE name = 'alpha'"
                      % (did, uri))
    sbc.stack.kamcmd("sbc_tenant.reload")
    yield
    sbc.stack.sql("DELETE FROM did_routing WHERE did IN ('%s', '%s')" % (DID_TCP_GW, DID_TLS_GW))
    sbc.stack.kamcmd("sbc_tenant.reload")


def _srtp_lines(sdp):
    m = re.search(r"^m=audio \d+ (\S+)", sdp, re.M)
    return (m.group(1) if m else None), ("a=crypto:" in sdp)


# ---- tests ------------------------------------------------------------------------------------------
def test_outbound_call_from_gateway_over_tcp(sbc):
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_nortp.xml", ALPHA_GWS[0], PUBLIC, name="gw_tcp", service="4989123000", calls=1,
                hold_ms=300, extra=["-t", "t1"]).run()
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and ans and u.events("BYE_OK"), diag
    assert sbc.peers.receivers(mark, callid) == [CARRIER_IP], diag
    assert sbc.peers.events(mark, "BYE", callid)[CARRIER_IP], diag


def test_inbound_call_to_gateway_over_tcp(sbc, gateway_dids):
    """The DID's gateway_uri says transport=tcp: the SBC connects to the gateway over TCP."""
    off = sbc.stack.log_offset()
    gw = Sipp("gw_tcp_uas", "uas_answer.xml", TCP_GW, port=5060, client=False, calls=1,
              extra=["-t", "t1"]).start()
    try:
        time.sleep(0.3)
        u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="to_tcp_gw", service=DID_TCP_GW,
                    calls=1, hold_ms=300).run()
        ans = u.events("ANSWERED")
        callid = ans[0]["callid"] if ans else None
        gw.wait(timeout=10)
        diag = sbc.diagnose(off, callid, u, gw)
        assert u.rc == 0 and ans and u.events("BYE_OK"), diag
        assert gw.events("INVITE") and gw.events("BYE"), diag
        assert "TCP message received" in open(gw.msg_file).read(), diag
    finally:
        gw.stop()


def test_outbound_call_over_tls_with_srtp(sbc, tls):
    """Gateway -> SBC over TLS with an SDES-SRTP offer: the carrier gets RTP/AVP without keys, the gateway
    an RTP/SAVP answer with rtpengine's own key; ACK and BYE over the same TLS connection."""
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    s, callid, ok, bye_code = tls_outbound_call(ALPHA_GWS[0], "4989123000")
    diag = "%s\n%s" % (s.transcript(), sbc.diagnose(off, callid))
    assert ok and ok.startswith("SIP/2.0 200"), diag
    assert bye_code == 200, diag
    assert _srtp_lines(msg_body(ok)) == ("RTP/SAVP", True), "answer to the gateway:\n" + diag
    assert sbc.peers.receivers(mark, callid) == [CARRIER_IP], diag
    invite = find_message(sbc.peers[CARRIER_IP], callid, r"INVITE ")
    assert invite and _srtp_lines(body(invite)) == ("RTP/AVP", False), "carrier INVITE:\n%s" % invite
    assert sbc.peers.events(mark, "BYE", callid)[CARRIER_IP], diag
    assert callid not in sbc.stack.wait_rtpe_gone(callid), diag


def test_inbound_call_to_gateway_over_tls(sbc, tls, gateway_dids):
    """The DID's gateway_uri says transport=tls: INVITE and the carrier's BYE reach the gateway over
    one TLS connection, with the tenant headers."""
    off = sbc.stack.log_offset()
    gw = TlsGateway(TLS_GW)
    u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="to_tls_gw", service=DID_TLS_GW,
                calls=1, hold_ms=300).run()
    gw.join(10)
    ans = u.events("ANSWERED")
    callid = ans[0]["callid"] if ans else None
    diag = "gateway error: %r\n%s\n%s" % (gw.error, getattr(gw, "stream", None) and gw.stream.transcript(),
                                         sbc.diagnose(off, callid, u))
    assert u.rc == 0 and ans and u.events("BYE_OK"), diag
    assert gw.error is None and len(gw.got("INVITE")) == 1 and len(gw.got("BYE")) == 1, diag
    inv = gw.got("INVITE")[0]
    assert hdr_values(inv, "X-Tenant") == ["alpha"] and hdr_values(inv, "X-DID") == [DID_TLS_GW], inv
    assert hdr_values(inv, "Via")[0].startswith("SIP/2.0/TLS %s:%d" % (PUBLIC_IP, TLS_PORT)), inv
