"""Fixtures of the docker stack tests (tests/docker/docker-test.sh runs them against the stack it
brought up; they cannot run on their own). The SIPp side reuses tests/sipp's harness: its logs go
to $SBC_RUNDIR/sipp (/tmp/sbc-docker-test/sipp)."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "sipp"))

import dockerstack  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SBC_DOCKER_COMPOSE"):
        return
    skip = pytest.mark.skip(reason="tests/docker/stack runs only under tests/docker/docker-test.sh "
                                   "(make docker-test), against the stack it brings up")
    for item in items:
        if str(item.fspath).startswith(HERE + os.sep):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack():
    return dockerstack.Stack()


@pytest.fixture(scope="session")
def gateway(stack):
    """The AI gateway (uas_answer.xml, echoes RTP) on 127.0.7.10:5060 for the whole session: the SBC
    probes it with OPTIONS once it is a dispatcher destination."""
    p = dockerstack.start_gateway()
    yield p
    p.stop()


@pytest.fixture(scope="session")
def routed(stack, gateway):
    """The admin flow of docker/README.md done once: carrier, gateway, tenant, DID, reloads."""
    stack.apply_readme_admin_sql()
    return dockerstack.DID
