package cmapi

import (
	"crypto/tls"
	"net/http"

	"go.opentelemetry.io/otel/trace"
)

// Option configures a Client.
type Option func(c *Client, t *http.Transport)

// WithTLS verifies cm-api's certificate with cfg (cm-api serving HTTPS with a
// certificate of a private CA: cmapi.ca_file).
func WithTLS(cfg *tls.Config) Option {
	return func(_ *Client, t *http.Transport) { t.TLSClientConfig = cfg }
}

// WithTokenSource presents token() on every call instead of the fixed token, so
// a rotated token file is used without a restart.
func WithTokenSource(token func() string) Option {
	return func(c *Client, _ *http.Transport) { c.tokenFn = token }
}

// bearer is the token to present now.
func (c *Client) bearer() string {
	if c.tokenFn != nil {
		return c.tokenFn()
	}
	return c.token
}

// WithTracerProvider traces every call with a client span of tp (the service's
// own provider) and sends its W3C trace context to cm-api, so a look-up is one
// trace across both services.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *Client, _ *http.Transport) { c.tracerProvider = tp }
}
