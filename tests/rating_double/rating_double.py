#!/usr/bin/env python3
"""Rating agent test double: the REST contract of /work/shared/RATING_API.md (Canyan rating
agent v1), scriptable from tests. Python 3 standard library only.

    rating_double.py [--listen HOST:PORT] [--default-units N] [--log FILE]

Prints "listening on HOST:PORT" (PORT resolved when 0) on stdout once ready.

Contract endpoints
    POST /v1/authorization          200 business outcome (authorized or not)
    POST /v1/begin_transaction      200 {"ok": true, ...echo}
    POST /v1/end_transaction        200 {"ok": true, ...echo}
    POST /v1/rollback_transaction   200 {"ok": true, ...echo}
    GET  /status                    204
  A body that is not a JSON object, or not sent as application/json, gives 422 (newer FastAPI);
  a missing transaction_tag (any endpoint) or account_tag (authorization) gives 422 with a JSON
  error body. An engine error (scripted) is a plain-text 500 "Internal Server Error".

Control endpoints (for tests)
    POST /_control  {"rules": [RULE, ...], "default_units": N, "append": false}
        replaces (or with "append": true extends) the rule list
    GET  /_control  the current rules
    GET  /_requests every request received, in order (also the refused ones): seq, time (arrival,
                    Unix s), endpoint, path, content_type, raw, body (parsed or null), ts_ok
                    (timestamps are YYYY-MM-DDTHH:MM:SSZ), status (null: closed), action,
                    duration_ms
    POST /_reset    clears rules and requests

RULE: the first rule whose "match" fits the request decides the answer.
    "match": {"endpoint": "authorization" (default) | "begin_transaction" | "end_transaction"
                          | "rollback_transaction" | "*",
              "<any request field>": "exact value", ...,
              "destination_contains": "substring"}
    "action": "allow"   (authorization) authorized, "units" (default: default_units),
                        "carriers" (default []), "balance" (default 100.0)
              "deny"    (authorization) not authorized, "reason" (string, null or anything)
              "ok"      (begin/end/rollback) {"ok": true}
              "refuse"  (begin/end/rollback) {"ok": false}
              "error"   plain-text 500 Internal Server Error
              "status"  reply "status" with "body" (string sent as is, else JSON encoded)
              "json"    200 with "body" (any JSON value) sent as is, e.g. wrong types
              "garbage" 200 with a non-JSON body
              "close"   close the connection without answering
    "delay_ms": N   wait before answering (any action)
    "times": N      the rule expires after N matches
"""

import argparse
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENDPOINTS = ("authorization", "begin_transaction", "end_transaction", "rollback_transaction")
ECHO_FIELDS = ("tenant", "transaction_tag", "account_tag", "destination_account_tag")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class State:
    def __init__(self, default_units):
        self.lock = threading.Lock()
        self.rules = []
        self.requests = []
        self.default_units = default_units
        self.initial_units = default_units

    def reset(self):
        with self.lock:
            self.rules = []
            self.requests = []
            self.default_units = self.initial_units

    def record(self, entry):
        with self.lock:
            entry["seq"] = len(self.requests) + 1
            self.requests.append(entry)

    def pick_rule(self, endpoint, body):
        with self.lock:
            for rule in self.rules:
                if not rule_matches(rule, endpoint, body):
                    continue
                if "times" in rule:
                    if rule["times"] <= 0:
                        continue
                    rule["times"] -= 1
                return dict(rule)
        return None


def rule_matches(rule, endpoint, body):
    match = rule.get("match") or {}
    want = match.get("endpoint", "authorization")
    if want != "*" and want != endpoint:
        return False
    for key, value in match.items():
        if key == "endpoint":
            continue
        if key == "destination_contains":
            if value not in str(body.get("destination", "")):
                return False
        elif body.get(key) != value:
            return False
    return True


def missing_field(name):
    # FastAPI/pydantic v1 style validation error
    return {"detail": [{"loc": ["body", name], "msg": "field required",
                        "type": "value_error.missing"}]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like uvicorn
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server_version = "rating-double/1"

    def log_message(self, fmt, *args):  # quiet unless --log
        log = self.server.log
        if log:
            log.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))
            log.flush()

    # ---- plumbing -------------------------------------------------------------------------
    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body=b"", ctype="application/json"):
        if isinstance(body, (dict, list)) or body is None or isinstance(body, bool):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 204 and body:
            self.wfile.write(body)
        return status

    def _close(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- routes ---------------------------------------------------------------------------
    def do_GET(self):
        st = self.server.state
        if self.path == "/status":
            self._send(204)
        elif self.path == "/_requests":
            with st.lock:
                data = list(st.requests)
            self._send(200, data)
        elif self.path == "/_control":
            with st.lock:
                data = {"rules": st.rules, "default_units": st.default_units}
            self._send(200, data)
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self):
        raw = self._read_body()
        path = self.path
        st = self.server.state
        if path == "/_reset":
            st.reset()
            self._send(200, {"ok": True})
            return
        if path == "/_control":
            self._control(raw)
            return
        if not path.startswith("/v1/") or path[4:] not in ENDPOINTS:
            self._send(404, {"detail": "Not Found"})
            return
        endpoint = path[4:]
        entry = {"time": time.time(), "method": "POST", "path": path, "endpoint": endpoint,
                 "content_type": self.headers.get("Content-Type", ""),
                 "raw": raw.decode("utf-8", "replace"), "status": None, "action": None, "body": None, "ts_ok": None,
                 "duration_ms": None}
        st.record(entry)  # on arrival: a test reading /_requests after the answer sees it
        entry["status"], entry["action"] = self._contract(endpoint, raw, entry)
        entry["duration_ms"] = round((time.time() - entry["time"]) * 1000, 3)

    def _control(self, raw):
        st = self.server.state
        try:
            req = json.loads(raw or b"{}")
            rules = req.get("rules", [])
            if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
                raise ValueError("rules must be a list of objects")
        except (ValueError, AttributeError) as exc:
            self._send(400, {"error": str(exc)})
            return
        with st.lock:
            if req.get("append"):
                st.rules.extend(rules)
            else:
                st.rules = rules
            if "default_units" in req:
                st.default_units = int(req["default_units"])
        self._send(200, {"ok": True, "rules": len(st.rules)})

    def _contract(self, endpoint, raw, entry):
        """Answer one contract request; returns (status or None when closed, action)."""
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        entry["body"] = body
        if ctype != "application/json" or not isinstance(body, dict):
            return self._send(422, {"detail": [{"loc": ["body"], "msg": "value is not a valid dict",
                                                "type": "type_error.dict"}]}), "invalid"
        if not body.get("transaction_tag"):
            return self._send(422, missing_field("transaction_tag")), "invalid"
        if endpoint == "authorization" and not body.get("account_tag"):
            return self._send(422, missing_field("account_tag")), "invalid"
        rule = self.server.state.pick_rule(endpoint, body) or {}
        default = "allow" if endpoint == "authorization" else "ok"
        action = rule.get("action", default)
        if rule.get("delay_ms"):
            time.sleep(float(rule["delay_ms"]) / 1000.0)
        entry["ts_ok"] = all(TS_RE.match(str(body[k])) for k in body if k.startswith("timestamp_"))
        echo = {k: body.get(k) for k in ECHO_FIELDS}
        if echo["tenant"] is None:
            echo["tenant"] = "default"

        if action == "close":
            self._close()
            return None, action
        if action == "error":
            return self._send(500, "Internal Server Error", "text/plain; charset=utf-8"), action
        if action == "status":
            rb = rule.get("body", "")
            ct = "application/json" if not isinstance(rb, str) else "text/plain"
            return self._send(int(rule.get("status", 500)), rb, ct), action
        if action == "json":
            return self._send(200, json.dumps(rule.get("body"))), action
        if action == "garbage":
            return self._send(200, "<html>this is not json", "text/html"), action
        if endpoint == "authorization":
            return self._send(200, self._authorization(action, rule, echo)), action
        resp = dict(echo)
        resp["ok"] = action != "refuse"
        return self._send(200, resp), action

    def _authorization(self, action, rule, echo):
        resp = dict(echo)
        if action == "deny":
            resp.update({"authorized": False, "authorized_destination": False,
                         "unauthorized_account_tag": echo["account_tag"],
                         "unauthorized_reason": rule.get("reason"),
                         "max_available_units": 0, "balance": rule.get("balance", 0),
                         "carriers": []})
        else:
            units = rule.get("units", self.server.state.default_units)
            resp.update({"authorized": True, "authorized_destination": True,
                         "unauthorized_account_tag": None, "unauthorized_reason": None,
                         "max_available_units": units, "balance": rule.get("balance", 100.0),
                         "carriers": rule.get("carriers", [])})
        return resp


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # listen backlog: bursts of new connections (uvicorn: 2048)

    def handle_error(self, request, client_address):
        # a client that gave up (timeout) while we were delaying is expected
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:18097", help="HOST:PORT (loopback)")
    ap.add_argument("--default-units", type=int, default=3600)
    ap.add_argument("--log", help="access log file")
    args = ap.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    srv = Server((host.strip("[]"), int(port)), Handler)
    srv.state = State(args.default_units)
    srv.log = open(args.log, "a") if args.log else None
    print("listening on %s:%d" % srv.server_address[:2], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
