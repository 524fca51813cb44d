"""One request per rule of botocore's App Mesh model, each refused by the emulator with a 400
that names the field.

The rules are read from botocore's `appmesh/2019-01-25/service-2.json`, not from the emulator, so
a bound the emulator forgot fails here. Each case starts from a valid request for its operation,
sets one value that breaks one rule (creating whatever lies on the way from the model), and
expects exactly one validation error, at that field's path.
"""

import copy

import botocore.exceptions
import botocore.session
import pytest

MODEL = botocore.session.get_session().get_service_model("appmesh")
ABSENT = object()

# A valid request per operation (path and query members included); the emulator's seed has
# mesh `apps`, gateway `gw`, service `svc`, and `seed` adds the rest.
ROUTE = {"httpRoute": {"action": {"target": {"virtualService": {"virtualServiceName": "svc"}}},
                       "match": {"prefix": "/"}}}
# A virtual router's route, to node `node` of router `router` (both made by `seed`).
ROUTER_ROUTE = {"httpRoute": {"action": {"weightedTargets": [{"virtualNode": "node", "weight": 1}]},
                              "match": {"prefix": "/"}}}
ARN = "arn:aws:appmesh:us-west-2:111122223333:mesh/apps/virtualGateway/gw/gatewayRoute/base"
BASES = {
    "CreateGatewayRoute": {"meshName": "apps", "virtualGatewayName": "gw",
                           "gatewayRouteName": "other", "spec": ROUTE, "tags": []},
    "UpdateGatewayRoute": {"meshName": "apps", "virtualGatewayName": "gw",
                           "gatewayRouteName": "base", "spec": ROUTE},
    "DescribeGatewayRoute": {"meshName": "apps", "virtualGatewayName": "gw", "gatewayRouteName": "base"},
    "DeleteGatewayRoute": {"meshName": "apps", "virtualGatewayName": "gw", "gatewayRouteName": "base"},
    "ListGatewayRoutes": {"meshName": "apps", "virtualGatewayName": "gw"},
    "CreateMesh": {"meshName": "other"},
    "DescribeMesh": {"meshName": "apps"},
    "ListMeshes": {},
    "CreateVirtualGateway": {"meshName": "apps", "virtualGatewayName": "other",
                             "spec": {"listeners": [{"portMapping": {"port": 80, "protocol": "http"}}]}},
    "DescribeVirtualGateway": {"meshName": "apps", "virtualGatewayName": "gw"},
    "ListVirtualGateways": {"meshName": "apps"},
    "CreateVirtualService": {"meshName": "apps", "virtualServiceName": "other", "spec": {}},
    "DescribeVirtualService": {"meshName": "apps", "virtualServiceName": "svc"},
    "ListVirtualServices": {"meshName": "apps"},
    "CreateRoute": {"meshName": "apps", "virtualRouterName": "router", "routeName": "other",
                    "spec": ROUTER_ROUTE, "tags": []},
    "UpdateRoute": {"meshName": "apps", "virtualRouterName": "router", "routeName": "base",
                    "spec": ROUTER_ROUTE},
    "DescribeRoute": {"meshName": "apps", "virtualRouterName": "router", "routeName": "base"},
    "DeleteRoute": {"meshName": "apps", "virtualRouterName": "router", "routeName": "base"},
    "ListRoutes": {"meshName": "apps", "virtualRouterName": "router"},
    "TagResource": {"resourceArn": ARN, "tags": [{"key": "k", "value": "v"}]},
    "UntagResource": {"resourceArn": ARN, "tagKeys": ["k"]},
    "ListTagsForResource": {"resourceArn": ARN},
}
# Deletes aim at spares that `seed` makes, since the seed's own resources are in use.
BASES["DeleteMesh"] = {"meshName": "spare"}
BASES["DeleteVirtualGateway"] = {"meshName": "apps", "virtualGatewayName": "spare"}
BASES["DeleteVirtualService"] = {"meshName": "apps", "virtualServiceName": "spare"}


def fill(shape):
    """A minimal value of `shape` that satisfies the model."""
    t = shape.type_name
    if t == "structure":
        names = shape.required_members or []
        if shape.is_tagged_union and not names:
            names = [next(iter(shape.members))]
        return {n: fill(shape.members[n]) for n in names}
    if t == "list":
        lo = shape.metadata.get("min", 0)
        return [fill(shape.member) for _ in range(max(lo, 1))]
    if t == "string":
        if shape.enum:
            return shape.enum[0]
        if shape.name == "AccountId":
            return "111122223333"
        return "a" * max(shape.metadata.get("min", 1), 1)
    if t in ("integer", "long"):
        return max(shape.metadata.get("min", 1), 1)
    if t == "boolean":
        return True
    raise AssertionError(f"no filler for {shape.name} ({t})")


def set_path(value, shape, path, new):
    """Sets `new` (or removes the member, for ABSENT) at `path`, creating what lies on the way."""
    key, rest = path[0], path[1:]
    if shape.type_name == "list":
        while len(value) <= key:
            value.append(fill(shape.member))
        if rest:
            set_path(value[key], shape.member, rest, new)
        else:
            value[key] = new
        return
    member = shape.members[key]
    if shape.is_tagged_union and not rest:
        value.clear()  # one member of a union at a time, unless the case sets two on purpose
    if not rest:
        if new is ABSENT:
            value.pop(key, None)
        else:
            value[key] = new
        return
    if shape.is_tagged_union:
        for other in list(value):
            if other != key:
                del value[other]
    if key not in value or value[key] is None:
        value[key] = fill(member)
    set_path(value[key], member, rest, new)


def render(path):
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def rules(shape, path=(), top=None):
    """(path, bad value, what it breaks) for every rule under `shape`."""
    out = []
    t, meta = shape.type_name, shape.metadata
    located = top is not None and top.serialization.get("location") == "uri"
    if t == "string":
        if shape.enum:
            out.append((path, "NOT_IN_ENUM", "enum"))
        if meta.get("min", 0) > 0 and not located:  # an empty path segment cannot be sent
            out.append((path, "1" * (meta["min"] - 1), f"min length {meta['min']}"))
        if "max" in meta:
            out.append((path, "1" * (meta["max"] + 1), f"max length {meta['max']}"))
    elif t in ("integer", "long"):
        if "min" in meta:
            out.append((path, meta["min"] - 1, f"min {meta['min']}"))
        if "max" in meta:
            out.append((path, meta["max"] + 1, f"max {meta['max']}"))
    elif t == "list":
        if meta.get("min", 0) > 0:
            out.append((path, [], f"min items {meta['min']}"))
        if "max" in meta:
            out.append((path, [fill(shape.member) for _ in range(meta["max"] + 1)],
                        f"max items {meta['max']}"))
        out += rules(shape.member, path + (0,), top)
    elif t == "structure":
        if shape.is_tagged_union:
            if len(shape.members) > 1:
                a, b = list(shape.members)[:2]
                out.append((path, {a: fill(shape.members[a]), b: fill(shape.members[b])},
                            "union: two set"))
            out.append((path, {}, "union: none set"))
        for name, member in shape.members.items():
            m_top = member if not path else top
            m_located = m_top.serialization.get("location") == "uri"
            if name in (shape.required_members or []) and not (m_located and not path):
                out.append((path + (name,), ABSENT, "required"))
            out += rules(member, path + (name,), m_top)
    return out


def cases():
    for op in sorted(BASES):
        shape = MODEL.operation_model(op).input_shape
        for path, bad, what in rules(shape):
            yield pytest.param(op, path, bad, id=f"{op}:{render(path)}:{what}")


ALL_CASES = list(cases())


def call(client, op, params):
    method = getattr(client, botocore.xform_name(op))
    return method(**params)


def seed(emulator):
    c = emulator.client()
    c.create_gateway_route(meshName="apps", virtualGatewayName="gw", gatewayRouteName="base", spec=ROUTE)
    c.create_mesh(meshName="spare")
    c.create_virtual_gateway(meshName="apps", virtualGatewayName="spare",
                             spec=BASES["CreateVirtualGateway"]["spec"])
    c.create_virtual_service(meshName="apps", virtualServiceName="spare", spec={})
    c.create_virtual_node(meshName="apps", virtualNodeName="node", spec={})
    c.create_virtual_router(meshName="apps", virtualRouterName="router", spec={
        "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]})
    c.create_route(meshName="apps", virtualRouterName="router", routeName="base", spec=ROUTER_ROUTE)


def test_every_operation_served_has_a_base():
    served = {o for o in MODEL.operation_names
              if any(k in o for k in ("GatewayRoute", "Mesh", "VirtualGateway", "VirtualService"))
              and not o.startswith("Update") or o == "UpdateGatewayRoute"}
    served |= {"TagResource", "UntagResource", "ListTagsForResource"}
    served |= {"CreateRoute", "DescribeRoute", "UpdateRoute", "DeleteRoute", "ListRoutes"}
    served -= {"UpdateMesh"}
    assert served <= set(BASES), f"operations without a base request: {served - set(BASES)}"
    assert len(ALL_CASES) > 150, len(ALL_CASES)


@pytest.mark.parametrize("op", sorted(BASES))
def test_each_base_request_is_valid(emulator, op):
    seed(emulator)
    call(emulator.client(validate=True), op, copy.deepcopy(BASES[op]))


@pytest.mark.parametrize("op,path,bad", ALL_CASES)
def test_each_model_rule_is_enforced(emulator_process, op, path, bad):
    shape = MODEL.operation_model(op).input_shape
    params = copy.deepcopy(BASES[op])
    set_path(params, shape, list(path), bad if bad is ABSENT else copy.deepcopy(bad))
    client = emulator_process.client(validate=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(client, op, params)
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err
    assert err["Error"]["Code"] == "BadRequestException", err
    message = err["Error"]["Message"]
    assert message.startswith("1 validation error detected"), message
    assert f"at '{render(path)}'" in message, message
