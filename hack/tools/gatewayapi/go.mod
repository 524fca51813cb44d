// Pins the Gateway API release whose CRDs (standard channel) the export tests apply; nothing here
// is built: hack/testbin.sh downloads the module and copies its CRDs into the test-bed cache.
module meshroute.io/hack/tools/gatewayapi

go 1.26

require sigs.k8s.io/gateway-api v1.6.3
