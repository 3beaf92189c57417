"""Two nodes, one configuration: both join the DMQ cluster, route calls with media through the shared
rtpengine, replicate their dialogs to each other, and pick up an admin's DID edit from the shared
database by themselves; dispatcher rows are reloaded on every node with one command.
"""
import time

import pytest

from cluster_harness import CARRIER_IP, GW_20, GWS_10, RTPE_PRIVATE_IP, RTPE_PUBLIC_IP, wait_until
from sipp_harness import rtp_streams

OPEN_DID = "4910000001"
EDIT_DID = "4910000101"


def test_nodes_join_one_cluster(cluster):
    """Each node lists both DMQ nodes as active, itself as local."""
    for node in cluster.nodes.values():
        out = node.kamcmd("dmq.list_nodes")
        hosts = sorted(h for h in ("127.0.11.1", "127.0.11.2") if "host: " + h in out)
        assert hosts == ["127.0.11.1", "127.0.11.2"], "%s: %s" % (node, out)
        assert out.count("status: active") == 2, "%s: %s" % (node, out)
        assert out.count("local: 1") == 1, "%s: %s" % (node, out)


@pytest.mark.parametrize("name", ["a", "b"])
def test_call_with_media_through_each_node_is_replicated(cluster, name):
    """A call through one node: answered, RTP both ways through the shared rtpengine, and the other node
    holds a replica of its dialog (confirmed) while it lasts and ends it with the call."""
    node = cluster[name]
    other = cluster["b" if name == "a" else "a"]
    offs = cluster.offsets()
    mark = cluster.peers.mark()
    u = cluster.uac("uac_call.xml", CARRIER_IP, node.private, service=OPEN_DID, calls=1, hold_ms=3000).start()
    ans = u.wait_event("ANSWERED", timeout=10)
    assert ans is not None, "call not answered\n" + cluster.diagnose(offs, None, u)
    callid = ans["callid"]
    time.sleep(1.5)
    replica = wait_until(lambda: other.dialogs().get(callid) == 4, 3)
    diag = cluster.diagnose(offs, callid, u)
    assert replica, "%s has no confirmed replica of %s: %r\n%s" % (other, callid, other.dialogs(), diag)
    assert node.dialogs().get(callid) == 4, diag
    streams = rtp_streams(cluster.ng.query(callid))
    private = [s for s in streams if s[1] == RTPE_PRIVATE_IP]
    public = [s for s in streams if s[1] == RTPE_PUBLIC_IP]
    assert len(private) == 1 and private[0][2] == CARRIER_IP and private[0][3] >= 10, "%r\n%s" % (streams, diag)
    assert len(public) == 1 and public[0][2] in GWS_10 and public[0][3] >= 10, "%r\n%s" % (streams, diag)
    u.wait()
    diag = cluster.diagnose(offs, callid, u)
    assert u.rc == 0 and u.events("BYE_OK"), diag
    got = cluster.peers.receivers(mark, callid)
    assert len(got) == 1 and got[0] in GWS_10, "receivers %r\n%s" % (got, diag)
    for n in (node, other):
        state = wait_until(lambda: n.dialogs().get(callid) in (None, 5), 5)
        assert state, "%s still holds %s: %r\n%s" % (n, callid, n.dialogs().get(callid), diag)
    assert wait_until(lambda: callid not in cluster.ng.calls(), 3), "rtpengine still holds %s" % callid


def _gateway_of_call(cluster, node, did, name):
    offs = cluster.offsets()
    mark = cluster.peers.mark()
    u = cluster.uac("uac_expect_code.xml", CARRIER_IP, node.private, name=name, service=did, calls=1,
                    sets={"expected_code": 200}).run()
    fin = u.events("FINAL")
    cid = fin[0].get("callid") if fin else None
    assert u.rc == 0 and fin, "call to %s via %s failed\n%s" % (did, node, cluster.diagnose(offs, cid, u))
    got = cluster.peers.receivers(mark, cid)
    assert len(got) == 1, "call via %s reached %r\n%s" % (node, got, cluster.diagnose(offs, cid, u))
    return got[0]


def test_did_edit_reaches_both_nodes(cluster):
    """The admin flow on a cluster: one INSERT/UPDATE in the shared database; every node's change tracking
    reloads its index within ~1 s, no command on any node."""
    tid = cluster.sql("SELECT id FROM tenants WHERE name = 'cl-open'")[0][0]
    try:
        cluster.sql("INSERT INTO did_routing (did, tenant_id, description) VALUES ('%s', %s, 'cluster edit')"
                    % (EDIT_DID, tid))
        t0 = time.time()
        for node in cluster.nodes.values():
            got = wait_until(lambda: node.lookup(EDIT_DID).get("tenant") == "cl-open", 5)
            assert got, "%s does not know %s: %r" % (node, EDIT_DID, node.lookup(EDIT_DID))
        new_did_s = time.time() - t0
        for node in cluster.nodes.values():
            assert _gateway_of_call(cluster, node, EDIT_DID, "edit-new-" + node.name) in GWS_10
        cluster.sql("UPDATE did_routing SET gateway_group = 20 WHERE did = '%s'" % EDIT_DID)
        t0 = time.time()
        for node in cluster.nodes.values():
            got = wait_until(lambda: node.lookup(EDIT_DID).get("gateway_group") == "20", 5)
            assert got, "%s still routes %s to %r" % (node, EDIT_DID, node.lookup(EDIT_DID))
        moved_s = time.time() - t0
        for node in cluster.nodes.values():
            assert _gateway_of_call(cluster, node, EDIT_DID, "edit-moved-" + node.name) == GW_20
        print("DID edit live on both nodes: new DID %.2f s, moved DID %.2f s" % (new_did_s, moved_s))
    finally:
        cluster.sql("DELETE FROM did_routing WHERE did = '%s'" % EDIT_DID)


def _weights(node, setid):
    out = node.kamcmd("dispatcher.list")
    block = out.split("ID: %d\n" % setid, 1)[1].split("SET:", 1)[0]
    return [int(w.split(":")[1]) for w in block.splitlines() if w.strip().startswith("WEIGHT:")]


def test_dispatcher_rows_reload_on_every_node_with_one_command(cluster):
    """Dispatcher rows live in each node's memory: dispatcher.reload on one node changes that node only;
    scripts/cluster.sh rpc dispatcher.reload (scripts/cluster-rpc.sh) reloads them all."""
    try:
        cluster.sql("UPDATE dispatcher SET attrs = 'weight=70;sockname=public_udp' "
                    "WHERE setid = 10 AND destination = 'sip:%s:5060'" % GWS_10[0])
        # dispatcher refuses a reload within 5 s of the previous one (reload_delta); the cluster may
        # have just started
        time.sleep(5.1)
        cluster["a"].kamcmd("dispatcher.reload")
        assert 70 in _weights(cluster["a"], 10)
        assert 70 not in _weights(cluster["b"], 10), "node b reloaded without being asked"
        time.sleep(5.1)
        rc, out = cluster.rpc_all("dispatcher.reload")
        assert rc == 0 and out.count(": ok") == 2, out
        for node in cluster.nodes.values():
            assert 70 in _weights(node, 10), "%s: %r\n%s" % (node, _weights(node, 10), out)
    finally:
        cluster.sql("UPDATE dispatcher SET attrs = 'weight=50;sockname=public_udp' "
                    "WHERE setid = 10 AND destination = 'sip:%s:5060'" % GWS_10[0])
        time.sleep(5.1)
        cluster.rpc_all("dispatcher.reload")
