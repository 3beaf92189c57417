"""make test's checks of docker/ that need no Docker engine: the compose file validates with Debian's
docker-compose (and Compose v2 where installed), every setting is in .env.example and read by the
image it is passed to, the entrypoints refuse bad settings with one line naming the variable, and the
kamailio-local.cfg rendered from a valid environment passes `kamailio -c` with our modules.
make docker-test (tests/docker/stack) runs the same images for real."""
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from bad_env_cases import CASES, VALID_ENV, case_id  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DOCKER = os.path.join(REPO, "docker")
COMPOSE_FILE = os.path.join(DOCKER, "compose.yaml")
ENV_EXAMPLE = os.path.join(DOCKER, ".env.example")
BIN = os.path.join(DOCKER, "bin")
MODULES = os.environ.get("SBC_MODULES_DIR", os.path.join(REPO, "build", "modules"))
ENTRYPOINTS = {"kamailio-sbc": "kamailio-sbc-entrypoint", "rtpengine": "rtpengine-entrypoint",
               "mariadb": "mariadb-entrypoint", "redis": "redis-entrypoint"}
# Mode of each entrypoint that checks the environment and starts nothing.
CHECK_MODE = {"kamailio-sbc": "render", "rtpengine": "args", "mariadb": "check", "redis": "check"}
# Settings the images read that this compose file fixes on purpose (documented in docker/README.md):
# MariaDB and Redis listen on the host's 127.0.0.1, where the SBC reaches them.
IMAGE_ONLY = {"SBC_DB_HOST", "SBC_REDIS_HOST", "SBC_DB_BIND_IP", "SBC_REDIS_BIND_IP"}


def run(cmd, env=None, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          timeout=120, **kw)


def env_example():
    out = {}
    with open(ENV_EXAMPLE) as f:
        for line in f:
            m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
            if m:
                out[m.group(1)] = m.group(2)
    return out


def filled_env_file(tmp_path):
    """.env.example with the required values filled in, as an operator would."""
    env = env_example()
    env.update({k: v for k, v in VALID_ENV.items() if k in env})
    p = tmp_path / "filled.env"
    p.write_text("".join("%s=%s\n" % kv for kv in env.items()))
    return str(p)


def compose_config(tool, env_file):
    cmd = (["docker-compose"] if tool == "v1" else ["docker", "compose"]) + \
        ["-f", COMPOSE_FILE, "--env-file", env_file, "config"]
    return run(cmd, cwd=DOCKER)


@pytest.mark.parametrize("which", ["example", "filled"])
def test_docker_compose_1_29_validates(tmp_path, which):
    assert shutil.which("docker-compose"), "docker-compose missing (scripts/install-deps.sh installs it)"
    env_file = ENV_EXAMPLE if which == "example" else filled_env_file(tmp_path)
    r = run(["docker-compose", "-f", COMPOSE_FILE, "--env-file", env_file, "config", "-q"], cwd=DOCKER)
    assert r.returncode == 0, r.stderr
    assert "WARNING" not in r.stderr, r.stderr


def test_compose_v2_validates(tmp_path):
    if not shutil.which("docker") or run(["docker", "compose", "version"]).returncode != 0:
        pytest.skip("no Compose v2 here: Debian bookworm packages only docker-compose 1.29")
    r = run(["docker", "compose", "-f", COMPOSE_FILE, "--env-file", filled_env_file(tmp_path), "config", "-q"],
            cwd=DOCKER)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    import yaml  # python3-yaml, a dependency of docker-compose
    r = compose_config("v1", filled_env_file(tmp_path_factory.mktemp("env")))
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


def test_services_healthchecked_host_networked_and_ordered(config):
    services = config["services"]
    assert sorted(services) == sorted(ENTRYPOINTS)
    for name, svc in services.items():
        assert svc.get("network_mode") == "host", name
        assert svc.get("healthcheck", {}).get("test"), name
        assert svc.get("restart") == "unless-stopped", name
        assert svc.get("cap_drop") == ["ALL"], name
        assert svc["build"]["network"] == "host" and svc["build"]["context"] == REPO, name
    deps = services["kamailio-sbc"]["depends_on"]
    assert {k: v["condition"] for k, v in deps.items()} == {
        "mariadb": "service_healthy", "redis": "service_healthy", "rtpengine": "service_healthy"}
    for name, target in (("mariadb", "/var/lib/mysql"), ("redis", "/var/lib/redis")):
        mounts = [v.split(":")[:2] if isinstance(v, str) else [v["source"], v["target"]]
                  for v in services[name]["volumes"]]
        assert ["%s-data" % name, target] in mounts, (name, mounts)
    assert set(config["volumes"]) == {"mariadb-data", "redis-data"}


def test_every_setting_in_env_example_and_read_by_its_image():
    with open(COMPOSE_FILE) as f:
        compose_text = f.read()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose_text))
    documented = set(env_example())
    assert used - documented == set(), "in compose.yaml but not in .env.example"
    assert documented - used - {"COMPOSE_PROJECT_NAME"} == set(), "in .env.example but unused"
    # Each service's environment is read by its own entrypoint (or healthcheck), and each variable an
    # entrypoint checks is passed by compose (unless fixed on purpose).
    import yaml
    services = yaml.safe_load(compose_text)["services"]
    for name, script in ENTRYPOINTS.items():
        with open(os.path.join(BIN, script)) as f:
            code = f.read()
        hc = os.path.join(BIN, script.replace("entrypoint", "healthcheck"))
        with open(hc) as f:
            code += f.read()
        passed = set(services[name]["environment"])
        assert {v for v in passed if v not in code} == set(), "%s gets variables it never reads" % name
        checked = set(re.findall(r"^\s*(?:\[.*\] \|\| )?sbc_\w+ (SBC_[A-Z0-9_]+)", code, re.M))
        assert len(checked) >= 3, "%s: no sbc_* checks found" % script
        assert checked - passed - IMAGE_ONLY == set(), "%s reads variables compose does not pass" % name


def entrypoint_env(tmp_path, **over):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SBC_")}
    env.update(VALID_ENV)
    env.update(SBC_CFG_SRC=os.path.join(REPO, "etc"), SBC_CFG_OUT=str(tmp_path / "cfg"),
               SBC_MODULES_DIR=MODULES, SBC_RUN_DIR=str(tmp_path))
    env.update(over)
    return env


@pytest.mark.parametrize("service,var,value,message", CASES, ids=[case_id(c) for c in CASES])
def test_entrypoint_refuses_bad_setting(tmp_path, service, var, value, message):
    env = entrypoint_env(tmp_path, **{var: value})
    r = run([os.path.join(BIN, ENTRYPOINTS[service]), CHECK_MODE[service]], env=env)
    lines = (r.stdout + r.stderr).splitlines()
    assert r.returncode == 64, (r.returncode, lines)
    assert len(lines) == 1 and message in lines[0], lines
    assert lines[0].startswith("%s: configuration error: " % service), lines
    assert not (tmp_path / "cfg").exists(), "rendered despite the error"


@pytest.mark.parametrize("service", sorted(ENTRYPOINTS))
def test_entrypoint_accepts_valid_settings(tmp_path, service):
    r = run([os.path.join(BIN, ENTRYPOINTS[service]), CHECK_MODE[service]], env=entrypoint_env(tmp_path))
    assert r.returncode == 0, r.stderr


def test_rtpengine_arguments(tmp_path):
    ep = os.path.join(BIN, "rtpengine-entrypoint")
    r = run([ep, "args"], env=entrypoint_env(tmp_path, SBC_PUBLIC_ADVERTISED_IP="203.0.113.7",
                                              SBC_RTPENGINE_TABLE="0"))
    assert r.returncode == 0, r.stderr
    args = r.stdout.split()
    for a in ("--interface=internal/127.0.6.1", "--interface=external/127.0.7.1!203.0.113.7",
              "--listen-ng=127.0.0.1:2226", "--listen-cli=127.0.0.1:2227", "--port-min=42000",
              "--port-max=42999"):
        assert a in args, (a, args)
    if not os.access("/proc/rtpengine/control", os.W_OK):
        assert "--table=-1" in args and "forwarding in userspace" in r.stderr, (args, r.stderr)


@pytest.mark.parametrize("variant", ["default", "rating-topoh-off", "tls"])
def test_rendered_cfg_passes_kamailio_check(tmp_path, variant):
    over = {}
    if variant == "rating-topoh-off":
        over = {"SBC_RATING": "0", "SBC_TOPOH": "0", "SBC_AGENT_URL": "", "SBC_TOPOH_KEY": ""}
    elif variant == "tls":
        src = tmp_path / "etc"
        shutil.copytree(os.path.join(REPO, "etc"), src)
        g = run([os.path.join(REPO, "scripts", "gen-cert.sh"), str(src / "tls"), "127.0.7.1"])
        assert g.returncode == 0, g.stderr
        over = {"SBC_TLS": "1", "SBC_CFG_SRC": str(src)}
    env = entrypoint_env(tmp_path, **over)
    r = run([os.path.join(BIN, "kamailio-sbc-entrypoint"), "render"], env=env)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "cfg"
    local = (out / "kamailio-local.cfg").read_text()
    assert oct((out / "kamailio-local.cfg").stat().st_mode & 0o777) == "0o600"  # holds the DB password
    assert "#!define PUBLIC_IP 127.0.7.1\n" in local
    assert '#!define DBURL "mysql://kamailio:0123456789abcdef@127.0.0.1:13316/kamailio"\n' in local
    assert '#!define REDIS_URL "redis://:fedcba9876543210@127.0.0.1:16389/0"\n' in local
    assert ("#!define NO_RATING\n" in local) == (variant == "rating-topoh-off")
    assert ("#!define WITH_TLS\n" in local) == (variant == "tls")
    assert local.index("#!define PUBLIC_IP") < local.index("#!trydef PUBLIC_IP"), "defines must come first"
    k = run(["kamailio", "-c", "-f", str(out / "kamailio.cfg"), "-Y", str(tmp_path), "-m", "64", "-M", "8"],
            cwd=str(out))
    errors = [l for l in (k.stdout + k.stderr).splitlines() if "ERROR" in l or "CRITICAL" in l]
    assert k.returncode == 0 and not errors, "\n".join(errors or (k.stdout + k.stderr).splitlines()[-15:])
