package contract_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/contract"
)

const testID = "0192f7a0-1b2c-7d3e-8f40-123456789abc"

// eventBody returns a valid event value with some fields replaced (see object).
func eventBody(over ...string) []byte {
	return object([][2]string{
		{"version", `1`},
		{"id", `"` + testID + `"`},
		{"userid", `"alice-1"`},
		{"username", `"Alice Smith"`},
		{"price_cents", `1250`},
		{"timestamp", `"2026-01-02T15:04:05.123Z"`},
		{"received_at", `"2026-01-02T15:04:06Z"`},
	}, over...)
}

func TestNewEventRoundTrip(t *testing.T) {
	zone := time.FixedZone("X", -7*3600)
	p := contract.Purchase{UserID: "u.1_x-Y", Username: "Zoë \"Z\" <z@x> & co", PriceCents: 99_999_999,
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, zone)}
	recv := time.Date(2026, 1, 2, 10, 4, 5, 789_000_000, zone)
	ev := contract.NewEvent(testID, p, recv)
	if ev.Version != contract.EventVersion || ev.ID != testID || ev.UserID != p.UserID || ev.Username != p.Username || ev.PriceCents != p.PriceCents {
		t.Fatalf("NewEvent = %+v", ev)
	}
	if ev.Timestamp.Location() != time.UTC || ev.ReceivedAt.Location() != time.UTC {
		t.Errorf("NewEvent times not in UTC: %v, %v", ev.Timestamp, ev.ReceivedAt)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	// The wire names are the contract between the two services.
	var wire map[string]any
	if err := json.Unmarshal(b, &wire); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "id", "userid", "username", "price_cents", "timestamp", "received_at"} {
		if _, ok := wire[k]; !ok {
			t.Errorf("event JSON %s lacks %q", b, k)
		}
	}
	if len(wire) != 7 {
		t.Errorf("event JSON %s has %d fields, want 7", b, len(wire))
	}
	if wire["timestamp"] != "2026-01-02T10:04:05.006Z" {
		t.Errorf("timestamp on the wire = %v", wire["timestamp"])
	}
	got, err := contract.DecodeEvent(b)
	if err != nil {
		t.Fatalf("DecodeEvent(%s): %v", b, err)
	}
	if got.Version != ev.Version || got.ID != ev.ID || got.UserID != ev.UserID || got.Username != ev.Username ||
		got.PriceCents != ev.PriceCents || !got.Timestamp.Equal(ev.Timestamp) || !got.ReceivedAt.Equal(ev.ReceivedAt) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, ev)
	}
}

func TestDecodeEventValid(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"canonical", eventBody()},
		{"whitespace around", append(append([]byte(" \n"), eventBody()...), " \r\n\t"...)},
		{"offset timestamps", eventBody("timestamp", `"2026-01-02T17:04:05+02:00"`, "received_at", `"2026-01-02T10:04:06-05:00"`)},
		{"uuid v4 id", eventBody("id", `"3f2b8c1e-5d4a-4e6f-9a7b-0c1d2e3f4a5b"`)},
		{"name-based id", eventBody("id", `"6f1f5a52-2b8e-5f0e-9d6c-1b2a8c1e7a10"`)},
		{"maximum price", eventBody("price_cents", `100000000`)},
		{"one cent", eventBody("price_cents", `1`)},
		// An event is judged without the clock: a redelivery a year later, or a
		// client clock far ahead, gets the answer it got the first time.
		{"timestamp far ahead", eventBody("timestamp", `"2100-01-01T00:00:00Z"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := contract.DecodeEvent(tt.body)
			if err != nil {
				t.Fatalf("DecodeEvent(%s): %v", tt.body, err)
			}
			if err := ev.Validate(); err != nil {
				t.Fatalf("decoded event does not validate: %v", err)
			}
		})
	}
}

func TestDecodeEventRefused(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		reason string
		detail string // part of the error text
	}{
		{"empty", ``, contract.ReasonMalformed, ""},
		{"garbage bytes", "\x00\x01\x02garbage", contract.ReasonMalformed, "JSON"},
		{"binary", "\x89PNG\r\n\x1a\n", contract.ReasonMalformed, "UTF-8"},
		{"invalid UTF-8", "\xff\xfe", contract.ReasonMalformed, "UTF-8"},
		{"invalid UTF-8 in a valid event", strings.Replace(string(eventBody()), "Alice", "Al\xffice", 1), contract.ReasonMalformed, "UTF-8"},
		{"truncated", string(eventBody())[:40], contract.ReasonMalformed, "JSON"},
		{"array", `[]`, contract.ReasonMalformed, "JSON object"},
		{"array of events", "[" + string(eventBody()) + "]", contract.ReasonMalformed, "JSON object"},
		{"string", `"purchase"`, contract.ReasonMalformed, "JSON object"},
		{"number", `1`, contract.ReasonMalformed, "JSON object"},
		{"true", `true`, contract.ReasonMalformed, "JSON object"},
		{"null", `null`, contract.ReasonMalformed, "version"},
		{"empty object", `{}`, contract.ReasonMalformed, "version"},
		{"missing version", string(eventBody("version", omit)), contract.ReasonMalformed, "version"},
		{"null version", string(eventBody("version", `null`)), contract.ReasonMalformed, "version"},
		{"string version", string(eventBody("version", `"1"`)), contract.ReasonMalformed, ""},
		{"fractional version", string(eventBody("version", `1.5`)), contract.ReasonMalformed, ""},
		{"version 2", string(eventBody("version", `2`)), contract.ReasonVersion, "version 2"},
		{"version 0", string(eventBody("version", `0`)), contract.ReasonVersion, "version 0"},
		{"negative version", string(eventBody("version", `-1`)), contract.ReasonVersion, ""},
		{"version 2 of another shape", `{"version":2,"purchase":{"amount":"12.50"}}`, contract.ReasonVersion, ""},
		{"unknown field", string(eventBody("coupon", `"FREE"`)), contract.ReasonMalformed, "coupon"},
		{"price as decimal string", string(eventBody("price_cents", `"1250"`)), contract.ReasonMalformed, ""},
		{"price as float", string(eventBody("price_cents", `12.5`)), contract.ReasonMalformed, ""},
		{"price beyond int64", string(eventBody("price_cents", `9223372036854775808`)), contract.ReasonMalformed, ""},
		{"userid a number", string(eventBody("userid", `1`)), contract.ReasonMalformed, ""},
		{"timestamp not RFC 3339", string(eventBody("timestamp", `"2026-01-02 15:04:05"`)), contract.ReasonMalformed, ""},
		{"timestamp a number", string(eventBody("timestamp", `1767366245`)), contract.ReasonMalformed, ""},
		{"trailing object", string(eventBody()) + `{}`, contract.ReasonMalformed, ""},
		{"trailing close brace", string(eventBody()) + `}`, contract.ReasonMalformed, ""},
		{"trailing close bracket", string(eventBody()) + `]`, contract.ReasonMalformed, ""},
		{"two events", string(eventBody()) + "\n" + string(eventBody()), contract.ReasonMalformed, ""},

		{"missing id", string(eventBody("id", omit)), contract.ReasonInvalid, "id"},
		{"empty id", string(eventBody("id", `""`)), contract.ReasonInvalid, "id"},
		{"uppercase id", string(eventBody("id", `"`+strings.ToUpper(testID)+`"`)), contract.ReasonInvalid, "id"},
		{"id without dashes", string(eventBody("id", `"0192f7a01b2c7d3e8f40123456789abc"`)), contract.ReasonInvalid, "id"},
		{"id in braces", string(eventBody("id", `"{`+testID+`}"`)), contract.ReasonInvalid, "id"},
		{"id not hex", string(eventBody("id", `"0192f7a0-1b2c-7d3e-8f40-123456789abg"`)), contract.ReasonInvalid, "id"},
		{"id a ULID", string(eventBody("id", `"01ARZ3NDEKTSV4RRFFQ69G5FAV"`)), contract.ReasonInvalid, "id"},
		{"missing userid", string(eventBody("userid", omit)), contract.ReasonInvalid, "userid"},
		{"bad userid", string(eventBody("userid", `"alice/1"`)), contract.ReasonInvalid, "userid"},
		{"long userid", string(eventBody("userid", `"`+strings.Repeat("u", 65)+`"`)), contract.ReasonInvalid, "userid"},
		{"missing username", string(eventBody("username", omit)), contract.ReasonInvalid, "username"},
		{"username with newline", string(eventBody("username", `"a\nb"`)), contract.ReasonInvalid, "username"},
		{"username with NUL", string(eventBody("username", `"a\u0000b"`)), contract.ReasonInvalid, "username"},
		{"price 0", string(eventBody("price_cents", `0`)), contract.ReasonInvalid, "price_cents"},
		{"missing price", string(eventBody("price_cents", omit)), contract.ReasonInvalid, "price_cents"},
		{"negative price", string(eventBody("price_cents", `-1250`)), contract.ReasonInvalid, "price_cents"},
		{"price over the maximum", string(eventBody("price_cents", `100000001`)), contract.ReasonInvalid, "price_cents"},
		{"huge price", string(eventBody("price_cents", `9223372036854775807`)), contract.ReasonInvalid, "price_cents"},
		{"missing timestamp", string(eventBody("timestamp", omit)), contract.ReasonInvalid, "timestamp"},
		{"timestamp before 2000", string(eventBody("timestamp", `"1999-12-31T23:59:59Z"`)), contract.ReasonInvalid, "timestamp"},
		{"missing received_at", string(eventBody("received_at", omit)), contract.ReasonInvalid, "received_at"},
		{"received_at before 2000", string(eventBody("received_at", `"1970-01-01T00:00:00Z"`)), contract.ReasonInvalid, "received_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := contract.DecodeEvent([]byte(tt.body))
			if err == nil {
				t.Fatalf("DecodeEvent(%q) = %+v, want %s", tt.body, ev, tt.reason)
			}
			var ee *contract.EventError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T %v is not a *contract.EventError", err, err)
			}
			if ee.Reason != tt.reason {
				t.Errorf("reason = %q, want %q (error %v)", ee.Reason, tt.reason, err)
			}
			if !strings.HasPrefix(err.Error(), tt.reason+": ") || errors.Unwrap(err) == nil {
				t.Errorf("error %q does not start with its reason or wraps nothing", err)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q does not mention %q", err, tt.detail)
			}
			if ev != (contract.Event{}) {
				t.Errorf("got event %+v along with the error", ev)
			}
		})
	}
}

func TestEventValidateReportsEveryProblem(t *testing.T) {
	ev := contract.Event{Version: 1, ID: "x", UserID: "", Username: " a", PriceCents: 0}
	err := ev.Validate()
	if err == nil {
		t.Fatal("Validate accepted an empty event")
	}
	for _, field := range []string{"id:", "userid:", "username:", "price_cents:", "timestamp:", "received_at:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("Validate error %q does not name %s", err, field)
		}
	}
	// Year 10000 cannot be written as RFC 3339; the event must not carry it.
	ok := contract.NewEvent(testID, contract.Purchase{UserID: "a", Username: "a", PriceCents: 1, Timestamp: now}, now)
	ok.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := ok.Validate(); err == nil || !strings.Contains(err.Error(), "timestamp") {
		t.Errorf("Validate(year 10000) = %v", err)
	}
}

func TestValidPurchaseID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{testID, true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", true},
		{"", false},
		{"0192F7A0-1B2C-7D3E-8F40-123456789ABC", false},
		{"0192f7a0-1b2c-7d3e-8f40-123456789ab", false},
		{"0192f7a0-1b2c-7d3e-8f40-123456789abcd", false},
		{"0192f7a01b2c-7d3e-8f40-123456789abcd", false},
		{"0192f7a0-1b2c-7d3e-8f40_123456789abc", false},
		{"0192f7a-01b2c-7d3e-8f40-123456789abc", false},
		{"0192f7a0-1b2c-7d3e-8f40-123456789ab ", false},
		{"urn:uuid:0192f7a0-1b2c-7d3e-8f40-1234", false},
		{"0192f7a0-1b2c-7d3e-8f40-1234567890é", false},
		{"0192f7a0-1b2c-7d3e-8f40-123456789abg", false},
	}
	for _, tt := range tests {
		if got := contract.ValidPurchaseID(tt.id); got != tt.ok {
			t.Errorf("ValidPurchaseID(%q) = %v, want %v", tt.id, got, tt.ok)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range [][]byte{
		eventBody(),
		eventBody("version", `2`),
		eventBody("version", omit),
		eventBody("price_cents", `0`),
		eventBody("price_cents", `100000001`),
		eventBody("id", `"nope"`),
		eventBody("userid", `"a b"`),
		eventBody("username", `"\t"`),
		eventBody("timestamp", `"2026-01-02T17:04:05.999999999+02:00"`),
		eventBody("extra", `{}`),
		append(eventBody(), ']'),
		[]byte("\xff"),
		[]byte(`null`),
		[]byte(`[]`),
		[]byte(`{"version":1}`),
		[]byte(``),
	} {
		f.Add(s)
	}
	reasons := []string{contract.ReasonMalformed, contract.ReasonVersion, contract.ReasonInvalid}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := contract.DecodeEvent(b)
		if err != nil {
			var ee *contract.EventError
			if !errors.As(err, &ee) || !slices.Contains(reasons, ee.Reason) {
				t.Fatalf("error %T %v is not an EventError with a known reason", err, err)
			}
			if ev != (contract.Event{}) {
				t.Fatalf("event %+v returned with error %v", ev, err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted %q, which is not a single JSON value", b)
		}
		if ev.Version != contract.EventVersion {
			t.Fatalf("accepted version %d", ev.Version)
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("accepted an event that does not validate: %v", err)
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("accepted event does not marshal: %v", err)
		}
		back, err := contract.DecodeEvent(again)
		if err != nil {
			t.Fatalf("re-encoded event %s is refused: %v", again, err)
		}
		if back.ID != ev.ID || back.UserID != ev.UserID || back.Username != ev.Username || back.PriceCents != ev.PriceCents ||
			!back.Timestamp.Equal(ev.Timestamp) || !back.ReceivedAt.Equal(ev.ReceivedAt) {
			t.Fatalf("re-encoding changed the event: %+v -> %+v", ev, back)
		}
	})
}
