"""HTTP management socket (etc/kamailio.cfg, WITH_XHTTP, on by default): Prometheus metrics at /metrics
and JSON-RPC at /RPC on HTTP_IP:HTTP_PORT (loopback; the port defaults to the SIP port number).

The metrics test makes calls and checks that the counters move with them: Kamailio's own statistics
(core, tmx, dialog, sbc_tenant), the SBC's per-tenant call counter and active-calls gauge, and the
dispatcher destinations' state.
"""
import json
import re
import time
import urllib.error
import urllib.request

from sipp_harness import CARRIER_IP, PRIVATE, PRIVATE_IP, SIP_PORT

HTTP = "http://127.0.0.1:%d" % SIP_PORT
ALPHA_DID = "4930100001"
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def scrape():
    """{(name, labels): value} from /metrics; labels as a sorted tuple of (key, value)."""
    with urllib.request.urlopen(HTTP + "/metrics", timeout=5) as r:
        assert r.status == 200
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(metrics, name, **labels):
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def rpc(method, *params):
    req = urllib.request.Request(HTTP + "/RPC", data=json.dumps(
        {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}).encode(),
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        # jsonrpcs answers an error with an HTTP error status and the JSON-RPC error in the body
        return json.loads(e.read().decode())


def test_metrics_cover_every_group(sbc):
    m = scrape()
    names = {n for n, _ in m}
    for want in ("kamailio_core_rcv_requests_invite", "kamailio_tmx_UAS_transactions",
                 "kamailio_dialog_active_dialogs", "kamailio_sl_sent_replies",
                 "kamailio_sbc_tenant_lookups_exact", "kamailio_sbc_tenant_dids_loaded",
                 "kamailio_shmem_free_size"):
        assert want in names, "%s missing from /metrics" % want
    # Every dispatcher destination of fixtures.sql, with its state (the peers answer OPTIONS: up).
    assert value(m, "kamailio_sbc_gateway_up", set="10", uri="sip:127.0.2.10:5060") == 1.0, \
        sorted(k for k in m if k[0] == "kamailio_sbc_gateway_up")
    assert value(m, "kamailio_sbc_gateway_up", set="1", uri="sip:%s:5060" % CARRIER_IP) == 1.0


def test_metrics_move_with_calls(sbc):
    before = scrape()
    off = sbc.stack.log_offset()
    u = sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name="metrics_call", service=ALPHA_DID,
                calls=1, hold_ms=2500).start()
    ans = u.wait_event("ANSWERED", timeout=10)
    assert ans is not None, sbc.diagnose(off, None, u)
    time.sleep(0.3)
    during = scrape()
    u.wait()
    assert u.rc == 0 and u.events("BYE_OK"), sbc.diagnose(off, ans["callid"], u)
    rej = sbc.expect_code(CARRIER_IP, PRIVATE, "4999999999", 404, name="metrics_404")
    assert rej.rc == 0, rej.describe()
    time.sleep(0.3)
    after = scrape()

    def delta(name, snap=after, **labels):
        return value(snap, name, **labels) - value(before, name, **labels)

    # Live calls: the tenant's gauge and the dialog module count the call while it is up only.
    assert value(during, "kamailio_sbc_tenant_active_calls", tenant="alpha") == 1.0, during
    assert value(after, "kamailio_sbc_tenant_active_calls", tenant="alpha") == 0.0
    assert delta("kamailio_dialog_active_dialogs", during) == 1.0
    assert delta("kamailio_dialog_active_dialogs") == 0.0
    # Counters: one answered call of alpha, one call refused by the SBC.
    assert delta("kamailio_sbc_calls_total", tenant="alpha", direction="in", result="answered") == 1.0
    assert delta("kamailio_sbc_calls_total", tenant="-", direction="in", result="rejected") == 1.0
    assert delta("kamailio_core_rcv_requests_invite") >= 2.0
    assert delta("kamailio_sbc_tenant_lookups_exact") >= 1.0
    assert delta("kamailio_sbc_tenant_lookups_not_found") >= 1.0
    assert delta("kamailio_dialog_processed_dialogs") >= 1.0
    assert delta("kamailio_tmx_2xx_transactions") >= 2.0   # INVITE + BYE


def test_jsonrpc_over_http(sbc):
    up = rpc("core.uptime")
    assert up["result"]["uptime"] > 0, up
    look = rpc("sbc_tenant.lookup", ALPHA_DID)
    assert "alpha" in json.dumps(look["result"]), look
    ds = rpc("dispatcher.list")
    assert ds["result"]["NRSETS"] >= 6, ds
    err = rpc("no.such.method")
    assert err["error"]["message"] == "Method Not Found", err


def test_http_only_on_the_management_socket(sbc):
    """HTTP sent to a SIP TCP socket (private or public side) is refused."""
    try:
        urllib.request.urlopen("http://%s:%d/metrics" % (PRIVATE_IP, SIP_PORT), timeout=5)
        raise AssertionError("/metrics answered on the private SIP socket")
    except urllib.error.HTTPError as e:
        assert e.code == 403
