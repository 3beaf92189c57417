"""Tenant limits hold for the cluster, not per node: max_calls and max_cps are decided in the shared
Redis by one atomic script per call (src/modules/sbc_tenant/README, "limits across a cluster").
Calls arrive on both nodes at once; what counts is what the callers got (answered / 486 / 503) and the
leases in Redis. When Redis cannot be reached, each node falls back to its own counters (documented:
the cluster may then admit up to one limit per node), and the leases come back once it can.
"""
import os
import re
import time

import pytest

from cluster_harness import CARRIER_IP, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
HOLD_OR_BUSY = os.path.join(HERE, "uac_hold_or_busy.xml")
CALLS4_DID = "4910000004"
CPS5_DID = "4910000005"
BURST_DID = "4910000010"


def _tid(cluster, name):
    return int(cluster.sql("SELECT id FROM tenants WHERE name = '%s'" % name)[0][0])


def _leases(cluster, tid):
    """Leases of the tenant in Redis that have not expired."""
    now_ms = int(time.time() * 1000)
    return int(cluster.redis_raw("ZCOUNT", "sbct:calls:%d" % tid, "(%d" % now_ms, "+inf").strip() or 0)


def _start(cluster, node, did, calls, rate, hold_ms, name):
    return cluster.uac(HOLD_OR_BUSY, CARRIER_IP, node.private, name=name, service=did, calls=calls,
                       rate=rate, limit=calls, hold_ms=hold_ms).start()


def _outcome(sipps):
    answered = sum(len(s.events("ANSWERED")) for s in sipps)
    refused = [e.get("code") for s in sipps for e in s.events("REFUSED")]
    return answered, refused


def _wait_all(sipps):
    for s in sipps:
        s.wait()
        assert s.rc == 0, s.describe()


def _list(node, tid):
    out = node.kamcmd("sbc_tenant.list", str(tid))
    return {k: v for k, v in re.findall(r"^[ \t]*(\w+):[ \t]*(\S*)", out, re.M)}


def test_max_calls_4_spread_over_both_nodes(cluster):
    """Two calls held through each node fill the tenant's 4 slots: a fifth call is refused on either
    node, and the slots come back when the calls end."""
    tid = _tid(cluster, "cl-calls4")
    held = [_start(cluster, node, CALLS4_DID, 2, 20, 6000, "hold4-" + node.name)
            for node in cluster.nodes.values()]
    got = wait_until(lambda: _outcome(held)[0] == 4, 5)
    assert got, "not 4 calls answered: %r\n%s" % (_outcome(held), "\n".join(s.describe() for s in held))
    assert _leases(cluster, tid) == 4
    for node in cluster.nodes.values():
        row = _list(node, tid)
        assert row.get("cluster_calls") == "4" and row.get("calls") == "2", "%s: %r" % (node, row)
    extra = [_start(cluster, node, CALLS4_DID, 1, 1, 500, "extra-" + node.name) for node in cluster.nodes.values()]
    _wait_all(extra)
    assert _outcome(extra) == (0, ["486", "486"]), _outcome(extra)
    _wait_all(held)
    assert _outcome(held) == (4, [])
    assert wait_until(lambda: _leases(cluster, tid) == 0, 3), "leases left: %d" % _leases(cluster, tid)
    again = _start(cluster, cluster["b"], CALLS4_DID, 1, 1, 300, "after4")
    _wait_all([again])
    assert _outcome([again]) == (1, [])


@pytest.fixture
def burst_tenant(cluster):
    cluster.sql("INSERT INTO tenants (name, gateway_group, max_calls) VALUES ('cl-burst', 10, 10) "
                "ON DUPLICATE KEY UPDATE max_calls = 10, max_cps = 0")
    tid = _tid(cluster, "cl-burst")
    cluster.sql("INSERT INTO did_routing (did, tenant_id) VALUES ('%s', %d)" % (BURST_DID, tid))
    try:
        for node in cluster.nodes.values():
            assert wait_until(lambda: node.lookup(BURST_DID).get("tenant") == "cl-burst", 5)
        yield tid
    finally:
        cluster.sql("DELETE FROM did_routing WHERE did = '%s'" % BURST_DID)
        cluster.sql("DELETE FROM tenants WHERE name = 'cl-burst'")


def test_burst_on_both_nodes_never_over_max_calls(cluster, burst_tenant):
    """25 calls at 200 calls/s into each node at the same moment, max_calls 10, held 3 s: exactly 10
    answered in every round, the rest 486 (the overshoot a cluster with per-node counters would have:
    10 more)."""
    rounds = []
    for r in range(3):
        sipps = [_start(cluster, node, BURST_DID, 25, 200, 3000, "burst%d-%s" % (r, node.name))
                 for node in cluster.nodes.values()]
        peak = 0
        end = time.time() + 2.5
        while time.time() < end:
            peak = max(peak, _leases(cluster, burst_tenant))
            time.sleep(0.05)
        _wait_all(sipps)
        answered, refused = _outcome(sipps)
        per_node = [len(s.events("ANSWERED")) for s in sipps]
        rounds.append((answered, per_node, peak))
        assert answered == 10 and refused == ["486"] * 40 and peak <= 10, rounds
        assert wait_until(lambda: _leases(cluster, burst_tenant) == 0, 3)
    print("max_calls 10, 2 x 25 calls at 200/s per node: answered (per node) and peak leases per round: %r"
          % rounds)


def test_cps_across_both_nodes(cluster):
    """max_cps 5 for the cluster: 10 calls into each node at once get 5 (6 with the refill during the
    burst) through, not 5 per node; the others get 503."""
    sipps = [_start(cluster, node, CPS5_DID, 10, 200, 200, "cps-" + node.name) for node in cluster.nodes.values()]
    _wait_all(sipps)
    answered, refused = _outcome(sipps)
    assert 5 <= answered <= 6 and refused == ["503"] * (20 - answered), (answered, refused)
    print("max_cps 5, 2 x 10 calls at once: %d answered" % answered)


def test_redis_unreachable_falls_back_to_node_counters(cluster):
    """Redis does not answer (paused): each node checks against its own counters with the full limit
    (documented: up to one limit per node, 2 x 4 here), counts the fallback, and once Redis answers
    again the refresh gives the calls their leases back."""
    tid = _tid(cluster, "cl-calls4")
    before = {n: int(re.search(r"checks_fallback:\s*(\d+)", node.kamcmd("sbc_tenant.stats")).group(1))
              for n, node in cluster.nodes.items()}
    cluster.redis("CLIENT", "PAUSE", "3000", "ALL")
    sipps = [_start(cluster, node, CALLS4_DID, 6, 50, 9000, "fallback-" + node.name)
             for node in cluster.nodes.values()]
    got = wait_until(lambda: _outcome(sipps)[0] == 8 and len(_outcome(sipps)[1]) == 4, 6)
    assert got, _outcome(sipps)
    assert [len(s.events("ANSWERED")) for s in sipps] == [4, 4]
    for n, node in cluster.nodes.items():
        now = int(re.search(r"checks_fallback:\s*(\d+)", node.kamcmd("sbc_tenant.stats")).group(1))
        assert now - before[n] == 6, (n, before[n], now)
    # Redis answers again: the refresh (every CLUSTER_LEASE_S / 3 s) registers the 8 calls
    assert wait_until(lambda: _leases(cluster, tid) == 8, 5), _leases(cluster, tid)
    _wait_all(sipps)
    assert wait_until(lambda: _leases(cluster, tid) == 0, 3), _leases(cluster, tid)
