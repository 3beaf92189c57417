"""OPTIONS keepalives to the SBC itself are answered 200 on both sides (DESIGN.md section 3)."""
import pytest

from sipp_harness import ALPHA_GWS, CARRIER_IP, PRIVATE, PUBLIC


@pytest.mark.parametrize("src_ip,side", [(CARRIER_IP, PRIVATE), (ALPHA_GWS[0], PUBLIC)],
                         ids=["carrier-to-private", "gateway-to-public"])
def test_options_answered_200(sbc, src_ip, side):
    off = sbc.stack.log_offset()
    u = sbc.uac("options.xml", src_ip, side, calls=1).run()
    finals = u.events("FINAL")
    assert u.rc == 0 and [e["code"] for e in finals] == ["200"], sbc.diagnose(off, None, u)
