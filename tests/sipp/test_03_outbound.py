"""Outbound calls: AI gateway (address group 2) -> SBC public side -> carrier dispatcher set 1."""
import time

from sipp_harness import ALPHA_GWS, CARRIER_IP, PRIVATE_IP, PUBLIC, PUBLIC_IP, rtp_streams


def test_outbound_call_reaches_carrier(sbc):
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    gw = ALPHA_GWS[0]
    u = sbc.uac("uac_call.xml", gw, PUBLIC, service="4989123000", calls=1, hold_ms=3000).start()
    ans = u.wait_event("ANSWERED", timeout=10)
    assert ans is not None, "not answered\n" + sbc.diagnose(off, None, u)
    callid = ans["callid"]
    time.sleep(1.5)
    q = sbc.stack.rtpe_query(callid)
    streams = rtp_streams(q)
    dlg_state = sbc.stack.dialogs().get(callid)
    u.wait()
    diag = sbc.diagnose(off, callid, u)
    assert u.rc == 0 and u.events("BYE_OK"), diag
    assert dlg_state == 4, "dialog state %r during the call\n%s" % (dlg_state, diag)
    # The gateway sees rtpengine's public address, the carrier its private one.
    assert ans.get("sdp_ip") == PUBLIC_IP, diag
    assert sbc.peers.receivers(mark, callid) == [CARRIER_IP], diag
    inv = sbc.peers.events(mark, "INVITE", callid)[CARRIER_IP][0]
    assert inv["ruri_user"] == "4989123000" and inv["ruri_host"] == CARRIER_IP, inv["line"] + "\n" + diag
    assert inv.get("sdp_ip") == PRIVATE_IP, inv["line"] + "\n" + diag
    assert sbc.peers.events(mark, "BYE", callid)[CARRIER_IP], diag
    # Media: gateway -> rtpengine (public) and the carrier's echo -> rtpengine (private).
    public = [s for s in streams if s[1] == PUBLIC_IP]
    private = [s for s in streams if s[1] == PRIVATE_IP]
    msg = "rtpengine streams %r\n%s" % (streams, diag)
    assert len(public) == 1 and public[0][2] == gw and public[0][3] >= 10, msg
    assert len(private) == 1 and private[0][2] == CARRIER_IP and private[0][3] >= 10, msg
    assert callid not in sbc.stack.wait_rtpe_gone(callid), "rtpengine session left\n" + diag
    assert sbc.stack.wait_dialog_ended(callid) in (None, 5), "dialog not ended\n" + diag
