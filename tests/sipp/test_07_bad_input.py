"""Bad input from a listed carrier: every request gets one clean SIP error reply, a log line naming its
Call-ID, no crash, nothing reaches a gateway, and nothing in the database changes.

The messages are written byte by byte over UDP (SIPp cannot send an empty R-URI user or a NUL byte)."""
import socket
import uuid

import pytest

from sipp_harness import CARRIER_IP, PRIVATE, PRIVATE_IP, SIP_PORT

REPLY_TIMEOUT = 5.0


def _invite(ruri_user, callid, extra_header=b""):
    """A complete, otherwise valid INVITE from the carrier with the given R-URI user (bytes)."""
    branch = "z9hG4bK-bad-" + uuid.uuid4().hex[:12]
    host = ("%s:%d" % (PRIVATE_IP, SIP_PORT)).encode()
    uri = b"sip:" + (ruri_user + b"@" if ruri_user else b"") + host
    body = (b"v=0\r\no=- 1 1 IN IP4 127.0.1.10\r\ns=-\r\nc=IN IP4 127.0.1.10\r\nt=0 0\r\n"
            b"m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")
    head = [
        b"INVITE " + uri + b" SIP/2.0",
        b"Via: SIP/2.0/UDP " + CARRIER_IP.encode() + b":@PORT@;branch=" + branch.encode(),
        b"Max-Forwards: 70",
        b"From: <sip:4940000000@" + CARRIER_IP.encode() + b">;tag=bad1",
        b"To: <" + uri + b">",
        b"Call-ID: " + callid.encode(),
        b"CSeq: 1 INVITE",
        b"Contact: <sip:4940000000@" + CARRIER_IP.encode() + b":@PORT@>",
        b"Content-Type: application/sdp",
    ]
    if extra_header:
        head.append(extra_header)
    head.append(b"Content-Length: %d" % len(body))
    return head, body


def _send(head, body):
    """Sends the INVITE from the carrier's IP and returns the status code of the final reply."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((CARRIER_IP, 0))
        s.settimeout(REPLY_TIMEOUT)
        port = s.getsockname()[1]
        msg = b"\r\n".join(head).replace(b"@PORT@", b"%d" % port) + b"\r\n\r\n" + body
        s.sendto(msg, PRIVATE)
        while True:
            data, _ = s.recvfrom(65535)
            code = int(data.split(b" ", 2)[1])
            if code >= 200:
                return code, data


def _routing_rows(sbc):
    return sbc.stack.sql("SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS(',', id, did, tenant_id))), 0) "
                         "FROM did_routing")


@pytest.mark.parametrize("user,codes", [
    (b"4930" + b"1" * 196, {484}),               # 200 digits: longer than any E.164 number
    (b"", {484, 404}),                           # INVITE to the SBC itself, no DID at all
    (b"49abc0100001", {484}),                    # letters
    (b"49%27%3B%20DROP%20TABLE%20did_routing%3B--", {484}),  # SQL metacharacters, escaped
    (b"4930'--", {484}),                         # SQL metacharacters, raw
], ids=["200-digits", "empty-user", "letters", "sql-escaped", "sql-raw"])
def test_bad_did_gets_one_clean_error(sbc, user, codes):
    before = _routing_rows(sbc)
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    callid = "bad-did-" + uuid.uuid4().hex
    code, reply = _send(*_invite(user, callid))
    diag = "reply:\n%s\n%s" % (reply.decode(errors="replace"), sbc.diagnose(off, callid))
    assert code in codes, diag
    assert sbc.stack.kamailio_alive(), sbc.stack.log_tail()
    assert any(callid in line and "event=rejected" in line
               for line in sbc.stack.log_since(off).splitlines()), diag
    assert sbc.peers.receivers(mark, callid) == [], diag
    assert _routing_rows(sbc) == before


def test_nul_in_header_is_refused_cleanly(sbc):
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    callid = "bad-nul-" + uuid.uuid4().hex
    head, body = _invite(b"4930100001", callid, extra_header=b"Subject: abc\x00def")
    try:
        code, reply = _send(head, body)
    except socket.timeout:
        code, reply = None, b""
    diag = "code %r reply:\n%s\n%s" % (code, reply.decode(errors="replace"), sbc.diagnose(off, callid))
    # A NUL inside a header is not valid SIP (RFC 3261 25.1: TEXT-UTF8 excludes %x00): a 400 from the
    # sanity checks, never a routed call.
    assert code == 400, diag
    assert sbc.stack.kamailio_alive(), sbc.stack.log_tail()
    assert sbc.peers.receivers(mark, callid) == [], diag
