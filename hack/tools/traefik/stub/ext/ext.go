// Package ext stands in for Traefik's nested module github.com/traefik/traefik/dynamic/ext, which
// the Go module proxy does not serve. Traefik inlines these two types into its dynamic HTTP
// configuration as extension points; the open-source build leaves them empty, and so do we.
package ext

// HTTP holds extra HTTP configuration; none in this build.
type HTTP struct{}

// Router holds extra router configuration; none in this build.
type Router struct{}
