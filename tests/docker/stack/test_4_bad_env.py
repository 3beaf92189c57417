"""Missing or malformed settings: the container exits at once (64) with one line naming the variable,
before any daemon starts (no Kamailio, rtpengine, MariaDB or Redis output)."""
import subprocess
import time

import pytest

import bad_env_cases
import dockerstack as ds

# The host-side cases of make test, plus what only a real container can show.
CASES = bad_env_cases.CASES + [
    ("kamailio-sbc", "SBC_TLS", "1", "SBC_TLS=1 but /etc/kamailio-sbc/tls/sbc-cert.pem is missing"),
]


def _docker_run(service, var, value):
    """The service's container as compose would create it (image, environment resolved from the test
    .env, host network, no capabilities) with one setting changed. `docker-compose run` cannot be
    used: 1.29 adds links to one-off containers, which Docker refuses with host networking."""
    svc = ds.compose_config()["services"][service]
    env = dict(svc.get("environment") or {})
    env[var] = value
    cmd = ["docker", "run", "--rm", "--network", "host", "--cap-drop", "ALL",
           "--security-opt", "no-new-privileges:true"]
    for k, v in sorted(env.items()):
        cmd += ["-e", "%s=%s" % (k, "" if v is None else v)]
    return subprocess.run(cmd + [svc["image"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=60)


@pytest.mark.parametrize("service,var,value,message", CASES,
                         ids=[bad_env_cases.case_id(c) for c in CASES])
def test_bad_setting_exits_at_once_naming_it(stack, service, var, value, message):
    t = time.time()
    r = _docker_run(service, var, value)
    took = time.time() - t
    out = (r.stdout + r.stderr).splitlines()
    assert r.returncode == 64, "rc %d, output %r" % (r.returncode, out)
    assert len(out) == 1 and message in out[0], out
    assert out[0].startswith("%s: configuration error: " % service), out
    assert took < 15, "took %.1f s" % took
