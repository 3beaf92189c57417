"""Shared helpers of the sbc_tenant tests (test_2*_tenant_*.py); no tests in here.

Every sbc_tenant test creates its own rows at test time and removes them afterwards, so it never depends
on nor changes the suite's fixtures.sql rows:
  tenants        named t4-*
  did_routing    DIDs 4999xxxxxx
  dispatcher     sets 4100-4199, gateways on 127.0.4.x (SIPp peers started by the test, port PEER_PORT)
Rows are written the way an admin would: SQL as root over the MariaDB socket, the schema's triggers bump
sbc_routing_version, and the module's change tracking picks the change up (dispatcher.reload for the
dispatcher rows).
"""
import contextlib
import re
import time

from sipp_harness import CARRIER_IP, PEER_PORT, PRIVATE, PUBLIC_IP, SIP_PORT

# Gateways of the tenant tests (nothing else in the suite uses 127.0.4.0/24).
GW_A = "127.0.4.10"
GW_B = "127.0.4.11"
GW_C = "127.0.4.12"
GW_D = "127.0.4.13"
GW_SILENT = "127.0.4.14"


def sql_quote(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_kamcmd(text):
    """kamcmd output -> a dict, or a list of dicts when it printed several top-level structs (RET_ARRAY).
    Values stay strings; nested structs become dicts."""
    top = []
    stack = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "{":
            d = {}
            if stack:
                # an anonymous struct inside a struct: not produced by our RPCs
                stack[-1].setdefault("_items", []).append(d)
            else:
                top.append(d)
            stack.append(d)
            continue
        if line == "}":
            if stack:
                stack.pop()
            continue
        m = re.match(r"([^:]+):\s?(.*)$", line)
        if not m or not stack:
            continue
        key, val = m.group(1).strip(), m.group(2)
        if val == "{":
            d = {}
            stack[-1][key] = d
            stack.append(d)
        else:
            stack[-1][key] = val
    if len(top) == 1:
        return top[0]
    return top


class TenantRows:
    """Rows and gateway peers of one test module; cleanup() removes all of them. Tenant names and DIDs
    carry the prefixes of the test family (tenant tests: t4-*, 4999...; others pass their own)."""

    def __init__(self, sbc, name_prefix="t4-", did_prefix="4999"):
        self.sbc = sbc
        self.name_prefix = name_prefix
        self.did_prefix = did_prefix
        self.tenant_names = []
        self.dids = []
        self.sets = []
        self.peer_ips = []

    # -- database ------------------------------------------------------------------------------------
    def sql(self, query):
        return self.sbc.stack.sql(query)

    def version(self):
        return int(self.sql("SELECT version FROM sbc_routing_version WHERE id = 1")[0][0])

    def gateway(self, ip, scenario="uas_answer.xml", **kw):
        """A SIPp UAS on ip:PEER_PORT for the rest of the module (answers OPTIONS probes too)."""
        if ip in self.sbc.peers.procs:
            self.stop_gateway(ip)
        p = self.sbc.peers.start_one(ip, scenario, **kw)
        if ip not in self.peer_ips:
            self.peer_ips.append(ip)
        time.sleep(0.3)
        assert p.alive(), p.describe()
        return p

    def stop_gateway(self, ip):
        p = self.sbc.peers.procs.pop(ip, None)
        if p is not None:
            p.stop()

    def dispatcher_set(self, setid, ips, reload=True):
        self.sql("DELETE FROM dispatcher WHERE setid = %d" % setid)
        for ip in ips:
            self.sql("INSERT INTO dispatcher (setid, destination, flags, priority, attrs, description) "
                     "VALUES (%d, 'sip:%s:%d', 0, 0, 'weight=100;socket=udp:%s:%d', 't4 gateway')"
                     % (setid, ip, PEER_PORT, PUBLIC_IP, SIP_PORT))
        if setid not in self.sets:
            self.sets.append(setid)
        if reload:
            self.dispatcher_reload()

    def two_groups(self, set_a, set_b, name):
        """Gateway GW_A alone in set_a, GW_B alone in set_b, and a tenant `name` routed to set_a."""
        self.gateway(GW_A)
        self.gateway(GW_B)
        self.dispatcher_set(set_a, [GW_A], reload=False)
        self.dispatcher_set(set_b, [GW_B])
        self.tid = self.tenant(name, set_a)

    def dispatcher_reload(self, timeout=12.0):
        """dispatcher.reload until it is done: dispatcher refuses a reload within reload_delta (5 s) of the
        previous one ("500 - Ongoing reload", and kamcmd still exits 0)."""
        end = time.time() + timeout
        while True:
            out = self.sbc.stack.kamcmd("dispatcher.reload")
            if "error" not in out.lower():
                return out
            if time.time() > end:
                raise RuntimeError("dispatcher.reload keeps failing: " + out)
            time.sleep(0.5)

    def tenant(self, name, group, fallback=0, max_calls=0, max_cps=0, enabled=1, attrs=""):
        assert name.startswith(self.name_prefix)
        self.sql("DELETE FROM tenants WHERE name = %s" % sql_quote(name))
        self.sql("INSERT INTO tenants (name, gateway_group, fallback_group, max_calls, max_cps, enabled, attrs) "
                 "VALUES (%s, %d, %d, %d, %d, %d, %s)" % (sql_quote(name), group, fallback, max_calls, max_cps,
                                                         enabled, sql_quote(attrs)))
        if name not in self.tenant_names:
            self.tenant_names.append(name)
        return int(self.sql("SELECT id FROM tenants WHERE name = %s" % sql_quote(name))[0][0])

    def routed_did(self, did, name, group, attrs=""):
        """Tenant `name` routed to dispatcher set `group` with `did`, once the SBC's index has it; its id."""
        self.tid = self.tenant(name, group, attrs=attrs)
        self.did(did, self.tid)
        got = self.wait_lookup(did, lambda x: x.get("tenant") == name)
        assert got.get("gateway_group") == str(group), got
        return self.tid

    def set_tenant(self, name, **cols):
        sets = ", ".join("%s = %s" % (k, sql_quote(v)) for k, v in cols.items())
        self.sql("UPDATE tenants SET %s WHERE name = %s" % (sets, sql_quote(name)))

    def did(self, did, tenant_id, group=None, uri=None, enabled=1):
        assert did.startswith(self.did_prefix)
        self.sql("DELETE FROM did_routing WHERE did = %s" % sql_quote(did))
        self.sql("INSERT INTO did_routing (did, tenant_id, gateway_group, gateway_uri, enabled, description) "
                 "VALUES (%s, %d, %s, %s, %d, 't4 test')" % (sql_quote(did), tenant_id, sql_quote(group),
                                                            sql_quote(uri), enabled))
        if did not in self.dids:
            self.dids.append(did)

    def cleanup(self):
        errors = []
        for q in (["DELETE FROM did_routing WHERE did IN (%s)" % ", ".join(sql_quote(d) for d in self.dids)]
                  if self.dids else []) + \
                 (["DELETE FROM tenants WHERE name IN (%s)" % ", ".join(sql_quote(n) for n in self.tenant_names)]
                  if self.tenant_names else []) + \
                 (["DELETE FROM dispatcher WHERE setid IN (%s)" % ", ".join(str(s) for s in self.sets)]
                  if self.sets else []):
            try:
                self.sql(q)
            except Exception as e:  # keep cleaning
                errors.append(str(e))
        if self.sets:
            try:
                self.dispatcher_reload()
            except Exception as e:
                errors.append(str(e))
        for ip in self.peer_ips:
            self.stop_gateway(ip)
        return errors

    # -- module --------------------------------------------------------------------------------------
    def lookup(self, did):
        return parse_kamcmd(self.sbc.stack.kamcmd("sbc_tenant.lookup", "s:" + did))

    def stats(self):
        return parse_kamcmd(self.sbc.stack.kamcmd("sbc_tenant.stats"))

    def tenant_counters(self, tenant_id):
        return parse_kamcmd(self.sbc.stack.kamcmd("sbc_tenant.list", str(tenant_id)))

    def live_calls(self, tenant_id):
        return int(self.tenant_counters(tenant_id)["calls"])

    def wait_lookup(self, did, pred, timeout=5.0):
        """Polls sbc_tenant.lookup until pred(result) holds; returns the last result."""
        end = time.time() + timeout
        while True:
            r = self.lookup(did)
            if pred(r) or time.time() > end:
                return r
            time.sleep(0.1)

    def wait_live_calls(self, tenant_id, n, timeout=5.0):
        end = time.time() + timeout
        while True:
            c = self.live_calls(tenant_id)
            if c == n or time.time() > end:
                return c
            time.sleep(0.1)

    # -- calls ---------------------------------------------------------------------------------------
    def call(self, did, hold_ms=200, name="t4-call", **kw):
        """One answered call from the carrier (uac_call_nortp.xml), run to its end."""
        return self.sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name=name, service=did, calls=1,
                            hold_ms=hold_ms, **kw).run()

    def start_call(self, did, hold_ms, name="t4-held"):
        return self.sbc.uac("uac_call_nortp.xml", CARRIER_IP, PRIVATE, name=name, service=did, calls=1,
                            hold_ms=hold_ms).start()

    def expect(self, did, code, alt=None, name="t4-expect"):
        return self.sbc.expect_code(CARRIER_IP, PRIVATE, did, code, alt=alt, name=name)


@contextlib.contextmanager
def fixture_tenant_attrs(sbc, name, did, attrs):
    """A tenant of fixtures.sql (`name`, one of its DIDs `did`) with tenants.attrs `attrs` for a block,
    and '' again afterwards (both live before the block starts and before it returns)."""
    rows = TenantRows(sbc)
    try:
        rows.set_tenant(name, attrs=attrs)
        got = rows.wait_lookup(did, lambda r: r.get("attrs") == attrs)
        assert got.get("attrs") == attrs, got
        yield
    finally:
        rows.set_tenant(name, attrs="")
        rows.wait_lookup(did, lambda r: r.get("attrs") in (None, ""))


def callid_of(sipp, kind="ANSWERED"):
    evs = sipp.events(kind)
    return evs[0]["callid"] if evs else None


def call_number(callid):
    """SIPp Call-IDs are <call number>-<pid>@<ip>."""
    return int(callid.split("-", 1)[0])
