"""The operator's admin flow of docker/README.md, then a real call with RTP through the stack:
carrier (127.0.6.10) -> SBC private side -> DID -> tenant's gateway group -> AI gateway (127.0.7.10)."""
import time

import dockerstack as ds
from sipp_harness import rtp_streams


def _diag(stack, *sipps):
    return "\n".join([s.describe() for s in sipps] + ["--- kamailio-sbc log:\n" + stack.logs("kamailio-sbc", 60)])


def wait_for(fn, timeout=10.0):
    end = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > end:
            return v
        time.sleep(0.3)


def place_call(stack, gateway, hold_ms=4000, check_media=True):
    """One call through the SBC, asserted end to end; returns its Call-ID."""
    mark = gateway.mark()
    u = ds.carrier_call(hold_ms=hold_ms)
    ans = u.wait_event("ANSWERED", timeout=15)
    assert ans is not None, "call not answered\n" + _diag(stack, u, gateway)
    callid = ans["callid"]
    if check_media:
        time.sleep(2.0)  # the carrier plays g711a.pcap, the gateway echoes it
        streams = rtp_streams(stack.ng.query(callid))
        private = [s for s in streams if s[1] == ds.PRIVATE_IP]
        public = [s for s in streams if s[1] == ds.PUBLIC_IP]
        msg = "rtpengine streams %r\n%s" % (streams, _diag(stack, u))
        assert len(private) == 1 and len(public) == 1, msg
        assert private[0][2] == ds.CARRIER_IP and private[0][3] >= 10, msg
        assert public[0][2] == ds.GATEWAY_IP and public[0][3] >= 10, msg
    u.wait()
    diag = _diag(stack, u, gateway)
    assert u.rc == 0 and u.events("BYE_OK"), diag
    # Each side sees rtpengine's address on its own side, never the other network.
    assert ans.get("sdp_ip") == ds.PRIVATE_IP, diag
    invites = [e for e in gateway.events("INVITE", since=mark) if e.get("callid") == callid]
    assert len(invites) == 1, diag
    assert invites[0]["ruri_user"] == ds.DID and invites[0]["ruri_host"] == ds.GATEWAY_IP, invites[0]["line"]
    assert invites[0].get("sdp_ip") == ds.PUBLIC_IP, invites[0]["line"]
    assert [e for e in gateway.events("BYE", since=mark) if e.get("callid") == callid], diag
    return callid


def _rated(callid):
    reqs = ds.agent_requests(callid)
    return reqs if reqs and reqs[-1]["endpoint"] == "end_transaction" else None


def assert_rated_and_billed(stack, callid):
    """The rating agent saw authorization, begin and end of the call (begin/end through the Redis
    outbox), and acc_cdrs holds its CDR."""
    reqs = wait_for(lambda: _rated(callid)) or ds.agent_requests(callid)
    seen = [(r["endpoint"], r["status"]) for r in reqs]
    assert seen == [("authorization", 200), ("begin_transaction", 200), ("end_transaction", 200)], seen
    rows = wait_for(lambda: stack.sql("SELECT tenant, did, sip_code, direction FROM acc_cdrs WHERE callid = '%s'"
                                      % callid))
    assert rows == [[ds.TENANT, ds.DID, "200", "in"]], rows


def test_readme_admin_flow_routes_the_did(stack, routed):
    out = stack.kamcmd("sbc_tenant.lookup", "s:" + ds.DID)
    assert ds.TENANT in out, out
    disp = stack.kamcmd("dispatcher.list")
    assert "sip:%s:5060" % ds.GATEWAY_IP in disp and "sip:%s:5060" % ds.CARRIER_IP in disp, disp


def test_call_with_media_rated_and_billed(stack, routed, gateway):
    callid = place_call(stack, gateway)
    assert_rated_and_billed(stack, callid)
    assert wait_for(lambda: callid not in stack.ng.calls(), 5), "rtpengine still holds %s" % callid
