"""The GatewayRoute CRD against botocore's App Mesh model: every length, list size, range and enum of
CreateGatewayRouteInput appears in the generated schema with the same value, and every union of the
model is guarded by a CEL rule. The CRD is read from crds/, exactly as users install it."""

from pathlib import Path

import botocore.session
import yaml

REPO = Path(__file__).resolve().parents[2]
MODEL = botocore.session.get_session().get_service_model("appmesh")
CRD = yaml.safe_load((REPO / "crds/gatewayroutes.meshroute.io.yaml").read_text())
SPEC = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]

# Deliberate differences, each with its reason.
EXPECTED_DIFFERENCES = {
    # meshroute keeps 4 of App Mesh's 50 tags for its ownership tags.
    ("spec.tags", "maxItems"): 46,
}
# Request members that are not part of the CRD, and why.
NOT_IN_CRD = {
    "clientToken": "meshroute derives it from the object's uid",
}


def compare(shape, schema, path, found, problems):
    t, meta = shape.type_name, shape.metadata
    bounds = []
    if t == "string":
        bounds = [("min", "minLength"), ("max", "maxLength")]
        if shape.enum:
            found.append((path, "enum"))
            # An optional enum also admits null (it is nullable); compare the values.
            values = [v for v in schema.get("enum", []) if v is not None]
            if sorted(values) != sorted(shape.enum):
                problems.append(f"{path}: enum {schema.get('enum')} != model {shape.enum}")
    elif t in ("integer", "long"):
        bounds = [("min", "minimum"), ("max", "maximum")]
    elif t == "list":
        bounds = [("min", "minItems"), ("max", "maxItems")]
    for model_key, schema_key in bounds:
        if model_key not in meta:
            continue
        expected = EXPECTED_DIFFERENCES.get((path, schema_key), meta[model_key])
        # A minimum of 0 on a list or string is the same as no minimum.
        actual = schema.get(schema_key, 0 if model_key == "min" else None)
        found.append((path, schema_key))
        if actual != expected:
            problems.append(f"{path}: {schema_key} {actual} != model {model_key} {meta[model_key]}"
                            + (f" (expected {expected} by design)" if expected != meta[model_key] else ""))
    if t == "list":
        compare(shape.member, schema.get("items", {}), path + "[]", found, problems)
    elif t == "structure":
        if shape.is_tagged_union and not schema.get("x-kubernetes-validations"):
            problems.append(f"{path}: a model union without a CEL rule")
        props = schema.get("properties", {})
        for name, member in shape.members.items():
            if name not in props:
                problems.append(f"{path}.{name}: in the model, not in the CRD")
                continue
            compare(member, props[name], f"{path}.{name}", found, problems)
            if name in (shape.required_members or []) and name not in schema.get("required", []):
                problems.append(f"{path}.{name}: required in the model, optional in the CRD")


def test_every_model_bound_is_in_the_crd():
    request = MODEL.operation_model("CreateGatewayRoute").input_shape
    found, problems = [], []
    for name, member in request.members.items():
        if name in NOT_IN_CRD:
            continue
        if name == "spec":  # flattened one level into the CRD's spec
            for inner, shape in member.members.items():
                compare(shape, SPEC["properties"][inner], f"spec.{inner}", found, problems)
        else:
            assert name in SPEC["properties"], f"{name} missing from the CRD spec"
            compare(member, SPEC["properties"][name], f"spec.{name}", found, problems)
    assert not problems, "\n".join(problems)
    # The walk must have reached the model's bounds, not passed over them.
    assert len(found) >= 40, found
    for must in [("spec.priority", "maximum"), ("spec.httpRoute.match.headers", "maxItems"),
                 ("spec.http2Route.match.headers[].match.exact", "maxLength"),
                 ("spec.grpcRoute.match.metadata[].name", "maxLength"),
                 ("spec.meshOwner", "minLength"), ("spec.tags[].value", "maxLength"),
                 ("spec.httpRoute.match.method", "enum")]:
        assert must in found, must


def test_the_check_fails_on_a_changed_bound():
    request = MODEL.operation_model("CreateGatewayRoute").input_shape
    priority = dict(SPEC["properties"]["priority"], maximum=999)
    problems = []
    compare(request.members["spec"].members["priority"], priority, "spec.priority", [], problems)
    assert problems == ["spec.priority: maximum 999 != model max 1000"]
