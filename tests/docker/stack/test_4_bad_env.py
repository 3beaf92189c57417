"""Missing or malformed settings: the container exits at once (64) with one line naming the variable,
before any daemon starts (no Kamailio, rtpengine, MariaDB or Redis output)."""
import re
import time

import pytest

import bad_env_cases
import dockerstack as ds

# The host-side cases of make test, plus what only a real container can show.
CASES = bad_env_cases.CASES + [
    ("kamailio-sbc", "SBC_TLS", "1", "SBC_TLS=1 but /etc/kamailio-sbc/tls/sbc-cert.pem is missing"),
]

# Lines docker-compose itself prints around `run`.
_COMPOSE_NOISE = re.compile(r"^(Creating|Removing|Starting|Stopping) |^\s*$")


@pytest.mark.parametrize("service,var,value,message", CASES,
                         ids=[bad_env_cases.case_id(c) for c in CASES])
def test_bad_setting_exits_at_once_naming_it(stack, service, var, value, message):
    t = time.time()
    r = ds.compose("run", "-T", "--rm", "--no-deps", "-e", "%s=%s" % (var, value), service,
                   check=False, timeout=60)
    took = time.time() - t
    out = [l for l in (r.stdout + r.stderr).splitlines() if not _COMPOSE_NOISE.search(l)]
    assert r.returncode == 64, "rc %d, output %r" % (r.returncode, out)
    assert len(out) == 1 and message in out[0] and "configuration error" in out[0], out
    assert took < 30, "took %.1f s" % took
