"""One rating outbox for the whole cluster: both nodes write their begin/end records to the same Redis
keys and both senders drain them, each call claimed by one sender at a time (rating_agent README, "the
outbox"). What counts is what the rating agent (the double) received: every call's begin and end
accepted exactly once, begin first.
"""
import collections
import time

from cluster_harness import CARRIER_IP, wait_until

OPEN_DID = "4910000001"


def _delivered(cluster, tags):
    """{tag: [endpoint of every request the double answered 200, in arrival order]} for tags."""
    out = collections.defaultdict(list)
    for r in cluster.agent_requests():
        tag = (r.get("body") or {}).get("transaction_tag")
        if tag in tags and r.get("endpoint") in ("begin_transaction", "end_transaction") and r.get("status") == 200:
            out[tag].append(r["endpoint"])
    return out


def _stat(node, name):
    out = node.kamcmd("rating_agent.stats")
    for line in out.splitlines():
        if line.strip().startswith(name + ":"):
            return int(line.split(":")[1])
    raise AssertionError("%s: no %s in %s" % (node, name, out))


def _calls(cluster, per_node, name):
    """per_node answered calls through each node at once; returns their Call-IDs."""
    sipps = [cluster.uac("uac_call_nortp.xml", CARRIER_IP, node.private, name="%s-%s" % (name, node.name),
                         service=OPEN_DID, calls=per_node, rate=10, limit=per_node, hold_ms=300).start()
             for node in cluster.nodes.values()]
    tags = set()
    for s in sipps:
        s.wait()
        assert s.rc == 0 and len(s.events("BYE_OK")) == per_node, s.describe()
        tags |= {e["callid"] for e in s.events("ANSWERED")}
    assert len(tags) == per_node * len(sipps)
    return tags


def _outbox_depth(cluster):
    return int(cluster.redis_raw("GET", "ra:depth").strip() or 0)


def test_every_call_rated_once_through_either_node(cluster):
    cluster.agent("/_reset", {})
    tags = _calls(cluster, 10, "rated")
    got = wait_until(lambda: all(len(v) == 2 for v in _delivered(cluster, tags).values())
                     and len(_delivered(cluster, tags)) == len(tags), 10)
    seen = _delivered(cluster, tags)
    assert got, "not every call rated: %r" % {t: seen.get(t) for t in tags if len(seen.get(t, [])) != 2}
    for tag in tags:
        assert seen[tag] == ["begin_transaction", "end_transaction"], (tag, seen[tag])


def test_two_senders_drain_one_outbox_without_duplicates(cluster):
    """The agent refuses begin/end (500) while 40 calls go through both nodes: 80 records pile up in the
    shared outbox. Once the agent is back, both senders drain it: each record is accepted exactly once,
    begin before end, and both nodes delivered part of it."""
    cluster.agent("/_reset", {})
    cluster.agent("/_control", {"rules": [{"match": {"endpoint": "begin_transaction"}, "action": "error"},
                                          {"match": {"endpoint": "end_transaction"}, "action": "error"}]})
    before = {n: _stat(node, "delivered") for n, node in cluster.nodes.items()}
    reclaimed = {n: _stat(node, "reclaimed") for n, node in cluster.nodes.items()}
    try:
        tags = _calls(cluster, 20, "drain")
        assert wait_until(lambda: _outbox_depth(cluster) == 2 * len(tags), 5), _outbox_depth(cluster)
        failed_tries = len([r for r in cluster.agent_requests() if r.get("status") == 500])
        assert failed_tries >= len(tags), "the senders did not try while the agent was down"
    finally:
        cluster.agent("/_control", {"rules": []})
    t0 = time.time()
    rc, out = cluster.rpc_all("rating_agent.flush")
    assert rc == 0, out
    assert wait_until(lambda: _outbox_depth(cluster) == 0, 30, step=0.2), \
        "outbox not drained: depth %d" % _outbox_depth(cluster)
    drain_s = time.time() - t0
    seen = _delivered(cluster, tags)
    bad = {t: seen.get(t) for t in tags if seen.get(t) != ["begin_transaction", "end_transaction"]}
    assert not bad, "records delivered more than once, out of order or not at all: %r" % bad
    by_node = {n: _stat(node, "delivered") - before[n] for n, node in cluster.nodes.items()}
    assert sum(by_node.values()) == 2 * len(tags), by_node
    assert all(v > 0 for v in by_node.values()), "one sender did all the work: %r" % by_node
    assert all(_stat(node, "reclaimed") == reclaimed[n] for n, node in cluster.nodes.items()), \
        "a lease expired although both senders are alive"
    assert cluster.redis_raw("HLEN", "ra:claim").strip() == "0"
    print("drained %d records in %.2f s, delivered per node %r, %d refused attempts before"
          % (2 * len(tags), drain_s, by_node, failed_tries))
