"""Malformed and tricky SIP: the corpus tests/hostile/corpus/*.sip (what each message is and the outcome
it must have, with the RFC reason, is written in the file itself; see tests/hostile/README.md), sent over
UDP and TCP to both sockets from the listed peer of each side.

Every message gets exactly the reply its file names, or none when it says "dropped"; "relayed" means it
reached a peer of the other side (and nothing else). While the corpus runs, recorders sit on the
addresses of every gateway and carrier of the suite and on a few arbitrary destinations, so anything
the SBC sends anywhere is seen: nothing may arrive there but the relayed messages. Afterwards the same
Kamailio process is still running, logged no crash, holds no dialog or media session of the corpus, and
still routes a normal call both ways.

bad input from the DID side (DID length, letters, SQL metacharacters) is in test_07_bad_input.py.
"""
import time

import pytest

from hostile_common import SIDES, RecorderPeers, crash_lines, shot, sipwire, verdict
from sipp_harness import ALPHA_GWS, CARRIER_IP, PRIVATE, PUBLIC

ENTRIES = sipwire.load_corpus()


class CorpusRun:
    def __init__(self, sbc):
        self.sbc = sbc
        self.pid = sbc.stack.kamailio_pid()
        self.log_offset = sbc.stack.log_offset()
        self.peers = RecorderPeers(sbc)
        self.shots = [shot(e, proto, side, media_port=40000 + 2 * i)
                      for i, (e, proto, side) in enumerate(
                          (e, p, s) for e in ENTRIES for p in e.transports for s in e.sides)]
        self.started = time.time()
        # 5 ms apart: the relayed ones are calls the rating agent authorizes, a few hundred at once would
        # be a burst beyond RATING_TIMEOUT_MS.
        sipwire.send(self.shots, wait_for=lambda s: sipwire.DROPPED not in s.entry.expect(s.proto, s.side),
                     quiet=2.0, deadline=20.0, spacing=0.005)
        self.duration = time.time() - self.started
        time.sleep(0.5)    # a relayed message still on its way to a recorder
        self.recorded = self.peers.messages()

    def restore(self):
        if self.peers is not None:
            self.peers.restore()
            self.peers = None


@pytest.fixture(scope="module")
def corpus(sbc):
    run = CorpusRun(sbc)
    yield run
    run.restore()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_corpus_message(corpus, entry):
    bad = []
    for sh in (s for s in corpus.shots if s.entry is entry):
        want = entry.expect(sh.proto, sh.side)
        got = verdict(sh, corpus.peers)
        if got not in want:
            bad.append("%s/%s: expected %s, got %s\n%s" % (sh.proto, sh.side, "|".join(sorted(want)), got,
                                                          sh.describe()))
    assert not bad, "%s (%s)\n%s" % (entry.name, entry.meta.get("why", ""), "\n".join(bad))


def test_corpus_nothing_else_reached_any_peer(corpus):
    """Everything the recorders got (besides the SBC's OPTIONS probes) belongs to a message that was
    meant to be relayed, at a peer of the other side: no stray reply, no request to a target."""
    relayed = {}
    for sh in corpus.shots:
        if sh.entry.expect(sh.proto, sh.side) == {sipwire.RELAYED} and sh.callid:
            relayed[sh.callid] = SIDES[sh.side]["reach"]
    stray = ["%s got %s (Call-ID %s)" % (ip, m["first"], m["callid"]) for ip, m in corpus.recorded
             if m["callid"] not in relayed or ip not in relayed[m["callid"]]]
    assert not stray, "\n".join(stray[:40])
    assert len(relayed) >= 40, "the corpus relays too few messages to prove anything: %d" % len(relayed)


def test_corpus_kamailio_survived_and_still_routes(sbc, corpus):
    assert sbc.stack.kamailio_pid() == corpus.pid and sbc.stack.kamailio_alive(), sbc.stack.log_tail()
    assert crash_lines(sbc, corpus.log_offset) == []
    assert "uptime" in sbc.stack.kamcmd("core.uptime").lower()
    # Every relayed call ended with its 486: no dialog and no media session of the corpus is left.
    end = time.time() + 12
    while True:
        left = [c for c in sbc.stack.dialog_callids() + list(sbc.stack.rtpe_calls()) if c.startswith("hostile-")]
        if not left or time.time() > end:
            break
        time.sleep(0.3)
    assert left == [], "left behind by the corpus: %r" % left[:10]

    corpus.restore()
    for src, side, did in ((CARRIER_IP, PRIVATE, "4930100001"), (ALPHA_GWS[0], PUBLIC, "4989123000")):
        off = sbc.stack.log_offset()
        u = sbc.uac("uac_call_nortp.xml", src, side, name="after-corpus", service=did, calls=1,
                    hold_ms=200).run()
        assert u.rc == 0 and u.events("ANSWERED") and u.events("BYE_OK"), sbc.diagnose(off, None, u)
