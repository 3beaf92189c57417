"""Many calls hung up by the SBC at once (etc/kamailio.cfg route[DLG_EXPIRED], reply_route, htable
dlgbye; README.md "Calls the SBC hangs up itself", kamailio/kamailio#4169).

The dialog module's dlg_bye_all() sends the BYE to the caller, then the one to the callee, and sends
the second only while the dialog is still confirmed: a reply to the first BYE handled by another worker
in between ends the dialog: the callee gets no BYE, or event_route[dialog:end] does not run. The SBC
holds the replies to its own BYEs until both are out. Here CALLS calls get a rating limit of
UNITS s (max_available_units) and are placed within a second, so that the time limits run out together:
every call must end with a BYE at the carrier and at the gateway, one event=end line, one CDR and one
rating end each, and leave neither an rtpengine session nor a dialog.

Own rows: tenant t4-byerace, DID 4999650001, dispatcher set 4165 with the gateway 127.0.4.65.
"""
import time

import pytest

import agent_control
from sipp_harness import CARRIER_IP, PRIVATE
from tenant_common import TenantRows

GW = "127.0.4.65"
SET = 4165
TENANT = "t4-byerace"
DID = "4999650001"
CALLS = 50
UNITS = 2


@pytest.fixture(scope="module")
def rows(sbc):
    r = TenantRows(sbc)
    try:
        r.gateway(GW, "uas_answer.xml", rtp_echo=False)
        r.dispatcher_set(SET, [GW])
        r.routed_did(DID, TENANT, SET)
        yield r
    finally:
        errors = r.cleanup()
        assert not errors, errors


@pytest.fixture
def time_limit(sbc):
    agent_control.reset()
    agent_control.rules({"match": {"endpoint": "authorization", "destination_contains": DID},
                         "action": "allow", "units": UNITS})
    yield UNITS
    agent_control.reset()


def _settled(fetch, ok, timeout):
    """fetch()'s value once ok(value) holds, or its last value at the timeout."""
    end = time.time() + timeout
    while True:
        v = fetch()
        if ok(v) or time.time() > end:
            return v
        time.sleep(0.2)


def _rating_endpoints(callids):
    """{Call-ID: [endpoints the agent double got for it, in order]}."""
    out = {c: [] for c in callids}
    for r in agent_control.agent("GET", "/_requests"):
        body = r.get("body")
        tag = body.get("transaction_tag") if isinstance(body, dict) else None
        if tag in out:
            out[tag].append(r["endpoint"])
    return out


def test_time_limits_running_out_together_bye_both_ways(sbc, rows, time_limit):
    off = sbc.stack.log_offset()
    mark = sbc.peers.mark()
    u = sbc.uac("uac_call_wait_bye.xml", CARRIER_IP, PRIVATE, name="t4-byerace", service=DID, calls=CALLS,
                rate=CALLS, limit=CALLS)
    u.run()
    answered = sorted({e["callid"] for e in u.events("ANSWERED")})
    byes = sorted({e["callid"] for e in u.events("BYE_RECEIVED")})
    assert u.rc == 0 and len(answered) == CALLS and byes == answered, \
        "carrier: %d answered, %d got the SBC's BYE\n%s" % (len(answered), len(byes), sbc.diagnose(off, None, u))

    missing = _settled(lambda: sorted(set(answered) - {e["callid"] for e in sbc.peers.events(mark, "BYE")[GW]}),
                       lambda v: not v, 5)
    assert missing == [], "%d of %d calls got no BYE at the gateway: %s\n%s" % (
        len(missing), CALLS, missing[:5], sbc.diagnose(off, missing and missing[0], u))

    def end_lines():
        lines = [l for l in sbc.stack.log_since(off).splitlines() if "event=end callid=" in l]
        return {c: [l for l in lines if "event=end callid=%s " % c in l] for c in answered}
    ends = _settled(end_lines, lambda v: all(v.values()), 5)
    wrong = {c: ls for c, ls in ends.items() if len(ls) != 1 or "cause=timeout side=sbc" not in ls[0]}
    assert not wrong, "%d calls without exactly one event=end cause=timeout line: %r\n%s" % (
        len(wrong), sorted(wrong.items())[:3], sbc.diagnose(off, wrong and sorted(wrong)[0], u))

    q = "SELECT callid, cause, side FROM acc_cdrs WHERE callid IN (%s)" % ", ".join("'%s'" % c for c in answered)
    cdrs = _settled(lambda: sbc.stack.sql(q), lambda v: len(v) >= CALLS, 8)
    wrong = {c: [(r[1], r[2]) for r in cdrs if r[0] == c] for c in answered}
    wrong = {c: v for c, v in wrong.items() if v != [("timeout", "sbc")]}
    assert not wrong, "%d calls without exactly one timeout/sbc CDR: %r" % (len(wrong), sorted(wrong.items())[:5])

    done = ["authorization", "begin_transaction", "end_transaction"]
    rating = _settled(lambda: _rating_endpoints(answered), lambda v: all(e == done for e in v.values()), 15)
    wrong = {c: v for c, v in rating.items() if v != done}
    assert not wrong, "agent double saw, for %d calls: %r" % (len(wrong), sorted(wrong.items())[:5])

    left = _settled(lambda: sorted(set(answered) & set(sbc.stack.rtpe_calls())), lambda v: not v, 5)
    assert left == [], "%d rtpengine sessions left: %r" % (len(left), left[:5])
    # an ended dialog (state 5) stays in dlg.list until its BYE transactions are gone
    left = _settled(lambda: sorted(set(answered) & set(sbc.stack.dialogs())), lambda v: not v, 10)
    assert left == [], "%d dialogs left: %r" % (len(left), left[:5])
