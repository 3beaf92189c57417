"""Calls that must be refused, with the exact SIP code, and reach no peer at all."""
import pytest

from sipp_harness import ALPHA_GWS, CARRIER_IP, PRIVATE, PUBLIC

ALPHA_DID = "4930100001"


def _assert_rejected(sbc, src_ip, side, did, code, alt=None):
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.expect_code(src_ip, side, did, code, alt)
    finals = u.events("FINAL")
    callid = finals[0]["callid"] if finals else None
    diag = sbc.diagnose(off, callid, u)
    ok_codes = {str(code)} | ({str(alt)} if alt else set())
    assert len(finals) == 1 and finals[0]["code"] in ok_codes, diag
    assert u.rc == 0, diag
    got = sbc.peers.receivers(mark, callid)
    assert callid and got == [], "peers %r got an INVITE that should have been refused\n%s" % (got, diag)
    return u


@pytest.mark.parametrize("did,code", [
    ("4999999999", 404),      # no exact DID, no prefix
    ("4970100001", 404),      # DID row disabled: not loaded
    ("4960100001", 403),      # tenant omega disabled
], ids=["unknown-did", "did-row-disabled", "tenant-disabled"])
def test_inbound_refused(sbc, did, code):
    _assert_rejected(sbc, CARRIER_IP, PRIVATE, did, code)


def test_did_with_letters_refused_and_kamailio_alive(sbc):
    # 484 Address Incomplete (invalid DID) or 404 are both acceptable answers.
    _assert_rejected(sbc, CARRIER_IP, PRIVATE, "49abc0100001", 484, alt=404)
    assert sbc.stack.kamailio_alive(), sbc.stack.log_tail()
    assert "uptime" in sbc.stack.kamcmd("core.uptime").lower()
    # And it still routes calls.
    u = sbc.uac("options.xml", CARRIER_IP, PRIVATE, calls=1).run()
    assert u.rc == 0, u.describe()


@pytest.mark.parametrize("src_ip,side,did", [
    ("127.0.1.99", PRIVATE, ALPHA_DID),       # unlisted source, carrier side
    ("127.0.2.99", PUBLIC, "4989123000"),     # unlisted source, gateway side
    (CARRIER_IP, PUBLIC, "4989123000"),       # a carrier on the gateway side
    (ALPHA_GWS[0], PRIVATE, ALPHA_DID),       # a gateway on the carrier side
], ids=["unlisted-private", "unlisted-public", "carrier-on-public", "gateway-on-private"])
def test_acl_403(sbc, src_ip, side, did):
    _assert_rejected(sbc, src_ip, side, did, 403)
