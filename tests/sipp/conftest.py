"""pytest fixtures of the SIPp suite: one test stack (scripts/stack.sh, test environment of
notes/interfaces.md) and the SIPp peers (carrier + AI gateways) for the whole session, stopped at the
end whatever happened. Run: /usr/bin/python3 -m pytest tests/sipp

SBC_TEST_KEEP=1 leaves the stack and the peers running after the session (for debugging).
Two runs at once would share the stack, the peers' addresses and the SIPp ports: a run waits for the
lock <SBC_RUNDIR>.lock first (up to SBC_TEST_LOCK_WAIT seconds, default 600).
SIPp logs: $SBC_RUNDIR/sipp/ (default /tmp/sbc-test/sipp/), Kamailio's: $SBC_RUNDIR/kamailio.log.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sipp_harness as harness  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def suite_lock():
    try:
        with harness.suite_lock(float(os.environ.get("SBC_TEST_LOCK_WAIT", "600"))):
            yield
    except TimeoutError as e:
        pytest.exit("the SIPp suite: %s" % e, returncode=3)


@pytest.fixture(scope="session")
def sbc(request, suite_lock):
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
    # The test database lives as long as its run dir and SIPp Call-IDs (<call>-<pid>@<ip>) come back
    # once pids wrap: accounting rows of an earlier run would answer this run's queries by Call-ID.
    stack.sql("DELETE FROM acc_cdrs; DELETE FROM acc; DELETE FROM missed_calls")
    return harness.Sbc(stack, peers)


def pytest_configure(config):
    config.addinivalue_line("markers", "no_stack: runs without the SBC stack (scenario self-tests)")


@pytest.fixture
def sbc_free():
    """For the no_stack tests: SIPp logs in a clean place, no stack."""
    harness.log_dir()


@pytest.fixture(autouse=True)
def healthy(request):
    """Before each test: Kamailio and every peer are up. After it: peers a test replaced are back, and
    no peer reported an error (unexpected message, failed call) during the test."""
    if request.node.get_closest_marker("no_stack"):
        yield
        return
    sbc = request.getfixturevalue("sbc")
    assert sbc.stack.kamailio_alive(), "Kamailio is not running:\n" + sbc.stack.log_tail()
    sbc.peers.check_alive()
    errors_before = sbc.peers.error_sizes()
    yield
    for ip in list(getattr(sbc.peers, "_saved", {})):
        sbc.peers.restore(ip)
    new = sbc.peers.new_errors(errors_before)
    assert not new, "SIPp peers reported errors during this test:\n" + new
