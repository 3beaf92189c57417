"""Floods and scanners.

- One stranger floods each socket with INVITEs (UDP, hundreds per second) while the carrier places calls
  at a normal rate: pike (PIKE_REQS_DENSITY requests per PIKE_SAMPLING_TIME s, strangers only) cuts the
  flood after its first few 403s, and every carrier call completes.
- Scanner User-Agents (SCANNER_UA_RE) get no reply at all, from strangers too (the corpus sends them
  from listed peers: tests/hostile/corpus/scanner-*.sip), while the same request without the
  User-Agent gets its 403.
"""
from hostile_common import Flood, shot, sipwire
from sipp_harness import CARRIER_IP, PRIVATE, PUBLIC

FLOOD_SECONDS = 8
FLOOD_RATE = 400            # INVITEs per second per flooding source
PIKE_REQS_DENSITY = 16      # etc/kamailio-local.cfg
CALLS = 50
CALL_RATE = 6               # carrier calls per second


def test_stranger_invite_flood_cut_by_pike_carrier_calls_complete(sbc):
    off = sbc.stack.log_offset()
    calls = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="under-flood", service="4930100001",
                    calls=CALLS, rate=CALL_RATE, hold_ms=200, timeout=60).start()
    floods = [Flood("127.0.1.97", PRIVATE, FLOOD_SECONDS, FLOOD_RATE),
              Flood("127.0.2.97", PUBLIC, FLOOD_SECONDS, FLOOD_RATE)]
    for f in floods:
        f.start()
    for f in floods:
        f.join(FLOOD_SECONDS + 10)
    calls.wait()
    log = sbc.stack.log_since(off)
    diag = "floods: %s\n%s" % ([(f.src, f.sent, f.replies) for f in floods], sbc.diagnose(off, None, calls))
    assert calls.rc == 0, diag
    assert len(calls.events("ANSWERED")) == CALLS and len(calls.events("BYE_OK")) == CALLS, diag
    for f in floods:
        assert f.sent >= FLOOD_SECONDS * FLOOD_RATE * 0.9, diag
        # The ACL answers the first requests of a stranger with 403; pike then drops the rest silently.
        assert set(f.replies) == {403}, diag
        assert 1 <= f.replies[403] <= 2 * PIKE_REQS_DENSITY, diag
        assert "BLOCK" in log and f.src in "".join(l for l in log.splitlines() if "pike" in l.lower()), diag
    assert sbc.stack.kamailio_alive()


def test_scanner_user_agents_dropped_from_strangers(sbc):
    """The same OPTIONS/INVITE/REGISTER from strangers: 403 without a scanner User-Agent, nothing with."""
    corpus = {e.name: e for e in sipwire.load_corpus()}
    shots = []
    for name in ("scanner-friendly-scanner", "scanner-sipvicious", "scanner-sipcli", "valid-invite",
                 "method-register-relay"):
        for side, src in (("private", "127.0.1.96"), ("public", "127.0.2.96")):
            shots.append(shot(corpus[name], "udp", side, src=src))
    sipwire.send(shots, wait_for=lambda s: not s.entry.name.startswith("scanner-"), quiet=1.5)
    got = {(s.entry.name, s.side): s.outcome() for s in shots}
    want = {(s.entry.name, s.side): sipwire.DROPPED if s.entry.name.startswith("scanner-") else "403"
            for s in shots}
    assert got == want
