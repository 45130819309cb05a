package contract_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/contract"
)

func TestParsePage(t *testing.T) {
	longCursor := strings.Repeat("a", contract.MaxCursorLen)
	tests := []struct {
		limit, cursor string
		want          contract.Page
		badField      string // "" when valid
	}{
		{"", "", contract.Page{Limit: contract.DefaultPageLimit}, ""},
		{"1", "", contract.Page{Limit: 1}, ""},
		{"20", "", contract.Page{Limit: 20}, ""},
		{"100", "", contract.Page{Limit: 100}, ""},
		{"0", "", contract.Page{}, "limit"},
		{"101", "", contract.Page{}, "limit"},
		{"-1", "", contract.Page{}, "limit"},
		{"abc", "", contract.Page{}, "limit"},
		{"1.5", "", contract.Page{}, "limit"},
		{"1e1", "", contract.Page{}, "limit"},
		{" 5", "", contract.Page{}, "limit"},
		{"5 ", "", contract.Page{}, "limit"},
		{"0x10", "", contract.Page{}, "limit"},
		{"١٠", "", contract.Page{}, "limit"},
		{"99999999999999999999999", "", contract.Page{}, "limit"},
		{"", "abc", contract.Page{Limit: contract.DefaultPageLimit, Cursor: "abc"}, ""},
		{"5", "AZaz09-_.", contract.Page{Limit: 5, Cursor: "AZaz09-_."}, ""},
		{"", longCursor, contract.Page{Limit: contract.DefaultPageLimit, Cursor: longCursor}, ""},
		{"", longCursor + "a", contract.Page{}, "cursor"},
		{"", strings.Repeat("a", 100_000), contract.Page{}, "cursor"},
		{"", "a+b", contract.Page{}, "cursor"},
		{"", "a/b", contract.Page{}, "cursor"},
		{"", "ab==", contract.Page{}, "cursor"},
		{"", "a b", contract.Page{}, "cursor"},
		{"", " a", contract.Page{}, "cursor"},
		{"", "a%2Fb", contract.Page{}, "cursor"},
		{"", "a\x00b", contract.Page{}, "cursor"},
		{"", "a\nb", contract.Page{}, "cursor"},
		{"", "é", contract.Page{}, "cursor"},
		{"", "\xff", contract.Page{}, "cursor"},
		{"", `{"ts":1}`, contract.Page{}, "cursor"},
		{"10", "a|b", contract.Page{}, "cursor"},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("limit=%q cursor=%.20q", tt.limit, tt.cursor)
		t.Run(name, func(t *testing.T) {
			got, err := contract.ParsePage(tt.limit, tt.cursor)
			if tt.badField == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ParsePage = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			checkFields(t, invalidErr(t, err), "", tt.badField)
			if got != (contract.Page{}) {
				t.Errorf("got page %+v along with the error", got)
			}
		})
	}
}

// TestParsePageEveryLimit checks the whole accepted range and its edges.
func TestParsePageEveryLimit(t *testing.T) {
	for n := -5; n <= contract.MaxPageLimit+5; n++ {
		p, err := contract.ParsePage(strconv.Itoa(n), "")
		ok := n >= 1 && n <= contract.MaxPageLimit
		if ok != (err == nil) || ok && p.Limit != n {
			t.Errorf("ParsePage(%d) = %+v, %v", n, p, err)
		}
	}
}

func TestCheckUserIDParam(t *testing.T) {
	for _, ok := range []string{"alice-1", "A.B_c", strings.Repeat("x", contract.MaxUserIDLen)} {
		if err := contract.CheckUserIDParam(ok); err != nil {
			t.Errorf("CheckUserIDParam(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a/b", "a%20b", "ü", strings.Repeat("x", contract.MaxUserIDLen+1)} {
		err := contract.CheckUserIDParam(bad)
		checkFields(t, invalidErr(t, err), "", "userid")
	}
}

func TestErrorHelpers(t *testing.T) {
	fieldErr := &contract.Error{Code: contract.EInvalid, Message: "the purchase is invalid",
		Fields: []contract.FieldProblem{{Field: "price", Problem: "must be greater than 0"}, {Field: "userid", Problem: "is required"}}}
	plain := contract.Errorf(contract.EUnavailable, "kafka is down, retry in %ds", 2)
	internal := errors.New("dial tcp 10.0.0.7:9092: connection refused")

	if got := fieldErr.Error(); got != "invalid_request: the purchase is invalid: price must be greater than 0" {
		t.Errorf("Error() = %q", got)
	}
	if got := plain.Error(); got != "unavailable: kafka is down, retry in 2s" {
		t.Errorf("Error() = %q", got)
	}

	codes := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fieldErr, contract.EInvalid},
		{plain, contract.EUnavailable},
		{fmt.Errorf("producing: %w", plain), contract.EUnavailable},
		{internal, contract.EInternal},
	}
	for _, c := range codes {
		if got := contract.ErrorCode(c.err); got != c.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", c.err, got, c.want)
		}
	}

	// The body of an internal error never shows its text.
	b := contract.Body(fmt.Errorf("wrapped: %w", internal))
	if b.Error.Code != contract.EInternal || strings.Contains(b.Error.Message, "10.0.0.7") || len(b.Error.Fields) != 0 {
		t.Errorf("Body(internal) = %+v", b)
	}
	b = contract.Body(fmt.Errorf("wrapped: %w", fieldErr))
	if b.Error.Code != contract.EInvalid || b.Error.Message != fieldErr.Message || len(b.Error.Fields) != 2 {
		t.Errorf("Body(wrapped field error) = %+v", b)
	}
}

// TestWireShapes pins the JSON both APIs speak.
func TestWireShapes(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"error with fields", contract.Body(&contract.Error{Code: contract.EInvalid, Message: "m",
			Fields: []contract.FieldProblem{{Field: "price", Problem: "p"}}}),
			`{"error":{"code":"invalid_request","message":"m","fields":[{"field":"price","problem":"p"}]}}`},
		{"error without fields", contract.Body(contract.Errorf(contract.ENotFound, "no such route")),
			`{"error":{"code":"not_found","message":"no such route"}}`},
		{"accepted", contract.BuyAccepted{ID: testID, Status: "accepted"},
			`{"id":"` + testID + `","status":"accepted"}`},
		{"last page", contract.PurchasePage{UserID: "u", Purchases: []contract.PurchaseView{}},
			`{"userid":"u","purchases":[]}`},
		{"page with a next one", contract.PurchasePage{UserID: "u", NextCursor: "c", Purchases: []contract.PurchaseView{{
			ID: testID, UserID: "u", Username: "n", Price: "12.50",
			Timestamp:  time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
			ReceivedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)}}},
			`{"userid":"u","purchases":[{"id":"` + testID + `","userid":"u","username":"n","price":"12.50",` +
				`"timestamp":"2026-01-02T03:04:05.006Z","received_at":"2026-01-02T03:04:06Z"}],"next_cursor":"c"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("JSON\n got %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestLimitIsPlainDigits(t *testing.T) {
	for _, l := range []string{"+5", "05", "0x10", "1e1", " 5", "5 "} {
		if _, err := contract.ParsePage(l, ""); err == nil {
			t.Errorf("limit %q accepted", l)
		}
	}
}
