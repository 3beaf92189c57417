"""End to end: Kamailio + rating_agent module + Redis + rating agent double + SIPp.

Opt-in (needs kamailio, sipp, redis-server and the built module): RA_E2E=1
    RA_E2E=1 /usr/bin/python3 -m pytest -v tests/rating_double/e2e
See harness.py for addresses and RA_MODULE_DIR.
"""
import calendar
import os
import re
import socket
import threading
import time

import pytest

from harness import Stack, wait_for

pytestmark = pytest.mark.skipif(os.environ.get("RA_E2E") != "1",
                                reason="end-to-end rating_agent tests: set RA_E2E=1")


def ts(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


@pytest.fixture(scope="module")
def stack():
    s = Stack()
    try:
        s.start_redis()
        s.redis("FLUSHDB")
        s.start_double()
        s.start_uas()
        s.start_kamailio()
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def st(stack):
    """A clean agent (no rules, no recorded requests) and an empty outbox for each test."""
    if "double" not in stack.procs:
        stack.start_double()
    stack.reset_agent()
    wait_for(lambda: stack.stats().get("outbox.depth") == 0, 30, "outbox empty")
    return stack


def endpoints(reqs):
    return [r["endpoint"] for r in reqs]


def by_call(reqs):
    calls = {}
    for r in reqs:
        calls.setdefault(r["body"]["transaction_tag"], []).append(r)
    return calls


def test_authorized_call_begin_end_with_real_timestamps(st):
    t0 = time.time()
    rc, cids, codes = st.call("1000", expect=200, hold_ms=2000)
    t1 = time.time()
    assert rc == 0 and codes == [200]
    cid = cids[0]
    wait_for(lambda: len(st.requests(cid)) == 3, 10, "auth, begin, end")
    reqs = st.requests(cid)
    assert endpoints(reqs) == ["authorization", "begin_transaction", "end_transaction"]
    auth, begin, end = (r["body"] for r in reqs)
    assert auth["account_tag"] == "1000" and auth["source_ip"] == st.uac_ip
    assert auth["source"].startswith("sip:1000@") and "4930123" in auth["destination"]
    assert auth["tenant"] == "default" and auth["tags"] == []
    assert all(r["content_type"] == "application/json" and r["ts_ok"] for r in reqs)
    tb, te = ts(begin["timestamp_begin"]), ts(end["timestamp_end"])
    assert int(t0) - 1 <= tb <= t1 + 1
    assert 1 <= te - tb <= 4, (tb, te)  # held for 2 s
    assert begin["account_tag"] == "1000" and end["transaction_tag"] == cid


DENIALS = [
    ("BALANCE_INSUFFICIENT", 403),  # overridden in ra-test.cfg (default 402)
    ("NOT_FOUND", 404),
    ("NOT_ACTIVE", 403),
    ("UNREACHEABLE_DESTINATION", 404),
    ("TOO_MANY_RUNNING_TRANSACTIONS", 486),
    ("TOO_MANY_RUNNING_TRANSACTIONS_INBOUND", 486),
    ("TOO_MANY_RUNNING_TRANSACTIONS_OUTBOUND", 486),
    (None, 403),
    ("", 403),
    ("SOMETHING_NEW", 403),
]


@pytest.mark.parametrize("reason,code", DENIALS)
def test_denial_exactly_one_mapped_reply(st, reason, code):
    st.rules({"match": {"account_tag": "2000"}, "action": "deny", "reason": reason})
    rc, cids, codes = st.call("2000", expect=code)
    assert rc == 0 and codes == [code]
    time.sleep(0.5)
    assert endpoints(st.requests(cids[0])) == ["authorization"]  # no begin/end


def test_authorized_without_units_is_a_denial(st):
    st.rules({"match": {"account_tag": "2001"}, "action": "allow", "units": 0})
    rc, _, codes = st.call("2001", expect=402)
    assert rc == 0 and codes == [402]


@pytest.mark.parametrize("rule,why", [
    ({"action": "allow", "delay_ms": 2500}, "timeout"),
    ({"action": "error"}, "http 500"),
    ({"action": "garbage"}, "bad body"),
    ({"action": "json", "body": {"authorized": "yes"}}, "bad body"),
    ({"action": "status", "status": 422, "body": {"detail": []}}, "http 422"),
    ({"action": "close"}, "empty reply"),
])
def test_agent_failure_fail_closed_one_500(st, rule, why):
    rule["match"] = {"account_tag": "3000"}
    st.rules(rule)
    before = st.stats()["authorizations.failclosed"]
    rc, cids, codes = st.call("3000", expect=500)
    assert rc == 0 and codes == [500]
    assert st.stats()["authorizations.failclosed"] == before + 1


def test_missing_account_gives_422_and_fail_policy(st):
    # empty From user: account_tag is not sent, the agent answers 422
    rc, cids, codes = st.call("", expect=500)
    assert rc == 0 and codes == [500]
    reqs = st.requests(cids[0])
    assert [r["status"] for r in reqs] == [422]


def test_units_limit_ends_call_with_bye_both_ways(st):
    st.rules({"match": {"account_tag": "4000"}, "action": "allow", "units": 3})
    callee_log = st.one_shot_uas()
    t0 = time.time()
    rc, cids, codes = st.call("4000", expect="bye", service="limit")
    elapsed = time.time() - t0
    assert rc == 0 and codes == [200], (rc, codes)
    # the dialog timer ticks once a second: the limit hits up to 1 s early; the upper bound
    # leaves room for a loaded test machine
    assert 2.0 <= elapsed <= 6, elapsed
    wait_for(lambda: len(st.requests(cids[0])) == 3, 10, "begin and end")
    begin, end = (r["body"] for r in st.requests(cids[0])[1:])
    held = ts(end["timestamp_end"]) - ts(begin["timestamp_begin"])
    assert 2 <= held <= 5, held
    # the callee got its BYE from the SBC too: its one call ended, it exited
    st.procs["uas2"].wait(timeout=15)
    st.stop("uas2")
    assert "EVENT=UAS_BYE callid=" + cids[0] in open(callee_log).read()


def test_carriers_in_xavp(st):
    st.rules({"match": {"account_tag": "5000"}, "action": "allow", "units": 60,
              "carriers": ["TCP:10.9.9.9:5070", "UDP:10.9.9.8:5060", "bogus"]})
    rc, cids, _ = st.call("5000", expect=200, hold_ms=200)
    assert rc == 0
    log = open(os.path.join(st.rundir, "kamailio.log")).read()
    line = [ln for ln in log.splitlines() if "RATED ci=" + cids[0] in ln][-1]
    assert "carriers=2" in line and "c0=sip:10.9.9.9:5070;transport=tcp" in line


def test_begin_end_survive_agent_outage_in_order_once(st):
    st.rules({"match": {"endpoint": "begin_transaction"}, "action": "error"},
              {"match": {"endpoint": "end_transaction"}, "action": "close"})
    rc, cids, codes = st.call("6000", expect=200, hold_ms=500, calls=50, rate=25, timeout=120)
    assert rc == 0 and codes.count(200) == 50
    wait_for(lambda: st.stats()["outbox.depth"] == 100, 20, "100 records waiting")
    assert "records" in st.rpc("rating_agent.outbox", "5")
    st.reset_agent()  # the agent is back
    st.rpc("rating_agent.flush")
    wait_for(lambda: st.stats()["outbox.depth"] == 0, 30, "outbox drained")
    calls = by_call(st.requests())
    assert sorted(calls) == sorted(cids)
    for cid, reqs in calls.items():
        assert endpoints(reqs) == ["begin_transaction", "end_transaction"], cid
        assert ts(reqs[0]["body"]["timestamp_begin"]) <= ts(reqs[1]["body"]["timestamp_end"])


def test_definite_refusal_is_dropped_not_retried(st):
    st.rules({"match": {"endpoint": "begin_transaction"}, "action": "refuse"},
             {"match": {"endpoint": "end_transaction"}, "action": "status", "status": 400,
              "body": "bad"})
    before = st.stats()["outbox.dropped"]
    rc, cids, _ = st.call("6100", expect=200, hold_ms=300)
    assert rc == 0
    wait_for(lambda: st.stats()["outbox.dropped"] == before + 2, 10, "two drops")
    time.sleep(1.5)
    assert endpoints(st.requests(cids[0])) == ["authorization", "begin_transaction",
                                               "end_transaction"]


def test_pending_records_delivered_after_kamailio_restart(st):
    st.rules({"match": {"endpoint": "begin_transaction"}, "action": "error"},
             {"match": {"endpoint": "end_transaction"}, "action": "error"})
    rc, cids, codes = st.call("7000", expect=200, hold_ms=300, calls=5, rate=10)
    assert rc == 0 and codes.count(200) == 5
    wait_for(lambda: st.stats()["outbox.depth"] == 10, 10, "10 records waiting")
    st.stop_kamailio()
    assert int(st.redis("GET", "ra:depth")) == 10
    st.reset_agent()
    st.start_kamailio()
    wait_for(lambda: st.stats()["outbox.depth"] == 0, 30, "delivered after restart")
    calls = by_call(st.requests())
    assert sorted(calls) == sorted(cids)
    assert all(endpoints(r) == ["begin_transaction", "end_transaction"] for r in calls.values())


def test_agent_down_fail_closed_then_fail_open(st):
    st.stop("double", wait=5)
    rc, _, codes = st.call("8000", expect=500)
    assert rc == 0 and codes == [500]
    st.stop_kamailio()
    st.start_kamailio(RA_POLICY='"open"')
    try:
        before = st.stats()["authorizations.failopen"]
        rc, cids, codes = st.call("8001", expect=200, hold_ms=300)
        assert rc == 0 and codes == [200]
        assert st.stats()["authorizations.failopen"] == before + 1
        wait_for(lambda: st.stats()["outbox.depth"] == 2, 10, "begin/end kept")
        st.start_double()
        st.rpc("rating_agent.flush")
        wait_for(lambda: st.stats()["outbox.depth"] == 0, 30, "delivered")
        assert endpoints(st.requests(cids[0])) == ["begin_transaction", "end_transaction"]
    finally:
        st.stop_kamailio()
        st.start_kamailio()


def test_redis_unavailable_records_kept_in_shm_in_order(st):
    """Begin goes to Redis and stays there (agent refuses it for now); Redis then stops answering
    (CLIENT PAUSE, data kept), so the end is kept in shared memory and must wait for the begin."""
    st.rules({"match": {"endpoint": "begin_transaction"}, "action": "error"})
    before_shm = st.stats()["outbox.stored_in_shm"]
    import threading
    res = {}
    t = threading.Thread(target=lambda: res.update(r=st.call("9000", expect=200, hold_ms=2500)))
    t.start()
    wait_for(lambda: st.stats()["outbox.depth"] >= 1, 10, "begin in redis")
    st.redis("CLIENT", "PAUSE", "6000", "ALL")
    t.join(30)
    rc, cids, codes = res["r"]
    assert rc == 0 and codes == [200]
    wait_for(lambda: st.stats()["outbox.stored_in_shm"] == before_shm + 1, 10, "end in shm")
    st.reset_agent()  # the agent takes everything now, but Redis still holds the begin
    time.sleep(2)
    assert st.requests(cids[0]) == []  # the end did not overtake the begin
    wait_for(lambda: st.stats()["outbox.depth"] == 0, 30, "both delivered after the pause")
    assert endpoints(st.requests(cids[0])) == ["begin_transaction", "end_transaction"]


def test_shm_outbox_without_redis(st):
    st.stop_kamailio()
    st.start_kamailio(RA_REDIS='""')
    try:
        log = open(os.path.join(st.rundir, "kamailio.log")).read()
        assert "can be lost on a restart" in log
        assert st.stats()["outbox.store"] == "shm"
        st.rules({"match": {"endpoint": "end_transaction"}, "action": "error", "times": 3})
        rc, cids, codes = st.call("9100", expect=200, hold_ms=300, calls=3, rate=10)
        assert rc == 0 and codes.count(200) == 3
        def delivered():
            return [r for r in st.requests()
                    if r["endpoint"] != "authorization" and r["status"] == 200]
        wait_for(lambda: len(delivered()) == 6, 30, "shm outbox drained")
        time.sleep(1)
        calls = by_call(delivered())
        assert sorted(calls) == sorted(cids)
        assert all(endpoints(r) == ["begin_transaction", "end_transaction"]
                   for r in calls.values()), {c: [(x["endpoint"], x["status"]) for x in r]
                                              for c, r in calls.items()}
    finally:
        st.stop_kamailio()
        st.start_kamailio()


def test_burst_of_calls_no_queue_overflow(st):
    before = st.stats()
    rc, cids, codes = st.call("9200", expect=200, hold_ms=200, calls=300, rate=150,
                              timeout=120)
    after = st.stats()
    assert rc == 0 and codes.count(200) == 300
    assert after["authorizations.authorized"] - before["authorizations.authorized"] == 300
    assert after["authorizations.failclosed"] == before["authorizations.failclosed"]
    def delivered():
        return [r for r in st.requests() if r["endpoint"] != "authorization"]
    wait_for(lambda: len(delivered()) == 600, 30, "600 begin/end")
    calls = by_call(delivered())
    assert len(calls) == 300
    assert all(endpoints(r) == ["begin_transaction", "end_transaction"] for r in calls.values())
    print("auth latency p50/p99 ms:", after["authorizations.latency_p50_ms"],
          after["authorizations.latency_p99_ms"])


def test_kemi_javascript_routing(st):
    """Same flow from a KEMI script (app_jsdt): resume in a JS function, reply helper."""
    st.stop_kamailio()
    st.start_kamailio(WITH_KEMI=None)
    try:
        st.rules({"match": {"account_tag": "9302"}, "action": "deny",
                  "reason": "NOT_ACTIVE"},
                 {"match": {"account_tag": "9303"}, "action": "error"})
        rc, cids, codes = st.call("9301", expect=200, hold_ms=300)
        assert rc == 0 and codes == [200]
        wait_for(lambda: len(st.requests(cids[0])) == 3, 10, "auth, begin, end")
        assert st.call("9302", expect=403)[0] == 0
        assert st.call("9303", expect=500)[0] == 0
        log = open(os.path.join(st.rundir, "kamailio.log")).read()
        assert "KEMI RATED ci=" + cids[0] + " authorized=1" in log
    finally:
        st.stop_kamailio()
        st.start_kamailio()


def test_call_across_kamailio_restart_still_gets_its_end(st):
    """Dialogs kept in a database (dialog db_mode) are bound again after a restart from the
    dialog variables, so a call answered before the restart gets its end after it."""
    import shutil
    import threading
    shutil.rmtree(os.path.join(st.rundir, "dbtext"), ignore_errors=True)
    st.stop_kamailio()
    st.start_kamailio(WITH_DLGDB=None)
    try:
        res = {}
        t = threading.Thread(target=lambda: res.update(r=st.call("9400", expect=200,
                                                                 hold_ms=5000)))
        t.start()
        wait_for(lambda: any(r["endpoint"] == "begin_transaction" for r in st.requests()),
                 10, "begin")
        st.stop_kamailio()
        st.start_kamailio(WITH_DLGDB=None)
        t.join(40)
        rc, cids, codes = res["r"]
        assert rc == 0 and codes == [200]
        wait_for(lambda: len(st.requests(cids[0])) == 3, 10, "end after the restart")
        assert endpoints(st.requests(cids[0])) == ["authorization", "begin_transaction",
                                                   "end_transaction"]
    finally:
        st.stop_kamailio()
        st.start_kamailio()


def test_cancel_while_authorization_pending_one_reply(st):
    st.rules({"match": {"account_tag": "9500"}, "action": "allow", "delay_ms": 800})
    before = st.stats()["authorizations.abandoned"]
    rc, cids, codes = st.call("9500", expect="cancel", hold_ms=200)
    assert rc == 0 and codes == [487]
    wait_for(lambda: st.stats()["authorizations.abandoned"] == before + 1, 5,
             "late answer counted as abandoned")
    time.sleep(0.5)
    assert endpoints(st.requests(cids[0])) == ["authorization"]  # never answered: no begin


class DroppingRedisProxy:
    """TCP proxy in front of the test Redis that, once armed, closes the connection carrying the next
    HGET command (the sender's pipelined read of the due calls' heads, LINDEX + HGET per call) instead
    of forwarding it: Redis lost in the middle of a batch of commands."""

    HGET = re.compile(rb"\*\d+\r\n\$4\r\nHGET\r\n")

    def __init__(self, redis_port, port):
        self.redis_port = redis_port
        self.port = port
        self.armed = threading.Event()
        self.drops = 0
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(64)
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.lsock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.redis_port))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src, dst, from_client):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_client and self.armed.is_set() and self.HGET.search(data):
                    self.armed.clear()
                    self.drops += 1
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.stopped = True
        self.lsock.close()


def test_redis_link_dropped_in_a_sender_batch_no_crash(st):
    """The sender reads each due call's head record and attempts (LINDEX, HGET, pipelined for all the
    calls it claimed); Redis goes away with the batch sent and its replies to read. The sender must
    stop using the dropped link (it used it again and died on a freed context: seen in the hostile
    soak), reconnect, and deliver every record once, in order."""
    proxy = DroppingRedisProxy(st.redis_port, st.redis_port - 1)
    log_path = os.path.join(st.rundir, "kamailio.log")
    log_off = os.path.getsize(log_path)
    st.stop_kamailio()
    st.start_kamailio(RA_REDIS='"redis://127.0.0.1:%d/0"' % proxy.port)
    try:
        st.rules({"match": {"endpoint": "begin_transaction"}, "action": "error"},
                 {"match": {"endpoint": "end_transaction"}, "action": "error"})
        rc, cids, codes = st.call("9600", expect=200, hold_ms=200, calls=4, rate=10)
        assert rc == 0 and codes.count(200) == 4
        wait_for(lambda: st.stats()["outbox.depth"] == 8, 10, "8 records waiting")
        kpid = st.procs["kamailio"].pid
        st.reset_agent()
        proxy.armed.set()
        st.rpc("rating_agent.flush")
        wait_for(lambda: proxy.drops == 1, 10, "the link dropped at an HGET")
        kam = st.procs["kamailio"]
        wait_for(lambda: kam.poll() is not None or st.stats().get("outbox.depth") == 0, 30,
                 "delivered after the drop")
        with open(log_path, errors="replace") as f:
            f.seek(log_off)
            crashes = [line for line in f if "exited by a signal" in line]
        assert kam.poll() is None and kam.pid == kpid and not crashes, "Kamailio died: %r" % crashes
        assert st.stats()["outbox.depth"] == 0
        calls = by_call(st.requests())
        assert sorted(calls) == sorted(cids)
        assert all(endpoints(r) == ["begin_transaction", "end_transaction"] for r in calls.values())
    finally:
        st.stop_kamailio()
        proxy.close()
        st.start_kamailio()
