"""Self-test of the rating agent test double (run: /usr/bin/python3 -m pytest tests/rating_double)."""
import http.client
import json
import os
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def double():
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "rating_double.py"),
                             "--listen", "127.0.0.1:0", "--default-units", "1800"],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("listening on "), line
    host, port = line.split()[-1].rsplit(":", 1)
    yield host, int(port)
    proc.terminate()
    proc.wait(timeout=5)


@pytest.fixture
def agent(double):
    c = Client(*double)
    c.post("/_reset", {})
    return c


class Client:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=5)

    def request(self, method, path, body=None, ctype="application/json", raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": ctype} if data is not None else {}
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        payload = r.read()
        return r.status, r.getheader("Content-Type"), payload

    def post(self, path, body):
        st, ct, payload = self.request("POST", path, body)
        return st, (json.loads(payload) if ct and "json" in ct and payload else payload)

    def get_json(self, path):
        st, _, payload = self.request("GET", path)
        assert st == 200
        return json.loads(payload)

    def control(self, *rules, **kw):
        st, resp = self.post("/_control", dict(rules=list(rules), **kw))
        assert st == 200, resp


AUTH = {"tenant": "default", "transaction_tag": "call-1", "account_tag": "1000",
        "source": "sip:1000@a", "source_ip": "127.0.1.10", "destination": "sip:4930123@b",
        "timestamp_auth": "2024-01-02T03:04:05Z", "tags": []}


def test_status_204(agent):
    st, _, payload = agent.request("GET", "/status")
    assert st == 204 and payload == b""


def test_default_allow_keepalive(agent):
    st, r = agent.post("/v1/authorization", AUTH)
    assert st == 200
    assert r["authorized"] is True and r["max_available_units"] == 1800
    assert r["carriers"] == [] and r["unauthorized_reason"] is None
    assert r["transaction_tag"] == "call-1" and r["tenant"] == "default"
    # same connection again: HTTP/1.1 keep-alive works
    st, r = agent.post("/v1/authorization", AUTH)
    assert st == 200


def test_missing_tags_422(agent):
    for field in ("transaction_tag", "account_tag"):
        body = dict(AUTH)
        del body[field]
        st, r = agent.post("/v1/authorization", body)
        assert st == 422 and r["detail"][0]["loc"] == ["body", field]
    # account_tag is not required for end_transaction, transaction_tag is
    st, r = agent.post("/v1/end_transaction", {"transaction_tag": "x"})
    assert st == 200 and r["ok"] is True
    st, r = agent.post("/v1/begin_transaction", {"account_tag": "1"})
    assert st == 422


def test_not_json_or_form_422(agent):
    st, _, _ = agent.request("POST", "/v1/authorization", raw=b"{bad")
    assert st == 422
    st, _, _ = agent.request("POST", "/v1/authorization", raw=b"transaction_tag=a&account_tag=b",
                             ctype="application/x-www-form-urlencoded")
    assert st == 422


def test_rules_allow_deny_by_account_and_destination(agent):
    agent.control({"match": {"account_tag": "poor"}, "action": "deny",
                   "reason": "BALANCE_INSUFFICIENT"},
                  {"match": {"account_tag": "ghost"}, "action": "deny", "reason": None},
                  {"match": {"account_tag": "odd"}, "action": "deny", "reason": "MARTIAN"},
                  {"match": {"destination_contains": "4930"}, "action": "allow", "units": 5,
                   "carriers": ["UDP:127.0.0.1:5060", "TCP:127.0.0.2:5070"]})
    st, r = agent.post("/v1/authorization", dict(AUTH, account_tag="poor"))
    assert st == 200 and r["authorized"] is False
    assert r["unauthorized_reason"] == "BALANCE_INSUFFICIENT"
    st, r = agent.post("/v1/authorization", dict(AUTH, account_tag="ghost"))
    assert r["authorized"] is False and r["unauthorized_reason"] is None
    st, r = agent.post("/v1/authorization", dict(AUTH, account_tag="odd"))
    assert r["unauthorized_reason"] == "MARTIAN"
    st, r = agent.post("/v1/authorization", AUTH)
    assert r["authorized"] is True and r["max_available_units"] == 5
    assert r["carriers"] == ["UDP:127.0.0.1:5060", "TCP:127.0.0.2:5070"]
    st, r = agent.post("/v1/authorization", dict(AUTH, destination="sip:1@x"))
    assert r["max_available_units"] == 1800


def test_engine_error_plain_text_500(agent):
    agent.control({"match": {"endpoint": "*"}, "action": "error"})
    for ep in ("authorization", "begin_transaction", "end_transaction"):
        st, ct, payload = agent.request("POST", "/v1/" + ep, AUTH)
        assert st == 500 and ct.startswith("text/plain")
        assert payload == b"Internal Server Error"


def test_garbage_json_status(agent):
    agent.control({"match": {"account_tag": "g"}, "action": "garbage"},
                  {"match": {"account_tag": "j"}, "action": "json",
                   "body": {"authorized": "yes"}},
                  {"match": {"account_tag": "s"}, "action": "status", "status": 503,
                   "body": "busy"})
    st, ct, payload = agent.request("POST", "/v1/authorization", dict(AUTH, account_tag="g"))
    assert st == 200
    with pytest.raises(ValueError):
        json.loads(payload)
    st, r = agent.post("/v1/authorization", dict(AUTH, account_tag="j"))
    assert st == 200 and r == {"authorized": "yes"}
    st, _, payload = agent.request("POST", "/v1/authorization", dict(AUTH, account_tag="s"))
    assert st == 503 and payload == b"busy"


def test_delay(agent):
    agent.control({"match": {}, "action": "allow", "delay_ms": 300})
    t0 = time.monotonic()
    st, _ = agent.post("/v1/authorization", AUTH)
    assert st == 200 and time.monotonic() - t0 >= 0.3


def test_close_connection(agent, double):
    agent.control({"match": {}, "action": "close"})
    c = http.client.HTTPConnection(*double, timeout=5)
    c.request("POST", "/v1/authorization", body=json.dumps(AUTH),
              headers={"Content-Type": "application/json"})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, socket.timeout)):
        c.getresponse()


def test_times_and_refuse(agent):
    agent.control({"match": {"endpoint": "begin_transaction"}, "action": "error", "times": 2},
                  {"match": {"endpoint": "end_transaction"}, "action": "refuse"})
    statuses = [agent.request("POST", "/v1/begin_transaction",
                              {"transaction_tag": "t"})[0] for _ in range(3)]
    assert statuses == [500, 500, 200]
    st, r = agent.post("/v1/end_transaction", {"transaction_tag": "t"})
    assert st == 200 and r["ok"] is False


def test_requests_recorded_in_order_and_reset(agent):
    agent.post("/v1/authorization", AUTH)
    agent.post("/v1/begin_transaction", {"transaction_tag": "call-1",
                                         "timestamp_begin": "2024-01-02T03:04:06Z"})
    agent.post("/v1/end_transaction", {"transaction_tag": "call-1",
                                       "timestamp_end": "2024-01-02 03:04:07"})
    reqs = agent.get_json("/_requests")
    assert [r["endpoint"] for r in reqs] == ["authorization", "begin_transaction",
                                             "end_transaction"]
    assert [r["seq"] for r in reqs] == [1, 2, 3]
    assert reqs[1]["body"]["timestamp_begin"] == "2024-01-02T03:04:06Z"
    assert reqs[1]["ts_ok"] is True and reqs[2]["ts_ok"] is False
    assert all(r["status"] == 200 for r in reqs)
    assert reqs[0]["content_type"] == "application/json"
    agent.post("/_reset", {})
    assert agent.get_json("/_requests") == []


def test_bad_control_and_unknown_path(agent):
    st, _ = agent.post("/_control", {"rules": "nope"})
    assert st == 400
    st, _ = agent.post("/v1/nope", AUTH)
    assert st == 404
