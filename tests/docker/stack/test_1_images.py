"""The running stack: four healthy services, every process non-root, no settings or secrets in the
images (everything comes from the environment at start)."""
import json
import re
import subprocess

import pytest

from dockerstack import SERVICES, container, dexec


@pytest.mark.parametrize("service", SERVICES)
def test_service_healthy_and_not_root(stack, service):
    assert stack.health(service) == "running/healthy", stack.logs(service)
    uid = dexec(service, "id", "-u").strip()
    assert uid.isdigit() and uid != "0", "%s runs as uid %r" % (service, uid)


@pytest.mark.parametrize("service", SERVICES)
def test_image_holds_no_settings(stack, service):
    image = subprocess.run(["docker", "inspect", "-f", "{{.Image}}", container(service)], stdout=subprocess.PIPE,
                           text=True, check=True).stdout.strip()
    cfg = json.loads(subprocess.run(["docker", "image", "inspect", image], stdout=subprocess.PIPE,
                                    text=True, check=True).stdout)[0]["Config"]
    assert cfg.get("User") not in (None, "", "root", "0"), cfg.get("User")
    baked = [e for e in cfg.get("Env") or [] if e.startswith("SBC_")]
    assert baked == [], "settings baked into the %s image: %r" % (service, baked)
    assert cfg.get("Healthcheck", {}).get("Test"), "the %s image has no HEALTHCHECK" % service


@pytest.mark.parametrize("service", ["kamailio-sbc", "rtpengine"])
def test_started_without_errors(stack, service):
    """Nothing has happened yet: start-up alone must not log errors (e.g. a file missing in the image)."""
    # Kamailio: " ERROR: " / " CRITICAL: "; rtpengine: "ERR:" / "CRIT:" / "ALERT:" / "EMERG:".
    bad = [l for l in stack.logs(service, 2000).splitlines()
           if re.search(r"\b(ERROR|CRITICAL|ERR|CRIT|ALERT|EMERG):", l)]
    assert bad == [], "\n".join(bad[:20])
