"""pytest fixtures of the SIPp suite: one test stack (scripts/stack.sh, test environment of
notes/interfaces.md) and the SIPp peers (carrier + AI gateways) for the whole session, stopped at the
end whatever happened. Run: /usr/bin/python3 -m pytest tests/sipp

SBC_TEST_KEEP=1 leaves the stack and the peers running after the session (for debugging).
SIPp logs: $SBC_RUNDIR/sipp/ (default /tmp/sbc-test/sipp/), Kamailio's: $SBC_RUNDIR/kamailio.log.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sipp_harness as harness  # noqa: E402


@pytest.fixture(scope="session")
def sbc(request):
    stack = harness.Stack()
    peers = harness.Peers()
    keep = os.environ.get("SBC_TEST_KEEP") == "1"

    def teardown():
        if keep:
            return
        try:
            stack.stop()
        finally:
            peers.stop()

    # A stack left over by an interrupted run would keep its old data and processes: start clean.
    stack.stop()
    harness.reset_log_dir()
    request.addfinalizer(teardown)
    # Peers first: the SBC probes its dispatcher destinations from the moment it starts.
    peers.start()
    stack.start()
    return harness.Sbc(stack, peers)


@pytest.fixture(autouse=True)
def healthy(request, sbc):
    """Before each test: Kamailio and every peer are up. After it: peers a test replaced are back, and
    no peer reported an error (unexpected message, failed call) during the test."""
    assert sbc.stack.kamailio_alive(), "Kamailio is not running:\n" + sbc.stack.log_tail()
    sbc.peers.check_alive()
    errors_before = sbc.peers.error_sizes()
    yield
    for ip in list(getattr(sbc.peers, "_saved", {})):
        sbc.peers.restore(ip)
    new = sbc.peers.new_errors(errors_before)
    assert not new, "SIPp peers reported errors during this test:\n" + new
