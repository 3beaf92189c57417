"""pytest fixtures of the cluster tests: two SBC nodes and their shared services (scripts/cluster.sh,
/tmp/sbc-cluster) and the SIPp peers, for the whole session, stopped at the end whatever happened.
Run: /usr/bin/python3 -m pytest tests/cluster   (or make test-cluster)

Locks: /tmp/sbc-cluster.lock (one cluster run at a time: fixed addresses and ports) and
/tmp/sbc-test.lock (the SIPp suite's: load runs never overlap on this machine), each waited for up to
SBC_TEST_LOCK_WAIT seconds (default 900). SBC_TEST_KEEP=1 leaves everything running afterwards
(scripts/cluster.sh stop stops it; the SIPp peers exit by themselves after 15 minutes).
"""
import contextlib
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster_harness as ch  # noqa: E402

LOCKS = ("/tmp/sbc-cluster.lock", "/tmp/sbc-test.lock")


@pytest.fixture(scope="session", autouse=True)
def cluster_locks():
    wait = float(os.environ.get("SBC_TEST_LOCK_WAIT", "900"))
    try:
        with contextlib.ExitStack() as held:
            for path in LOCKS:
                held.enter_context(ch.sipp_harness.file_lock(path, wait, "cluster tests"))
            yield
    except TimeoutError as e:
        pytest.exit("the cluster tests: %s" % e, returncode=3)


@pytest.fixture(scope="session")
def cluster(request, cluster_locks):
    c = ch.Cluster()
    peers = ch.ClusterPeers()
    keep = os.environ.get("SBC_TEST_KEEP") == "1"

    def teardown():
        if keep:
            return
        try:
            c.stop()
        finally:
            peers.stop()

    c.stop()  # leftovers of an interrupted run
    ch.sipp_harness.reset_log_dir()
    request.addfinalizer(teardown)
    peers.start()
    c.start()
    c.peers = peers
    return c


@pytest.fixture(autouse=True)
def healthy(request, cluster):
    """Before each test: both nodes and every peer are up (a test that crashes a node starts it again).
    After it: no peer reported an error."""
    for node in cluster.nodes.values():
        assert node.alive(), "%s is not running" % node
    cluster.peers.check_alive()
    before = cluster.peers.error_sizes()
    yield
    new = cluster.peers.new_errors(before)
    assert not new, "SIPp peers reported errors during this test:\n" + new
