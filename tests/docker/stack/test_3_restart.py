"""State survives: MariaDB and Redis containers are recreated from their images (the named volumes
stay) and keep every row / key; the SBC goes on routing, rating and billing afterwards."""
import time

import dockerstack as ds
from test_2_call import assert_rated_and_billed, place_call, wait_for

TABLES = ("address", "dispatcher", "tenants", "did_routing", "acc_cdrs", "sbc_routing_version")


def _snapshot(stack):
    return {row[0]: row[1] for row in stack.sql("CHECKSUM TABLE %s" % ", ".join(TABLES))}


def test_mariadb_recreated_keeps_data(stack, routed, gateway):
    cdrs = int(stack.sql("SELECT COUNT(*) FROM acc_cdrs")[0][0])
    assert cdrs >= 1, "no CDR yet: test_2_call must run first"
    before = _snapshot(stack)
    assert len(before) == len(TABLES) and all(before.values()), before
    ds.compose("up", "-d", "--no-deps", "--force-recreate", "mariadb")
    assert stack.wait_healthy("mariadb"), stack.logs("mariadb")
    after = _snapshot(stack)
    assert after == before, "tables changed across the MariaDB restart: %r -> %r" % (before, after)
    logs = stack.logs("mariadb", 500)
    assert "first start" not in logs, "the datadir was created again:\n" + logs
    # The SBC reconnects by itself: the next call is routed, rated and billed.
    callid = place_call(stack, gateway, hold_ms=1500, check_media=False)
    assert_rated_and_billed(stack, callid)
    assert int(stack.sql("SELECT COUNT(*) FROM acc_cdrs")[0][0]) == cdrs + 1


def _redis(*args):
    cmd = 'REDISCLI_AUTH="$SBC_REDIS_PASSWORD" redis-cli --no-auth-warning -p "$SBC_REDIS_PORT" ' + " ".join(args)
    return ds.dexec("redis", "sh", "-c", cmd).strip()


def test_redis_recreated_keeps_data(stack, routed, gateway):
    assert _redis("CONFIG", "GET", "appendonly").split() == ["appendonly", "yes"]
    marker = "docker-test-%d" % time.time()
    assert _redis("SET", "sbc:docker-test:marker", marker) == "OK"
    ds.compose("up", "-d", "--no-deps", "--force-recreate", "redis")
    assert stack.wait_healthy("redis"), stack.logs("redis")
    assert _redis("GET", "sbc:docker-test:marker") == marker
    _redis("DEL", "sbc:docker-test:marker")
    # The rating outbox works against the new Redis: begin/end of the next call are delivered.
    callid = place_call(stack, gateway, hold_ms=1500, check_media=False)
    assert wait_for(lambda: stack.health("kamailio-sbc") == "running/healthy", 5)
    assert_rated_and_billed(stack, callid)
