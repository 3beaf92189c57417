"""Access to the compose stack of tests/docker/docker-test.sh: `docker-compose exec` into the
services, the admin SQL block of docker/README.md, the SIPp gateway and carrier (tests/sipp's
harness), rtpengine's ng port and the rating agent double."""
import functools
import json
import os
import re
import shlex
import subprocess
import time
import urllib.request

import sipp_harness as harness
from rtpe_ng import NgClient

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
README = os.path.join(REPO, "docker", "README.md")

# The test settings written by docker-test.sh (test.env).
PRIVATE_IP = "127.0.6.1"
PUBLIC_IP = "127.0.7.1"
SIP_PORT = 5070
CARRIER_IP = "127.0.6.10"
GATEWAY_IP = "127.0.7.10"
RTPE_NG_PORT = 2226
DID = "4930123456"
TENANT = "docker-test"
AGENT = "http://127.0.0.1:%s" % os.environ.get("SBC_DOCKER_AGENT_PORT", "18060")
SERVICES = ("mariadb", "redis", "rtpengine", "kamailio-sbc")

# Values of the README's SET lines for this stack.
README_VALUES = {"sbc_private_ip": PRIVATE_IP, "sbc_public_ip": PUBLIC_IP, "sip_port": str(SIP_PORT),
                 "carrier_ip": CARRIER_IP, "gateway_ip": GATEWAY_IP, "tenant": TENANT, "did": DID}


def compose_cmd():
    return shlex.split(os.environ["SBC_DOCKER_COMPOSE"])


def compose(*args, input=None, timeout=120, check=True):
    r = subprocess.run(compose_cmd() + list(args), input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("compose %s failed (rc %d):\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


@functools.lru_cache(maxsize=1)
def compose_config():
    """The resolved compose file (docker-compose config) as a dict."""
    import yaml  # python3-yaml, a dependency of docker-compose
    return yaml.safe_load(compose("config").stdout)


def readme_admin_block():
    """(sql, [kamcmd commands]) of the block after the `admin-sql` marker in docker/README.md."""
    with open(README) as f:
        text = f.read()
    m = re.search(r"<!-- admin-sql.*?-->\n```sh\n(.*?)```", text, re.S)
    assert m, "docker/README.md has no admin-sql block"
    block = m.group(1)
    sql = re.search(r"<<'SQL'\n(.*?)\nSQL\n", block, re.S).group(1)
    cmds = re.findall(r"^docker compose exec kamailio-sbc (kamcmd .*)$", block, re.M)
    return sql, cmds


def with_test_values(sql):
    def repl(m):
        name = m.group(1)
        assert name in README_VALUES, "README sets @%s, which the test does not know" % name
        return "SET @%s = '%s';" % (name, README_VALUES[name])
    out, n = re.subn(r"SET @(\w+)\s*=\s*'[^']*';", repl, sql)
    assert n == len(README_VALUES), "README SET lines changed: %d replaced" % n
    return out


def container(service):
    """Id of the service's running container (plain docker CLI: much faster than docker-compose)."""
    project = compose_cmd()[compose_cmd().index("-p") + 1]
    r = subprocess.run(["docker", "ps", "-q", "--filter", "label=com.docker.compose.project=" + project,
                        "--filter", "label=com.docker.compose.service=" + service,
                        "--filter", "label=com.docker.compose.oneoff=False"],
                       stdout=subprocess.PIPE, text=True, check=True)
    ids = r.stdout.split()
    return ids[0] if len(ids) == 1 else None


def dexec(service, *cmd, input=None, timeout=60):
    """`docker compose exec -T <service> <cmd>`: stdout, raises on failure."""
    cid = container(service)
    assert cid, "%s is not running" % service
    r = subprocess.run(["docker", "exec"] + (["-i"] if input is not None else []) + [cid] + list(cmd),
                       input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("exec %s %s failed (rc %d):\n%s%s" % (service, " ".join(cmd), r.returncode,
                                                                 r.stdout, r.stderr))
    return r.stdout


class Stack:
    def __init__(self):
        self.ng = NgClient("127.0.0.1", RTPE_NG_PORT)

    def sql(self, query):
        out = dexec("mariadb", "mariadb", "-N", "-B", "kamailio", "-e", query)
        return [line.split("\t") for line in out.splitlines()]

    def kamcmd(self, *args):
        return dexec("kamailio-sbc", "kamcmd", *args)

    def health(self, service):
        cid = container(service)
        if not cid:
            return "absent"
        r = subprocess.run(["docker", "inspect", "-f",
                            "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}", cid],
                           stdout=subprocess.PIPE, text=True)
        return r.stdout.strip()

    def wait_healthy(self, service, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            if self.health(service) == "running/healthy":
                return True
            time.sleep(1)
        return False

    def logs(self, service, tail=40):
        cid = container(service)
        if not cid:
            return "(%s not running)" % service
        r = subprocess.run(["docker", "logs", "--tail", str(tail), cid], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        return r.stdout

    def apply_readme_admin_sql(self):
        sql, cmds = readme_admin_block()
        assert cmds == ["kamcmd permissions.addressReload", "kamcmd dispatcher.reload",
                        "kamcmd sbc_tenant.lookup s:4930123456"], cmds
        dexec("mariadb", "mariadb", "kamailio", input=with_test_values(sql))
        for cmd in cmds[:2]:
            self.kamcmd(*cmd.split()[1:])
        # DIDs follow by themselves (change tracking, about a second).
        end = time.time() + 10
        while True:
            out = self.kamcmd("sbc_tenant.lookup", "s:" + DID)
            if TENANT in out or time.time() > end:
                break
            time.sleep(0.3)
        assert TENANT in out, "DID %s not routed 10 s after the README's admin flow:\n%s" % (DID, out)


def start_gateway():
    p = harness.Sipp("docker-gateway", "uas_answer.xml", GATEWAY_IP, port=5060, rtp_echo=True,
                     client=False, timeout=900)
    p.start()
    time.sleep(0.5)
    assert p.alive(), p.describe()
    return p


def carrier_call(hold_ms=3000):
    """A call from the carrier to DID through the SBC's private side (not waited for)."""
    return harness.Sipp("docker-carrier", "uac_call.xml", CARRIER_IP, remote=(PRIVATE_IP, SIP_PORT),
                        service=DID, calls=1, hold_ms=hold_ms).start()


def agent_requests(callid):
    with urllib.request.urlopen(AGENT + "/_requests", timeout=5) as r:
        reqs = json.loads(r.read())
    return [r for r in reqs if isinstance(r.get("body"), dict) and r["body"].get("transaction_tag") == callid]
