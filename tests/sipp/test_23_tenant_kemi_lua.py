"""KEMI proof of sbc_tenant: a second Kamailio, on its own socket and control socket, routes with the Lua
script tests/kemi/sbc_tenant.lua (app_lua) that calls KSR.sbc_tenant.lookup() and
KSR.sbc_tenant.check_limits() and relays to $xavp(sbct=>gateway_uri). It reads the suite's database.
SIPp INVITEs from the carrier prove the same return codes and xavp values as the native cfg functions,
and that check_limits() counts the call through the dialog module (the script never calls dlg_manage()).

The second Kamailio reads did_routing row by row (packed_load 0), the SBC with the packed MySQL read:
with bad rows in the tables both must build the same index (same counts, same lookups).
"""
import os
import signal
import subprocess
import time

import pytest

from sipp_harness import CARRIER_IP, PEER_PORT, REPO, RUNDIR, SIP_PORT, STACK_ENV
from tenant_common import GW_A, GW_B, TenantRows, parse_kamcmd

LUA_IP = "127.0.5.1"
LUA_PORT = SIP_PORT + 7
LUA = (LUA_IP, LUA_PORT)
LUA_RUNDIR = os.path.join(RUNDIR, "kemi-lua")
LUA_CTL = "unix:%s/kamailio_ctl" % LUA_RUNDIR

DID_A = "4999500001"       # exact, gateway_uri GW_A
DID_B = "4999500002"       # exact, gateway_uri GW_B
DID_PREFIX = "499950009"   # prefix row "499950009*", gateway_uri GW_B
DID_OFF = "4999500003"     # tenant disabled


class LuaKamailio:
    def __init__(self):
        os.makedirs(LUA_RUNDIR, exist_ok=True)
        self.log_path = os.path.join(LUA_RUNDIR, "kamailio.log")
        dburl = "mysql://kamailio:kamailiorw@127.0.0.1:%s/kamailio" % STACK_ENV["SBC_DB_PORT"]
        self.cmd = ["kamailio", "-f", os.path.join(REPO, "tests", "kemi", "kamailio-lua.cfg"),
                    "-Y", LUA_RUNDIR, "-P", os.path.join(LUA_RUNDIR, "kamailio.pid"), "-DD", "-E",
                    "-m", "64", "-M", "8",
                    "-A", "LUA_IP=%s" % LUA_IP, "-A", "LUA_PORT=%d" % LUA_PORT,
                    "-A", 'DBURL="%s"' % dburl,
                    "-A", 'MODULES_DIR="%s"' % os.path.join(REPO, "build", "modules"),
                    "-A", 'LUA_SCRIPT="%s"' % os.path.join(REPO, "tests", "kemi", "sbc_tenant.lua"),
                    "-A", 'CTL_SOCKET="%s"' % LUA_CTL]
        self.proc = None

    def start(self):
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=REPO, start_new_session=True)
        log.close()
        end = time.time() + 20
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("Lua Kamailio exited:\n" + self.log_tail())
            try:
                self.kamcmd("core.uptime", timeout=2)
                return self
            except Exception:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("Lua Kamailio does not answer on %s:\n%s" % (LUA_CTL, self.log_tail()))

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def kamcmd(self, *args, timeout=10):
        r = subprocess.run(["kamcmd", "-s", LUA_CTL] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if r.returncode != 0 or r.stdout.startswith("error"):
            raise RuntimeError("kamcmd %s: %s" % (" ".join(args), r.stdout))
        return r.stdout

    def log_offset(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, off):
        with open(self.log_path, "rb") as f:
            f.seek(off)
            return f.read().decode(errors="replace")

    def log_tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"


@pytest.fixture(scope="module")
def lua(sbc):
    r = TenantRows(sbc)
    k = LuaKamailio()
    try:
        r.gateway(GW_A)
        r.gateway(GW_B)
        r.tid = r.tenant("t4-lua", 0, max_calls=1)
        off = r.tenant("t4-lua-off", 0, enabled=0)
        r.did(DID_A, r.tid, uri="sip:%s:%d" % (GW_A, PEER_PORT))
        r.did(DID_B, r.tid, uri="sip:%s:%d" % (GW_B, PEER_PORT))
        r.did(DID_PREFIX + "*", r.tid, uri="sip:%s:%d" % (GW_B, PEER_PORT))
        r.did(DID_OFF, off, uri="sip:%s:%d" % (GW_A, PEER_PORT))
        _bad_rows(r, off)
        k.start()
        k.rows = r
        yield k
    finally:
        k.stop()
        try:
            r.sql("DELETE FROM did_routing WHERE description = 't4 bad'; DELETE FROM tenants WHERE name = 't4-lua-bad'")
        finally:
            errors = r.cleanup()
        assert not errors, errors


BAD_URI = "sip:x,y;z=1%3B@127.0.0.1:5060;transport=udp"   # separators of the packed format inside a value


def _bad_rows(r, off_tid):
    """Rows the loader must skip (and count) or take exactly as written, whichever way it reads them."""
    r.sql("DELETE FROM did_routing WHERE description = 't4 bad'; DELETE FROM tenants WHERE name = 't4-lua-bad'")
    r.sql("INSERT INTO tenants (name, gateway_group) VALUES ('t4-lua-bad', -1)")   # negative group: skipped
    bad = r.sql("SELECT id FROM tenants WHERE name = 't4-lua-bad'")[0][0]
    rows = [
        ("'4999x51'", r.tid, "NULL", "NULL", 1),              # not a DID pattern
        ("'4999500052'", 4000000000, "NULL", "NULL", 1),     # unknown tenant
        ("'4999500053'", bad, "NULL", "NULL", 1),            # tenant skipped
        ("'4999500054'", r.tid, -5, "NULL", 1),              # negative group
        ("'4999500055'", r.tid, "NULL", "NULL", 0),          # disabled: not loaded, counted apart
        ("'4999500056'", r.tid, 7, "NULL", 1),               # duplicate pattern of the next one
        ("'+4999500056'", r.tid, 8, "NULL", 1),
        ("'4999500058'", r.tid, "NULL", "'%s'" % BAD_URI, 1),               # kept, URI as written
        ("'49995001*'", off_tid, 9, "''", 1),                # prefix of the disabled tenant, empty URI
    ]
    for did, tid, grp, uri, en in rows:
        r.sql("INSERT INTO did_routing (did, tenant_id, gateway_group, gateway_uri, enabled, description) "
              "VALUES (%s, %s, %s, %s, %d, 't4 bad')" % (did, tid, grp, uri, en))


def _call(sbc, did, hold_ms=200, name="t4-lua-call"):
    return sbc.uac("uac_call_nortp.xml", CARRIER_IP, LUA, name=name, service=did, calls=1,
                   hold_ms=hold_ms).run()


def _expect(sbc, did, code, name="t4-lua-expect"):
    u = sbc.uac("uac_expect_code.xml", CARRIER_IP, LUA, name=name, service=did, calls=1,
                sets={"expected_code": code}).run()
    fin = u.events("FINAL")
    return u, (int(fin[0]["code"]) if fin else None)


@pytest.mark.parametrize("did,gw,pattern", [
    (DID_A, GW_A, DID_A),
    (DID_B, GW_B, DID_B),
    (DID_PREFIX + "1", GW_B, DID_PREFIX + "*"),
], ids=["exact-a", "exact-b", "prefix"])
def test_lua_lookup_routes_with_the_xavp(sbc, lua, did, gw, pattern):
    off = lua.log_offset()
    mark = sbc.peers.mark()
    u = _call(sbc, did)
    ids = [e["callid"] for e in u.events("ANSWERED")]
    diag = "%s\n--- Lua Kamailio log:\n%s" % (u.describe(), lua.log_since(off)[-4000:])
    assert u.rc == 0 and ids and u.events("BYE_OK"), diag
    assert sbc.peers.receivers(mark, ids[0]) == [gw], diag
    log = lua.log_since(off)
    rc = "2" if pattern.endswith("*") else "1"
    assert ("lua: lookup did=%s rc=%s tenant=t4-lua pattern=%s" % (did, rc, pattern)) in log, diag
    assert "lua: check_limits tenant=t4-lua rc=1" in log, diag


@pytest.mark.parametrize("did,code", [
    ("4888000000", 404),
    (DID_OFF, 403),
    ("49x1", 484),
], ids=["unknown", "tenant-disabled", "invalid"])
def test_lua_lookup_return_codes(sbc, lua, did, code):
    mark = sbc.peers.mark()
    u, got = _expect(sbc, did, code)
    assert u.rc == 0 and got == code, u.describe()
    assert sbc.peers.receivers(mark) == []


def test_lua_check_limits_counts_through_the_dialog(sbc, lua):
    off = lua.log_offset()
    held = sbc.uac("uac_call_nortp.xml", CARRIER_IP, LUA, name="t4-lua-held", service=DID_A, calls=1,
                   hold_ms=4000).start()
    assert held.wait_event("ANSWERED", timeout=10) is not None, held.describe() + lua.log_tail()

    def calls():
        return int(parse_kamcmd(lua.kamcmd("sbc_tenant.list", str(lua.rows.tid)))["calls"])

    assert calls() == 1
    # max_calls 1: the second call gets 486 from the script
    u, got = _expect(sbc, DID_B, 486, name="t4-lua-busy")
    assert u.rc == 0 and got == 486, u.describe() + lua.log_since(off)[-3000:]
    assert "lua: check_limits tenant=t4-lua rc=-1" in lua.log_since(off)
    held.wait()
    assert held.rc == 0, held.describe()
    end = time.time() + 5
    while calls() != 0 and time.time() < end:
        time.sleep(0.1)
    assert calls() == 0, lua.kamcmd("sbc_tenant.list", str(lua.rows.tid))
    u = _call(sbc, DID_B, name="t4-lua-after")
    assert u.rc == 0 and u.events("ANSWERED"), u.describe()
    st = parse_kamcmd(lua.kamcmd("sbc_tenant.stats"))
    assert st["limits"]["rejected_calls"] == "1" and int(st["limits"]["passed"]) >= 2, st


def _same_version(sbc, lua):
    want = lua.rows.version()

    def live(text):
        return parse_kamcmd(text)["live"]["version"]
    end = time.time() + 5
    while time.time() < end:
        if live(sbc.stack.kamcmd("sbc_tenant.stats")) == str(want) == live(lua.kamcmd("sbc_tenant.stats")):
            return True
        time.sleep(0.1)
    return False


def test_packed_and_row_by_row_loads_build_the_same_index(sbc, lua):
    assert _same_version(sbc, lua), "the two Kamailios did not load the same version"
    packed = parse_kamcmd(sbc.stack.kamcmd("sbc_tenant.stats"))
    rows = parse_kamcmd(lua.kamcmd("sbc_tenant.stats"))
    keys = ("tenants", "dids", "exact", "prefixes", "rows_skipped", "rows_disabled", "index_bytes")
    assert {k: packed[k] for k in keys} == {k: rows[k] for k in keys}, (packed, rows)
    # Counts alone could hide two different mistakes; the rows themselves are looked up too.
    dids = ["4930100001", "4930555000", "4930200002", "4930123456", "4930191111", "4960100001", "4888000000",
            DID_A, DID_B, DID_PREFIX + "7", DID_OFF, "4999500052", "4999500053", "4999500054", "4999500055",
            "4999500056", "+4999500056", "4999500058", "49995001", "499950012345", "4999x51"]
    for did in dids:
        a = parse_kamcmd(sbc.stack.kamcmd("sbc_tenant.lookup", "s:" + did))
        b = parse_kamcmd(lua.kamcmd("sbc_tenant.lookup", "s:" + did))
        assert a == b, "%s: packed %r, row by row %r" % (did, a, b)
    got = parse_kamcmd(lua.kamcmd("sbc_tenant.lookup", "s:4999500058"))
    assert (got["code"], got["gateway_uri"]) == ("1", BAD_URI), got
    got = parse_kamcmd(lua.kamcmd("sbc_tenant.lookup", "s:4999500056"))
    assert (got["code"], got["gateway_group"], got["pattern"]) == ("1", "7", "4999500056"), got
    for did in ("4999500052", "4999500053", "4999500054", "4999500055"):
        got = parse_kamcmd(lua.kamcmd("sbc_tenant.lookup", "s:" + did))
        assert got["code"] == "-1", (did, got)
    got = parse_kamcmd(lua.kamcmd("sbc_tenant.lookup", "s:499950012345"))
    assert (got["code"], got["tenant"], got["gateway_group"], got["gateway_uri"]) == ("-2", "t4-lua-off", "9", ""), got
