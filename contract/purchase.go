package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of a purchase. They are part of the public contract (README and OpenAPI).
const (
	MaxUserIDLen    = 64        // bytes, from UserIDCharset only
	MaxUsernameLen  = 100       // characters
	MaxPriceCents   = 100000000 // 1,000,000.00
	MaxBodyBytes    = 64 << 10  // a buy request body
	MaxTimestampLen = 64
	MaxFutureSkew   = 24 * time.Hour // client clocks run ahead; a day is generous
)

// UserIDCharset lists what a user id may contain: it goes into URL paths and Kafka
// keys, so it is kept to characters that need no escaping anywhere.
const UserIDCharset = "A-Z a-z 0-9 . _ -"

var minTimestamp = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// BuyRequest is the body of POST /buy. Price stays raw so that both 12.5 and "12.50"
// are read exactly, without ever passing through a float.
type BuyRequest struct {
	Username  string          `json:"username"`
	UserID    string          `json:"userid"`
	Price     json.RawMessage `json:"price"`
	Timestamp *string         `json:"timestamp,omitempty"`
}

// Purchase is a validated buy: what cm-server turns into an event.
type Purchase struct {
	UserID     string
	Username   string
	PriceCents int64
	Timestamp  time.Time // the client's, or the receive time when it sent none
}

// DecodeBuyRequest reads and validates a buy request body. now is the server's
// receive time: it fills a missing timestamp and bounds a future one.
func DecodeBuyRequest(body []byte, now time.Time) (Purchase, error) {
	if !utf8.Valid(body) {
		// encoding/json would silently replace invalid bytes with U+FFFD.
		return Purchase{}, Errorf(EInvalid, "request body is not valid UTF-8")
	}
	if err := checkKeys(body, "username", "userid", "price", "timestamp"); err != nil {
		return Purchase{}, err
	}
	var req BuyRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Purchase{}, jsonError(err)
	}
	// Decoder.More reports false for a stray '}' or ']', so ask for the next token:
	// only the end of the input is fine.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Purchase{}, Errorf(EInvalid, "request body must hold a single JSON object")
	}
	return req.Validate(now)
}

// checkKeys refuses top-level keys that are not exactly one of allowed, and keys
// given twice. encoding/json matches keys case-insensitively and lets the last
// duplicate win, so {"USERNAME": …} or two "price" keys would slip through.
func checkKeys(body []byte, allowed ...string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil // not an object: the full decode explains what is wrong
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := t.(string)
		switch {
		case !slices.Contains(allowed, key):
			return &Error{Code: EInvalid, Message: "unknown field",
				Fields: []FieldProblem{{Field: key, Problem: "is not a known field (names are case-sensitive)"}}}
		case seen[key]:
			return &Error{Code: EInvalid, Message: "duplicate field",
				Fields: []FieldProblem{{Field: key, Problem: "is given more than once"}}}
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

// jsonError turns a decoder error into a message a client can act on.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return Errorf(EInvalid, "malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ) && typ.Field == "":
		return Errorf(EInvalid, "request body must be a JSON object")
	case errors.As(err, &typ):
		return &Error{Code: EInvalid, Message: "a field has the wrong type",
			Fields: []FieldProblem{{Field: typ.Field, Problem: "must be a " + typ.Type.String()}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &Error{Code: EInvalid, Message: "unknown field",
			Fields: []FieldProblem{{Field: name, Problem: "is not a known field"}}}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(EInvalid, "request body is empty or truncated")
	default:
		return Errorf(EInvalid, "malformed JSON: %v", err)
	}
}

// Validate checks every field and returns the purchase or an *Error listing every
// problem at once, so a client fixes its request in one round.
func (r BuyRequest) Validate(now time.Time) (Purchase, error) {
	var problems []FieldProblem
	add := func(field, problem string) { problems = append(problems, FieldProblem{field, problem}) }

	if p := CheckUserID(r.UserID); p != "" {
		add("userid", p)
	}
	if p := CheckUsername(r.Username); p != "" {
		add("username", p)
	}
	cents, p := priceFromJSON(r.Price)
	if p != "" {
		add("price", p)
	}
	ts := now
	if r.Timestamp != nil {
		var p string
		if ts, p = parseTimestamp(*r.Timestamp, now); p != "" {
			add("timestamp", p)
		}
	}
	if len(problems) > 0 {
		return Purchase{}, &Error{Code: EInvalid, Message: "the purchase is invalid", Fields: problems}
	}
	return Purchase{UserID: r.UserID, Username: r.Username, PriceCents: cents, Timestamp: ts.UTC()}, nil
}

// CheckUserID returns what is wrong with a user id, or "".
func CheckUserID(id string) string {
	if id == "" {
		return "is required"
	}
	if len(id) > MaxUserIDLen {
		return fmt.Sprintf("must be at most %d characters", MaxUserIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return "may contain only " + UserIDCharset
		}
	}
	return ""
}

// CheckUsername returns what is wrong with a username, or "".
func CheckUsername(name string) string {
	switch {
	case name == "":
		return "is required"
	case !utf8.ValidString(name):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(name) > MaxUsernameLen:
		return fmt.Sprintf("must be at most %d characters", MaxUsernameLen)
	case strings.TrimSpace(name) != name:
		return "must not start or end with spaces"
	}
	for _, r := range name {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) && r != ' ' {
			return "must not contain control characters, tabs or line breaks"
		}
	}
	return ""
}

// priceFromJSON accepts a JSON number or a JSON string holding a decimal.
func priceFromJSON(raw json.RawMessage) (int64, string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, "is required"
	}
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, "must be a decimal number such as 12.50"
		}
	}
	return ParsePrice(text)
}

// ParsePrice parses a positive decimal with at most two fraction digits into cents.
// It returns a problem description instead of an error so callers can collect them.
func ParsePrice(s string) (int64, string) {
	const want = "must be a positive decimal number with at most 2 decimals, such as 12.50"
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 7 || !allDigits(whole) || (len(whole) > 1 && whole[0] == '0') {
		if len(whole) > 7 && allDigits(whole) {
			return 0, fmt.Sprintf("must be at most %s", FormatPrice(MaxPriceCents))
		}
		return 0, want
	}
	if hasDot && (frac == "" || !allDigits(frac)) {
		return 0, want
	}
	if len(frac) > 2 {
		return 0, "must have at most 2 decimals"
	}
	w, _ := strconv.ParseInt(whole, 10, 64) // at most 7 digits: cannot overflow
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	cents := w*100 + f
	switch {
	case cents == 0:
		return 0, "must be greater than 0"
	case cents > MaxPriceCents:
		return 0, fmt.Sprintf("must be at most %s", FormatPrice(MaxPriceCents))
	}
	return cents, ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatPrice renders cents as a decimal string with two fraction digits.
func FormatPrice(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

func parseTimestamp(s string, now time.Time) (time.Time, string) {
	const want = "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"
	if len(s) > MaxTimestampLen {
		return time.Time{}, want
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, want
	}
	switch {
	case t.Before(minTimestamp):
		return time.Time{}, "must not be before 2000-01-01"
	case t.After(now.Add(MaxFutureSkew)):
		return time.Time{}, "must not be more than a day in the future"
	}
	// Storage keeps milliseconds; truncating here makes the API echo what is stored.
	return t.Truncate(time.Millisecond), ""
}
