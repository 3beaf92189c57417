"""Weighted distribution: tenant alpha's set 10 is 127.0.2.10 weight 80, 127.0.2.11 weight 20."""
from sipp_harness import ALPHA_GWS, CARRIER_IP, PRIVATE

CALLS = 100


def test_weighted_distribution(sbc):
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, service="4930100001", calls=CALLS,
                hold_ms=200, rate=25, limit=40).run()
    diag = sbc.diagnose(off, None, u)
    answered = u.events("ANSWERED")
    assert u.rc == 0 and len(answered) == CALLS and len(u.events("BYE_OK")) == CALLS, diag
    # Count only this run's calls (by Call-ID): nothing else may skew the numbers.
    ours = {e["callid"] for e in answered}
    inv = {ip: [e for e in evs if e.get("callid") in ours]
           for ip, evs in sbc.peers.events(mark, "INVITE").items()}
    a, b = len(inv[ALPHA_GWS[0]]), len(inv[ALPHA_GWS[1]])
    others = {ip: len(e) for ip, e in inv.items() if ip not in ALPHA_GWS and e}
    counts = "127.0.2.10=%d 127.0.2.11=%d others=%r" % (a, b, others)
    assert a + b == CALLS and not others, counts + "\n" + diag
    assert 68 <= a <= 92, counts
