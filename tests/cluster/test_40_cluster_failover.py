"""Dialogs survive a node: a BYE for a call set up through node a that reaches node b (the carrier's
fail-over) is routed by b from the dialog b holds as a replica, b ends the call, frees its media and its
tenant lease, and writes its rating end record, which the agent gets exactly once; with node a killed
mid-call as well, while calls keep completing on node b.
"""
import os
import time

from cluster_harness import CARRIER_IP, GWS_10, SIP_PORT, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
BYE_VIA = os.path.join(HERE, "uac_call_bye_via.xml")
OPEN_DID = "4910000001"
CALLS4_DID = "4910000004"


def _rated(cluster, tag):
    """Endpoints of the begin/end requests of tag the agent accepted (200), in order."""
    return [r["endpoint"] for r in cluster.agent_requests(tag=tag)
            if r.get("endpoint") in ("begin_transaction", "end_transaction") and r.get("status") == 200]


def _stat(node, name):
    for line in node.kamcmd("rating_agent.stats").splitlines():
        if line.strip().startswith(name + ":"):
            return int(line.split(":")[1])
    raise AssertionError("%s: no %s" % (node, name))


def _leases(cluster, tid):
    now_ms = int(time.time() * 1000)
    return int(cluster.redis_raw("ZCOUNT", "sbct:calls:%d" % tid, "(%d" % now_ms, "+inf").strip() or 0)


def _call_bye_via(cluster, first, second, hold_ms, name):
    return cluster.uac(BYE_VIA, CARRIER_IP, first.private, name=name, service=CALLS4_DID, calls=1,
                       hold_ms=hold_ms, sets={"bye_host": second.private_ip, "bye_port": SIP_PORT}).start()


def _answered_and_replicated(cluster, u, offs, second):
    ans = u.wait_event("ANSWERED", timeout=10)
    assert ans is not None, "call not answered\n" + cluster.diagnose(offs, None, u)
    callid = ans["callid"]
    assert wait_until(lambda: second.dialogs().get(callid) == 4, 3), \
        "%s has no confirmed replica of %s\n%s" % (second, callid, cluster.diagnose(offs, callid, u))
    assert wait_until(lambda: _rated(cluster, callid) == ["begin_transaction"], 5), _rated(cluster, callid)
    return callid


def _assert_ended_once(cluster, offs, u, callid, mark, tid, lease_wait):
    """The call ended through b: one BYE at one gateway, begin + end accepted once, media freed, and b
    released the call's tenant lease. A live node a refreshes the leases of its calls until its copy
    of the ended dialog is destroyed (about 5 s later): lease_wait is how long the lease may stay."""
    diag = cluster.diagnose(offs, callid, u)
    assert u.rc == 0 and u.events("BYE_SENT") and u.events("BYE_OK"), diag
    got = cluster.peers.receivers(mark, callid)
    assert len(got) == 1 and got[0] in GWS_10, "receivers %r\n%s" % (got, diag)
    assert cluster.peers.events(mark, "BYE", callid)[got[0]], "the gateway did not get the BYE\n" + diag
    assert wait_until(lambda: _rated(cluster, callid) == ["begin_transaction", "end_transaction"], 5), \
        "rating records of %s: %r\n%s" % (callid, _rated(cluster, callid), diag)
    time.sleep(1.0)  # a second end record would come now
    assert _rated(cluster, callid) == ["begin_transaction", "end_transaction"], _rated(cluster, callid)
    assert wait_until(lambda: callid not in cluster.ng.calls(), 3), "rtpengine still holds " + callid
    assert "lease of Call-ID [%s]" % callid in cluster["b"].log_since(offs["b"]), "b did not release the lease"
    assert wait_until(lambda: _leases(cluster, tid) == 0, lease_wait), "the lease of the call was not released"


def test_bye_through_the_other_node_ends_the_call_once(cluster):
    """Node a alive: the BYE of a call set up through a arrives at b; b relays it, ends the dialog (a
    follows through DMQ), releases the tenant lease and writes the end record; a writes none."""
    a, b = cluster["a"], cluster["b"]
    tid = int(cluster.sql("SELECT id FROM tenants WHERE name = 'cl-calls4'")[0][0])
    cluster.agent("/_reset", {})
    before = {n: (_stat(node, "replica_ends"), _stat(node, "end_dups")) for n, node in cluster.nodes.items()}
    offs = cluster.offsets()
    mark = cluster.peers.mark()
    u = _call_bye_via(cluster, a, b, 2500, "bye-via-b")
    callid = _answered_and_replicated(cluster, u, offs, b)
    assert _leases(cluster, tid) == 1
    u.wait()
    _assert_ended_once(cluster, offs, u, callid, mark, tid, 10)
    assert _stat(b, "replica_ends") == before["b"][0] + 1
    assert _stat(a, "replica_ends") == before["a"][0]
    assert wait_until(lambda: a.dialogs().get(callid) is None, 10), a.dialogs().get(callid)


def test_node_killed_mid_call_bye_to_the_other_node(cluster):
    """Node a is killed (SIGKILL, every process) during a call it set up: the carrier's BYE to b ends
    the call, the agent gets its end exactly once, and calls placed on b all the while complete."""
    a, b = cluster["a"], cluster["b"]
    tid = int(cluster.sql("SELECT id FROM tenants WHERE name = 'cl-calls4'")[0][0])
    # no lease left by an earlier call (a live a refreshes an ended call's lease for a few s)
    assert wait_until(lambda: _leases(cluster, tid) == 0, 15)
    cluster.agent("/_reset", {})
    offs = cluster.offsets()
    mark = cluster.peers.mark()
    load = cluster.uac("uac_call_nortp.xml", CARRIER_IP, b.private, name="load-b", service=OPEN_DID,
                       calls=30, rate=3, limit=10, hold_ms=1000).start()
    u = _call_bye_via(cluster, a, b, 5000, "killed-a")
    callid = _answered_and_replicated(cluster, u, offs, b)
    try:
        killed = a.crash()
        assert killed and not a.alive()
        u.wait()
        # a is dead: nothing refreshes the lease, b's release removes it at once
        _assert_ended_once(cluster, offs, u, callid, mark, tid, 0.5)
        load.wait(timeout=60)
        assert load.rc == 0 and len(load.events("BYE_OK")) == 30, load.describe()
        print("node a killed (%d processes) mid-call; its BYE through b ended it; 30 calls on b completed"
              % len(killed))
    finally:
        if not a.alive():
            a.start()
    assert wait_until(lambda: b.kamcmd("dmq.list_nodes").count("status: active") == 2, 20), \
        b.kamcmd("dmq.list_nodes")


def _units_rule(cluster, units):
    cluster.agent("/_reset", {})
    cluster.agent("/_control", {"rules": [{"match": {"endpoint": "authorization"}, "action": "allow",
                                           "units": units}]})


def test_time_limit_enforced_by_the_owning_node_end_written_once(cluster):
    """The call's time limit (max_available_units 3 s) is the business of node a, which set the call up:
    a sends BYE both ways, b drops its replica on a's word (no end of its own), one end record."""
    a, b = cluster["a"], cluster["b"]
    _units_rule(cluster, 3)
    before = {n: (_stat(node, "replica_ends"), _stat(node, "end_dups")) for n, node in cluster.nodes.items()}
    offs = cluster.offsets()
    mark = cluster.peers.mark()
    try:
        u = cluster.uac("uac_call_wait_bye.xml", CARRIER_IP, a.private, name="limit-owner", service=OPEN_DID,
                        calls=1, rtp_echo=True).start()
        callid = _answered_and_replicated(cluster, u, offs, b)
        u.wait()
        diag = cluster.diagnose(offs, callid, u)
        assert u.rc == 0 and u.events("BYE_RECEIVED"), diag
        got = cluster.peers.receivers(mark, callid)
        assert len(got) == 1 and cluster.peers.events(mark, "BYE", callid)[got[0]], diag
        assert wait_until(lambda: _rated(cluster, callid) == ["begin_transaction", "end_transaction"], 5), \
            "%r\n%s" % (_rated(cluster, callid), diag)
        assert wait_until(lambda: a.dialogs().get(callid) is None, 10), a.dialogs().get(callid)
        # b drops its replica on a's word. Known to fail now and then: when b's copy of the timer fires
        # before a's removal reaches b, Kamailio 5.6 keeps the replica (README.md "When a node dies").
        assert wait_until(lambda: b.dialogs().get(callid) in (None, 5), 10), b.dialogs().get(callid)
        time.sleep(1.5)
        assert _rated(cluster, callid) == ["begin_transaction", "end_transaction"], _rated(cluster, callid)
        after = {n: (_stat(node, "replica_ends"), _stat(node, "end_dups")) for n, node in cluster.nodes.items()}
        assert after == before, (before, after)
    finally:
        cluster.agent("/_control", {"rules": []})
