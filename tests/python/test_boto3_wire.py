"""boto3/botocore against appmesh-emulator: the gateway-route lifecycle and App Mesh's errors,
parsed by an SDK that shares nothing with the Rust side."""

import math
import time

import botocore.exceptions
import pytest

SAMPLE = {  # the API reference's sample request
    "http2Route": {
        "action": {"target": {"virtualService": {"virtualServiceName": "myservicea.svc.cluster.local"}}},
        "match": {"prefix": "/"},
    }
}


def code(excinfo):
    err = excinfo.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]


def test_gateway_route_lifecycle(emulator):
    c = emulator.client()
    c.create_virtual_service(meshName="apps", virtualServiceName="myservicea.svc.cluster.local", spec={})
    created = c.create_gateway_route(
        meshName="apps", virtualGatewayName="gw", gatewayRouteName="myGatewayRoute",
        spec=SAMPLE, clientToken="1aa1111a-1111-1111-111a-a1a1a1aa111a",
        tags=[{"key": "team", "value": "edge"}],
    )["gatewayRoute"]
    meta = created["metadata"]
    assert meta["version"] == 1
    assert meta["arn"] == ("arn:aws:appmesh:us-west-2:111122223333:mesh/apps/"
                           "virtualGateway/gw/gatewayRoute/myGatewayRoute")
    assert meta["meshOwner"] == meta["resourceOwner"] == "111122223333"
    assert created["status"]["status"] == "ACTIVE"
    assert created["spec"]["http2Route"] == SAMPLE["http2Route"]

    again = c.create_gateway_route(
        meshName="apps", virtualGatewayName="gw", gatewayRouteName="myGatewayRoute",
        spec=SAMPLE, clientToken="1aa1111a-1111-1111-111a-a1a1a1aa111a",
        tags=[{"key": "team", "value": "edge"}],
    )["gatewayRoute"]
    assert again["metadata"]["uid"] == meta["uid"], "an idempotent retry returns the first result"

    described = c.describe_gateway_route(meshName="apps", virtualGatewayName="gw",
                                         gatewayRouteName="myGatewayRoute")["gatewayRoute"]
    assert described["metadata"]["createdAt"] == meta["createdAt"]

    spec = {"priority": 5, "httpRoute": {
        "action": {"target": {"virtualService": {"virtualServiceName": "svc"}},
                   "rewrite": {"prefix": {"value": "/v2/"}}},
        "match": {"prefix": "/v1/", "method": "GET",
                  "headers": [{"name": "x-canary", "match": {"range": {"start": 1, "end": 5}}}]}}}
    updated = c.update_gateway_route(meshName="apps", virtualGatewayName="gw",
                                     gatewayRouteName="myGatewayRoute", spec=spec)["gatewayRoute"]
    assert updated["metadata"]["version"] == 2
    assert updated["spec"]["httpRoute"] == spec["httpRoute"]
    assert updated["spec"]["priority"] == 5

    c.tag_resource(resourceArn=meta["arn"], tags=[{"key": "tier", "value": "1"}])
    c.untag_resource(resourceArn=meta["arn"], tagKeys=["team"])
    assert c.list_tags_for_resource(resourceArn=meta["arn"])["tags"] == [{"key": "tier", "value": "1"}]

    for i in range(6):
        c.create_gateway_route(meshName="apps", virtualGatewayName="gw", gatewayRouteName=f"r{i}",
                               spec={"httpRoute": {"action": {"target": {"virtualService": {
                                   "virtualServiceName": "svc"}}}, "match": {"prefix": f"/{i}"}}})
    pages = c.get_paginator("list_gateway_routes").paginate(
        meshName="apps", virtualGatewayName="gw", PaginationConfig={"PageSize": 3})
    names = [r["gatewayRouteName"] for page in pages for r in page["gatewayRoutes"]]
    assert sorted(names) == sorted(["myGatewayRoute"] + [f"r{i}" for i in range(6)])

    deleted = c.delete_gateway_route(meshName="apps", virtualGatewayName="gw",
                                     gatewayRouteName="myGatewayRoute")["gatewayRoute"]
    assert deleted["status"]["status"] == "DELETED"
    with pytest.raises(c.exceptions.NotFoundException):
        c.describe_gateway_route(meshName="apps", virtualGatewayName="gw", gatewayRouteName="myGatewayRoute")


def route(target="svc", prefix="/"):
    return {"httpRoute": {"action": {"target": {"virtualService": {"virtualServiceName": target}}},
                          "match": {"prefix": prefix}}}


def test_app_mesh_errors(emulator):
    c = emulator.client()
    raw = emulator.client(validate=False)
    create = dict(meshName="apps", virtualGatewayName="gw", gatewayRouteName="r")

    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.create_gateway_route(**create, spec=route(target="nope"))
    assert code(e)[:2] == (404, "NotFoundException") and "VirtualService 'nope'" in code(e)[2]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.create_gateway_route(**{**create, "virtualGatewayName": "gone"}, spec=route())
    assert code(e)[:2] == (404, "NotFoundException") and "VirtualGateway 'gone'" in code(e)[2]

    c.create_gateway_route(**create, spec=route(), clientToken="tok-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.create_gateway_route(**create, spec=route(), clientToken="tok-2")
    assert code(e)[:2] == (409, "ConflictException")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.create_gateway_route(**{**create, "gatewayRouteName": "r2"}, spec=route(), clientToken="tok-1")
    assert code(e)[:2] == (409, "ConflictException") and "client token" in code(e)[2]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.create_gateway_route(**{**create, "gatewayRouteName": "r3"}, spec=route(prefix="/aws-appmesh/x"))
    assert code(e)[:2] == (400, "BadRequestException") and "spec.httpRoute.match.prefix" in code(e)[2]
    # What App Mesh holds although its documentation says a prefix starts with /.
    raw.create_gateway_route(**{**create, "gatewayRouteName": "r4"}, spec=route(prefix="testPrefix"))

    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.delete_mesh(meshName="apps")
    assert code(e)[:2] == (409, "ResourceInUseException")

    arn = c.describe_gateway_route(**create)["gatewayRoute"]["metadata"]["arn"]
    c.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])
    with pytest.raises(c.exceptions.TooManyTagsException):
        c.tag_resource(resourceArn=arn, tags=[{"key": "k50", "value": "v"}])

    headers = None
    try:
        c.describe_mesh(meshName="missing")
    except c.exceptions.NotFoundException as err:
        headers = err.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == "NotFoundException"
    assert len(headers["x-amzn-requestid"]) == 36


def test_faults_and_counters_through_the_admin_api(emulator):
    emulator.admin("DELETE", "counters")
    emulator.admin("POST", "faults", {"operation": "DescribeMesh", "status": 503, "count": 1})
    c = emulator.client()
    with pytest.raises(c.exceptions.ServiceUnavailableException):
        c.describe_mesh(meshName="apps")
    retrying = emulator.client(attempts=3)
    emulator.admin("POST", "faults", {"operation": "DescribeMesh", "status": 500, "count": 1})
    assert retrying.describe_mesh(meshName="apps")["mesh"]["meshName"] == "apps"

    emulator.admin("POST", "faults", {"operation": "DescribeMesh", "dropConnection": True, "count": 1})
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        c.describe_mesh(meshName="apps")

    counters = emulator.admin("GET", "counters")
    assert counters["operations"]["DescribeMesh"] == {
        "ServiceUnavailableException": 1, "InternalServerErrorException": 1, "ok": 1,
        "connectionDropped": 1}
    assert counters["total"] == 4

    emulator.admin("PUT", "rate-limit", {"requestsPerSecond": 2, "burst": 3})
    outcomes = []
    started = time.monotonic()
    for _ in range(20):
        try:
            c.describe_mesh(meshName="apps")
            outcomes.append("ok")
        except c.exceptions.TooManyRequestsException:
            outcomes.append("throttled")
    elapsed = time.monotonic() - started
    emulator.admin("DELETE", "rate-limit")
    # Whatever the machine's speed: no more calls pass than the burst plus the rate over the time taken.
    assert 3 <= outcomes.count("ok") <= math.ceil(3 + 2 * elapsed), (outcomes, elapsed)


def test_virtual_nodes_and_routers_as_providers(emulator):
    """boto3's own model of the virtual node and router operations (URIs, members) against the
    emulator: what `meshroute import` reads to resolve a virtual service's backend."""
    c = emulator.client()
    missing = "web.apps.local"
    try:
        c.create_virtual_service(meshName="apps", virtualServiceName=missing, spec={
            "provider": {"virtualNode": {"virtualNodeName": "web"}}})
        raise AssertionError("a provider that does not exist was accepted")
    except c.exceptions.NotFoundException as e:
        assert "VirtualNode 'web'" in str(e)
    node = c.create_virtual_node(meshName="apps", virtualNodeName="web", spec={
        "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}],
        "serviceDiscovery": {"dns": {"hostname": "web.shop.svc.cluster.local"}}})["virtualNode"]
    assert node["metadata"]["arn"].endswith(":mesh/apps/virtualNode/web")
    router = c.create_virtual_router(meshName="apps", virtualRouterName="api", spec={
        "listeners": [{"portMapping": {"port": 3000, "protocol": "http"}}]})["virtualRouter"]
    assert router["spec"]["listeners"][0]["portMapping"]["port"] == 3000
    c.create_virtual_service(meshName="apps", virtualServiceName=missing, spec={
        "provider": {"virtualNode": {"virtualNodeName": "web"}}})
    described = c.describe_virtual_node(meshName="apps", virtualNodeName="web")["virtualNode"]
    assert described["spec"]["serviceDiscovery"]["dns"]["hostname"] == "web.shop.svc.cluster.local"
    assert [n["virtualNodeName"] for n in c.list_virtual_nodes(meshName="apps")["virtualNodes"]] == ["web"]
    assert c.describe_virtual_router(meshName="apps", virtualRouterName="api")["virtualRouter"]["virtualRouterName"] == "api"
    try:
        c.delete_virtual_node(meshName="apps", virtualNodeName="web")
        raise AssertionError("a provider in use was deleted")
    except c.exceptions.ResourceInUseException:
        pass
    c.delete_virtual_service(meshName="apps", virtualServiceName=missing)
    c.delete_virtual_node(meshName="apps", virtualNodeName="web")
    c.delete_virtual_router(meshName="apps", virtualRouterName="api")
    assert c.list_virtual_routers(meshName="apps")["virtualRouters"] == []


def test_router_route_lifecycle(emulator):
    """A virtual router's routes through boto3's model of CreateRoute and its kin: the ARN,
    versions, paging, tags, and App Mesh's refusals (a target node that does not exist,
    weights that sum past 100 or to 0, a router deleted before its routes)."""
    c = emulator.client()
    for node in ("blue", "green"):
        c.create_virtual_node(meshName="apps", virtualNodeName=node, spec={
            "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}],
            "serviceDiscovery": {"dns": {"hostname": f"{node}.shop.svc.cluster.local"}}})
    c.create_virtual_router(meshName="apps", virtualRouterName="web", spec={
        "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]})

    def spec(blue, green):
        return {"httpRoute": {
            "match": {"prefix": "/"},
            "action": {"weightedTargets": [{"virtualNode": "blue", "weight": blue},
                                           {"virtualNode": "green", "weight": green}]},
            "timeout": {"perRequest": {"unit": "ms", "value": 500}},
            "retryPolicy": {"maxRetries": 2, "perRetryTimeout": {"unit": "s", "value": 1},
                            "httpRetryEvents": ["gateway-error"]}}}

    created = c.create_route(meshName="apps", virtualRouterName="web", routeName="split",
                             spec=spec(90, 10), tags=[{"key": "team", "value": "web"}])["route"]
    assert created["metadata"]["arn"] == ("arn:aws:appmesh:us-west-2:111122223333:mesh/apps/"
                                          "virtualRouter/web/route/split")
    assert created["metadata"]["version"] == 1
    assert created["spec"]["httpRoute"]["action"]["weightedTargets"][1] == {
        "virtualNode": "green", "weight": 10}
    assert created["spec"]["httpRoute"]["retryPolicy"]["maxRetries"] == 2
    updated = c.update_route(meshName="apps", virtualRouterName="web", routeName="split",
                             spec=spec(50, 50))["route"]
    assert updated["metadata"]["version"] == 2
    described = c.describe_route(meshName="apps", virtualRouterName="web", routeName="split")
    assert described["route"]["spec"]["httpRoute"]["action"]["weightedTargets"][0]["weight"] == 50
    tags = c.list_tags_for_resource(resourceArn=created["metadata"]["arn"])["tags"]
    assert tags == [{"key": "team", "value": "web"}]
    for i in range(3):
        c.create_route(meshName="apps", virtualRouterName="web", routeName=f"r{i}",
                       spec={**spec(1, 0), "priority": i})
    pages = c.get_paginator("list_routes").paginate(
        meshName="apps", virtualRouterName="web", PaginationConfig={"PageSize": 2})
    names = [r["routeName"] for page in pages for r in page["routes"]]
    assert names == ["r0", "r1", "r2", "split"]

    bad = {
        "missing node": {"httpRoute": {"match": {"prefix": "/"}, "action": {
            "weightedTargets": [{"virtualNode": "nope", "weight": 1}]}}},
        "over 100": spec(90, 20),
        "zero": spec(0, 0),
    }
    refused = {}
    for name, body in bad.items():
        try:
            c.create_route(meshName="apps", virtualRouterName="web", routeName="bad", spec=body)
            raise AssertionError(f"{name}: accepted")
        except botocore.exceptions.ClientError as e:
            refused[name] = (e.response["ResponseMetadata"]["HTTPStatusCode"],
                             e.response["Error"]["Code"])
    assert refused == {"missing node": (404, "NotFoundException"),
                       "over 100": (400, "BadRequestException"),
                       "zero": (400, "BadRequestException")}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.delete_virtual_router(meshName="apps", virtualRouterName="web")
    assert code(e)[1] == "ResourceInUseException"
    for name in ("split", "r0", "r1", "r2"):
        c.delete_route(meshName="apps", virtualRouterName="web", routeName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.describe_route(meshName="apps", virtualRouterName="web", routeName="split")
    assert code(e)[:2] == (404, "NotFoundException")
    c.delete_virtual_router(meshName="apps", virtualRouterName="web")
