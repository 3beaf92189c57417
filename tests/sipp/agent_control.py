"""The stack's rating agent double (tests/rating_double/rating_double.py on 127.0.0.1:AGENT_PORT), as the
SIPp tests script and inspect it through its /_control, /_requests and /_reset endpoints."""
import json
import time
import urllib.request

from sipp_harness import AGENT_PORT

AGENT = "http://127.0.0.1:%d" % AGENT_PORT


def agent(method, path, body=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(AGENT + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


def rules(*rule_list):
    """Replaces the double's rules (see rating_double.py for the RULE format)."""
    agent("POST", "/_control", {"rules": list(rule_list)})


def reset():
    agent("POST", "/_reset")


def requests(callid):
    """Every request the double received for one call (transaction_tag = Call-ID), in order."""
    return [r for r in agent("GET", "/_requests")
            if isinstance(r.get("body"), dict) and r["body"].get("transaction_tag") == callid]


def wait_requests(callid, last_endpoint, timeout=10.0):
    """The call's requests once the last one is last_endpoint (begin/end go through the outbox
    sender), or what arrived by the timeout."""
    deadline = time.time() + timeout
    while True:
        reqs = requests(callid)
        if [r["endpoint"] for r in reqs][-1:] == [last_endpoint] or time.time() > deadline:
            return reqs
        time.sleep(0.2)
