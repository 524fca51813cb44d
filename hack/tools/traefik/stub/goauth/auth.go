// Package auth stands in for github.com/abbot/go-http-auth as Traefik's fork of it
// (github.com/containous/go-http-auth, which the Go module proxy refuses) is used by Traefik's
// basicAuth and digestAuth middlewares. The test bed configures neither, so this package fails
// closed: every credential is refused and every request is asked to authenticate.
package auth

import (
	"net/http"
	"strings"
)

// SecretProvider returns the stored secret of a user in a realm.
type SecretProvider func(user, realm string) string

// CheckSecret reports whether password matches the stored secret. This build stores no secrets
// it can check, so it always answers false.
func CheckSecret(password, secret string) bool { return false }

// BasicAuth asks for HTTP Basic credentials.
type BasicAuth struct {
	Realm   string
	Secrets SecretProvider
}

// RequireAuth answers 401 with a Basic challenge.
func (a *BasicAuth) RequireAuth(w http.ResponseWriter, r *http.Request) {
	challenge(w, `Basic realm="`+a.Realm+`"`)
}

// DigestAuth asks for HTTP Digest credentials.
type DigestAuth struct {
	Realm   string
	Secrets SecretProvider
}

// NewDigestAuthenticator returns a DigestAuth for realm.
func NewDigestAuthenticator(realm string, secrets SecretProvider) *DigestAuth {
	return &DigestAuth{Realm: realm, Secrets: secrets}
}

// CheckAuth accepts no credentials: it returns no user and no detail.
func (a *DigestAuth) CheckAuth(r *http.Request) (string, *string) { return "", nil }

// RequireAuth answers 401 with a Digest challenge.
func (a *DigestAuth) RequireAuth(w http.ResponseWriter, r *http.Request) {
	challenge(w, `Digest realm="`+a.Realm+`"`)
}

// RequireAuthStale answers like RequireAuth.
func (a *DigestAuth) RequireAuthStale(w http.ResponseWriter, r *http.Request) { a.RequireAuth(w, r) }

// DigestAuthParams parses the comma-separated key=value pairs of a Digest Authorization header.
func DigestAuthParams(header string) map[string]string {
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return nil
	}
	params := map[string]string{}
	for _, pair := range strings.Split(rest, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(pair), "="); ok {
			params[k] = strings.Trim(v, `"`)
		}
	}
	return params
}

func challenge(w http.ResponseWriter, header string) {
	w.Header().Set("WWW-Authenticate", header)
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}
