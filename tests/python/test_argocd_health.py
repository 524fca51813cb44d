"""The Argo CD health check of docs/gitops.md, run with Lua 5.4 (Debian's lua5.4) against
GatewayRoutes in each state meshroute reports."""

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = (REPO / "docs/gatewayroute-health.lua").read_text()


def lua(value):
    """A Python value as a Lua literal."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "{" + ", ".join(lua(v) for v in value) + "}"
    return "{" + ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in value.items()) + "}"


def health(obj):
    interpreter = shutil.which("lua5.4")
    if interpreter is None:
        pytest.fail("lua5.4 is missing: `make test` installs it (apt-get install lua5.4)", pytrace=False)
    program = f"obj = {lua(obj)}\nlocal function check()\n{SCRIPT}\nend\nlocal hs = check()\nio.write(hs.status, '|', hs.message)"
    out = subprocess.run([interpreter, "-"], input=program, capture_output=True, text=True, check=True)
    status, message = out.stdout.split("|", 1)
    return status, message


# Reasons meshroute reports with Stalled=True (the rest of Ready=False with Reconciling=True).
TERMINAL = {"InvalidSpec", "UnsupportedSpec", "UnreadableRoute", "LimitExceeded", "AccessDenied",
            "NameInUse", "OwnedByOtherCluster"}


def route(generation=2, observed=2, ready=None, reason=None, message=""):
    """A GatewayRoute with the conditions meshroute writes for `reason`."""
    obj = {"apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
           "metadata": {"name": "web", "generation": generation}, "spec": {"meshName": "apps"}}
    if ready is not None:
        conditions = [{"type": "Ready", "status": ready, "reason": reason, "message": message,
                       "observedGeneration": observed}]
        if ready == "False":
            kind = "Stalled" if reason in TERMINAL else "Reconciling"
            conditions.append({"type": kind, "status": "True", "reason": reason, "message": message,
                               "observedGeneration": observed})
        obj["status"] = {"observedGeneration": observed, "conditions": conditions}
    return obj


@pytest.mark.parametrize("obj,expected", [
    (route(), "Progressing"),
    ({**route(), "status": {"observedGeneration": -1}}, "Progressing"),
    (route(ready="False", reason="OwnedByOtherCluster"), "Degraded"),
    (route(ready="True", reason="Synced", message="in sync"), "Healthy"),
    (route(observed=1, ready="True", reason="Synced"), "Progressing"),
    (route(ready="False", reason="InvalidSpec", message="BadRequestException"), "Degraded"),
    (route(ready="False", reason="NameInUse"), "Degraded"),
    (route(ready="False", reason="AccessDenied"), "Degraded"),
    (route(ready="False", reason="LimitExceeded"), "Degraded"),
    (route(ready="False", reason="DependencyNotFound", message="mesh apps does not exist"), "Progressing"),
    (route(ready="False", reason="AppMeshUnavailable"), "Progressing"),
])
def test_health_by_state(obj, expected):
    status, message = health(obj)
    assert status == expected, message
    current = obj.get("status", {}).get("observedGeneration") == obj["metadata"]["generation"]
    if current:
        assert message.startswith(obj["status"]["conditions"][0]["reason"]), message
    else:
        assert "reconcile" in message, message


def test_the_doc_carries_the_script_verbatim():
    doc = (REPO / "docs/gitops.md").read_text()
    block = doc.split("resource.customizations.health.meshroute.io_GatewayRoute: |\n", 1)[1].split("```", 1)[0]
    assert textwrap.dedent(block) == SCRIPT
