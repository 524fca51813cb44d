// Stands in, through `go build -overlay`, for lego's generated providers/dns/zz_gen_dns_providers.go,
// which imports every DNS provider lego supports, 13 of whose SDKs the Go module proxy refuses.
// Traefik calls only this function, when an ACME resolver uses a DNS-01 challenge; the test bed
// uses no ACME at all.
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// NewDNSChallengeProviderByName refuses every provider: none is built into this binary.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("DNS-01 provider %q is not built into the meshroute test bed's Traefik", name)
}
