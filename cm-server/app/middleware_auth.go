package app

import (
	"context"
	"net/http"
	"strings"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// subjectKey carries the authenticated user id in a request's context.
type subjectKey struct{}

// subject returns the authenticated user of a request, if any.
func subject(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(subjectKey{}).(string)
	return s, ok
}

// requireUser answers 401 unless the request carries a valid end-user token
// (when end-user auth is on), and puts the token's subject into the context.
func (s *Server) requireUser(next http.Handler) http.Handler {
	if s.sec == nil || s.sec.jwt == nil {
		return next
	}
	v := s.sec.jwt
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			s.unauthorized(w, r, "", "a bearer token is required: Authorization: Bearer <JWT>")
			return
		}
		sub, err := v.Verify(raw)
		if err != nil {
			s.log.Debug("token refused", "path", r.URL.Path, "err", err.Error())
			s.unauthorized(w, r, "invalid_token", describe(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), subjectKey{}, sub)))
	})
}

// bearerToken takes the token out of an Authorization header; the scheme is
// case-insensitive (RFC 7235).
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// unauthorized answers 401 with the challenge of RFC 6750.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, code, description string) {
	challenge := `Bearer realm="cm-server"`
	if code != "" {
		challenge += `, error="` + code + `", error_description="` + description + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	httpjson.Error(w, r, s.log, contract.Errorf(contract.EUnauthorized, "%s", description))
}

// authorize checks that the authenticated user may act for userID: with
// end-user auth on, only for themselves.
func (s *Server) authorize(ctx context.Context, userID, what string) error {
	if s.sec == nil || s.sec.jwt == nil {
		return nil
	}
	sub, ok := subject(ctx)
	if !ok {
		return contract.Errorf(contract.EUnauthorized, "a bearer token is required")
	}
	if sub != userID {
		return contract.Errorf(contract.EForbidden, "the token's subject may %s only their own purchases", what)
	}
	return nil
}

// ownPurchasesOnly is the producer /buy uses: it refuses a purchase whose userid
// is not the token's subject. The check sits on the decoded event, so it
// applies to exactly the user id that would be stored.
func (s *Server) ownPurchasesOnly() Producer { return ownProducer{s.producer, s} }

type ownProducer struct {
	Producer
	s *Server
}

func (p ownProducer) Produce(ctx context.Context, e contract.Event) error {
	if err := p.s.authorize(ctx, e.UserID, "buy"); err != nil {
		return err
	}
	return p.Producer.Produce(ctx, e)
}

// ownLookupsOnly is the look-up the read routes use: a user reads only their
// own purchases and summary.
func (s *Server) ownLookupsOnly() PurchaseLookup { return ownLookup{s.lookup, s} }

type ownLookup struct {
	PurchaseLookup
	s *Server
}

func (l ownLookup) Purchases(ctx context.Context, userID string, page contract.Page) (contract.PurchasePage, error) {
	if err := l.s.authorize(ctx, userID, "read"); err != nil {
		return contract.PurchasePage{}, err
	}
	return l.PurchaseLookup.Purchases(ctx, userID, page)
}

func (l ownLookup) User(ctx context.Context, userID string) (contract.UserSummary, error) {
	if err := l.s.authorize(ctx, userID, "read"); err != nil {
		return contract.UserSummary{}, err
	}
	return l.PurchaseLookup.User(ctx, userID)
}
