// Package cmapi is cm-server's client of cm-api's internal look-up API.
package cmapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/tlsconf"
)

// maxResponseBytes bounds what we read from cm-api: a page of 100 purchases is far
// below it.
const maxResponseBytes = 4 << 20

// Client calls cm-api with a bearer token and a timeout per call.
type Client struct {
	base    string
	token   string
	tokenFn func() string
	timeout time.Duration
	http    *http.Client
	// tracerProvider, when set, traces every call (WithTracerProvider).
	tracerProvider trace.TracerProvider
}

// New returns a client of the cm-api at base (e.g. http://cm-api:8081).
func New(base, token string, timeout time.Duration, opts ...Option) *Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	c := &Client{base: strings.TrimRight(base, "/"), token: token, timeout: timeout, http: &http.Client{Transport: t}}
	for _, o := range opts {
		o(c, t)
	}
	if c.tracerProvider != nil {
		c.http.Transport = tracedTransport(t, c.tracerProvider)
	}
	return c
}

// Purchases returns one page of a user's purchases.
func (c *Client) Purchases(ctx context.Context, userID string, page contract.Page) (contract.PurchasePage, error) {
	q := url.Values{"limit": {strconv.Itoa(page.Limit)}}
	if page.Cursor != "" {
		q.Set("cursor", page.Cursor)
	}
	var out contract.PurchasePage
	err := c.get(ctx, "/buyList/{userid}", "/buyList/"+contract.UserIDPathSegment(userID)+"?"+q.Encode(), &out)
	return out, err
}

// User returns a user's summary; an unknown user is a *contract.Error ENotFound.
func (c *Client) User(ctx context.Context, userID string) (contract.UserSummary, error) {
	var out contract.UserSummary
	err := c.get(ctx, "/users/{userid}", "/users/"+contract.UserIDPathSegment(userID), &out)
	return out, err
}

// Ping checks that cm-api answers its liveness probe.
func (c *Client) Ping(ctx context.Context) error {
	return c.get(ctx, "/healthz", "/healthz", nil)
}

// get calls path, an instance of cm-api's route template route, and decodes a 200
// answer into out.
func (c *Client) get(ctx context.Context, route, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx = context.WithValue(ctx, routeKey{}, route)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.bearer())
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w (cm-api at %s: %v)", unavailable(), c.base, tlsconf.Explain(err, "CM_SERVER_CMAPI_CA_FILE"))
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%w (reading cm-api's answer: %v)", unavailable(), err)
	}
	switch {
	case res.StatusCode == http.StatusOK:
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%w (cm-api sent malformed JSON: %v)", upstream(), err)
		}
		return nil
	case res.StatusCode == http.StatusBadRequest:
		// cm-api refused something the client sent (a forged cursor): pass it on.
		var eb contract.ErrorBody
		if json.Unmarshal(body, &eb) == nil && eb.Error.Code == contract.EInvalid {
			return &contract.Error{Code: contract.EInvalid, Message: eb.Error.Message, Fields: eb.Error.Fields}
		}
		return fmt.Errorf("%w (cm-api answered 400 without an error body)", upstream())
	case res.StatusCode == http.StatusNotFound:
		var eb contract.ErrorBody
		if json.Unmarshal(body, &eb) == nil && eb.Error.Code == contract.ENotFound {
			return contract.Errorf(contract.ENotFound, "%s", eb.Error.Message)
		}
		return fmt.Errorf("%w (cm-api answered 404 for %s)", upstream(), path)
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w (cm-api refused our token with %d: check CM_SERVER_CMAPI_TOKEN against cm-api's CM_API_AUTH_TOKEN)", upstream(), res.StatusCode)
	case res.StatusCode == http.StatusServiceUnavailable || res.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%w (cm-api answered %d)", unavailable(), res.StatusCode)
	default:
		return fmt.Errorf("%w (cm-api answered %d)", upstream(), res.StatusCode)
	}
}

func unavailable() error {
	return contract.Errorf(contract.EUnavailable, "purchase history is unavailable right now; retry later")
}

func upstream() error {
	return contract.Errorf(contract.EUpstream, "purchase history service failed")
}
