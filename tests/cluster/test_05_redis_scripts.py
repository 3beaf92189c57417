"""The Lua scripts that make the cluster's shared state safe, run one by one in the cluster's Redis
exactly as the modules ship them (taken from the C sources): the outbox claims and the once-only end
record (src/modules/rating_agent/ra_outbox_redis.c) and the tenant call leases with the CPS bucket
(src/modules/sbc_tenant/sbct_cluster.c). Keys of these tests start with "t05:" (nothing else uses them).
Each step is a situation the end-to-end tests cannot force at will: two senders claiming at the same
instant, a lease running out under a dead sender, a second end record of the same call.
"""
import os
import re
import subprocess
import time

from cluster_harness import REDIS_PORT

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RA = os.path.join(REPO, "src", "modules", "rating_agent", "ra_outbox_redis.c")
SBCT = os.path.join(REPO, "src", "modules", "sbc_tenant", "sbct_cluster.c")

_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def lua_from_c(path, name):
    """The text of `static const char *NAME = ...;` (string literals, and #define'd ones, glued)."""
    src = open(path).read()
    defines = {}
    for m in re.finditer(r"^#define\s+(\w+)\s+((?:.*\\\n)*.*)$", src, re.M):
        defines[m.group(1)] = "".join(_STRING.findall(m.group(2)))
    m = re.search(r"static const char \*%s\s*=\s*(.*?);\n" % name, src, re.S)
    assert m, "%s not found in %s" % (name, path)
    out = []
    for tok in re.finditer(r'"((?:[^"\\]|\\.)*)"|\b([A-Z_][A-Z0-9_]*)\b', m.group(1)):
        if tok.group(1) is not None:
            out.append(tok.group(1))
        else:
            out.append(defines[tok.group(2)])
    return "".join(out).encode().decode("unicode_escape")


def ev(script, keys, args):
    r = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "--raw", "EVAL", script, str(len(keys))]
                       + [str(k) for k in keys] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
    assert "ERR" not in r.stdout, r.stdout
    # --raw: one line per element, empty strings as empty lines ("\n" alone: an empty array)
    out = r.stdout[:-1] if r.stdout.endswith("\n") else r.stdout
    return out.split("\n") if out else []


def rc(*args):
    r = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "--raw"] + [str(a) for a in args],
                       stdout=subprocess.PIPE, text=True, timeout=10)
    return r.stdout.strip()


def _clean():
    keys = rc("KEYS", "t05:*").split()
    if keys:
        rc("DEL", *keys)


# ---- rating outbox --------------------------------------------------------------------------------
P = "t05"
KP, KS, KD, KT, KC = P + ":pending", P + ":since", P + ":depth", P + ":tries", P + ":claim"


def _enq(tag, rec, now, once_ttl=0, kind="B"):
    return ev(lua_from_c(RA, "LUA_ENQ"), [P + ":q:" + tag, KP, KS, KD, "%s:once:%s:%s" % (P, kind, tag)],
              [rec, tag, now, now, once_ttl, "node-x/1"])


def _claim(owner, now, lease_until, max_n=10):
    out = ev(lua_from_c(RA, "LUA_CLAIM"), [KP, KC], [now, lease_until, owner, max_n])
    return dict(zip(out[0::2], out[1::2]))


def _ack(tag, rec, owner, now):
    return ev(lua_from_c(RA, "LUA_ACK"), [P + ":q:" + tag, KP, KS, KD, KT, KC], [rec, tag, now, owner])


def _retry(tag, owner, next_ms):
    return ev(lua_from_c(RA, "LUA_RETRY"), [KP, KT, KC], [tag, owner, next_ms])


def test_outbox_two_senders_claim_disjoint_calls_and_release_on_ack():
    _clean()
    _enq("t1", "RA1|B|1|100|1000|t1|x", 1000)
    _enq("t1", "RA1|E|2|101|1001|t1|x", 1001)
    _enq("t2", "RA1|B|3|100|1000|t2|x", 1000)
    # sender X claims both calls due at 1000 for a lease to 6000; Y at the same instant gets none
    assert _claim("x:1", 1000, 6000) == {"t1": "", "t2": ""}
    assert _claim("y:1", 1000, 6000) == {}
    # only the holder reschedules: Y's retry of t1 is refused, X's counts one attempt
    assert _retry("t1", "y:1", 1500) == ["-2"]
    # X delivered t1's begin: popped, claim released, t1's end due at once (for anyone)
    assert _ack("t1", "RA1|B|1|100|1000|t1|x", "x:1", 2000) == ["1"]
    assert rc("HEXISTS", KC, "t1") == "0" and rc("LLEN", P + ":q:t1") == "1"
    assert _claim("y:1", 2000, 7000) == {"t1": ""}
    # an ack for a record that is no longer the head removes nothing
    assert _ack("t1", "RA1|B|1|100|1000|t1|x", "x:1", 2100) == ["-1"]
    assert rc("LLEN", P + ":q:t1") == "1"
    assert rc("GET", KD) == "2"
    _clean()


def test_outbox_lease_runs_out_and_another_sender_takes_over():
    _clean()
    _enq("t3", "RA1|E|5|100|1000|t3|x", 1000)
    assert _claim("x:1", 1000, 6000) == {"t3": ""}
    assert _claim("y:1", 5999, 10999) == {}
    # X died holding the call: at the end of its lease Y takes it over, and learns from whom
    assert _claim("y:1", 6000, 11000) == {"t3": "x:1"}
    # X's late retry (it was only slow) does not disturb Y
    assert _retry("t3", "x:1", 6500) == ["-2"]
    assert rc("ZSCORE", KP, "t3") == "11000"
    assert _retry("t3", "y:1", 9000) == ["1"]
    assert rc("ZSCORE", KP, "t3") == "9000" and rc("HGET", KT, "t3") == "1"
    _clean()


def test_outbox_restart_takes_back_own_claims_only():
    _clean()
    for t in ("t4", "t5"):
        _enq(t, "RA1|B|1|100|1000|%s|x" % t, 1000)
    assert _claim("n1:100", 1000, 60000, 1) == {"t4": ""}
    assert _claim("n2:7", 1000, 60000, 1) == {"t5": ""}
    # node n1 restarted (sender pid 200): its old claim is due now, n2's live one stays
    out = ev(lua_from_c(RA, "LUA_RELEASE_OWN"), [KP, KC], ["n1:", "n1:200", 2000])
    assert out == ["1"]
    assert rc("HEXISTS", KC, "t4") == "0" and rc("ZSCORE", KP, "t4") == "2000"
    assert rc("HGET", KC, "t5") == "n2:7" and rc("ZSCORE", KP, "t5") == "60000"
    # flush: every call nobody holds is due now, held ones keep their lease
    assert ev(lua_from_c(RA, "LUA_FLUSH"), [KP, KT, KC], []) == ["1"]
    assert rc("ZSCORE", KP, "t4") == "0" and rc("ZSCORE", KP, "t5") == "60000"
    _clean()


def test_end_record_written_once_per_call():
    _clean()
    # two nodes see the same call end: the first end is stored, the second is not
    assert _enq("t6", "RA1|E|9|200|2000|t6|x", 2000, once_ttl=600, kind="E") == ["1"]
    assert _enq("t6", "RA1|E|9|201|2001|t6|y", 2001, once_ttl=600, kind="E") == ["-2"]
    assert rc("LLEN", P + ":q:t6") == "1" and rc("GET", KD) == "1"
    assert 590 <= int(rc("TTL", P + ":once:E:t6")) <= 600
    # without the guard (begin records, single node) nothing is refused (the reply is the outbox depth)
    assert _enq("t7", "RA1|B|1|100|1000|t7|x", 1000) == ["2"]
    assert _enq("t7", "RA1|B|1|100|1000|t7|x", 1000) == ["3"]
    assert rc("LLEN", P + ":q:t7") == "2"
    _clean()


# ---- tenant leases -----------------------------------------------------------------------------------
def _acquire(member, max_calls, max_cps, lease_ms, tid=1):
    return ev(lua_from_c(SBCT, "LUA_ACQUIRE"), ["t05:calls:%d" % tid, "t05:cps:%d" % tid],
              [member, max_calls, max_cps, lease_ms])


def test_leases_count_calls_expire_and_come_back():
    _clean()
    assert _acquire("c1", 2, 0, 60000) == ["1", "1"]
    assert _acquire("c2", 2, 0, 60000) == ["1", "2"]
    assert _acquire("c3", 2, 0, 60000) == ["-1", "2"]
    # the same call asking again (a repeated check) keeps its slot
    assert _acquire("c2", 2, 0, 60000) == ["1", "2"]
    assert ev(lua_from_c(SBCT, "LUA_COUNT"), ["t05:calls:1"], []) == ["2"]
    rc("ZREM", "t05:calls:1", "c1")
    assert _acquire("c3", 2, 0, 60000)[0] == "1"
    # leases of a node that stopped refreshing run out; a refresh brings a lost lease back
    assert _acquire("d1", 0, 0, 100, tid=2)[0] == "1"
    time.sleep(0.25)
    assert ev(lua_from_c(SBCT, "LUA_COUNT"), ["t05:calls:2"], []) == ["0"]
    assert ev(lua_from_c(SBCT, "LUA_REFRESH"), ["t05:calls:2", "t05:calls:1"], [60000, "d1", "c3"]) == ["2"]
    assert ev(lua_from_c(SBCT, "LUA_COUNT"), ["t05:calls:2"], []) == ["1"]
    _clean()


def test_cps_bucket_shared_by_every_caller():
    _clean()
    got = [_acquire("p%d" % i, 0, 3, 60000, tid=3) for i in range(6)]
    assert [g[0] for g in got] == ["1", "1", "1", "-2", "-2", "-2"], got
    # a refused call says how long until a token (one interval of 333 ms at most), takes no lease
    assert all(0 < int(g[1]) <= 334 for g in got[3:]), got
    assert ev(lua_from_c(SBCT, "LUA_COUNT"), ["t05:calls:3"], []) == ["3"]
    time.sleep(0.4)
    assert _acquire("p6", 0, 3, 60000, tid=3)[0] == "1"
    _clean()
