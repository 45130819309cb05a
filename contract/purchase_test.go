package contract_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scalable-shop/shop/contract"
)

// now is the receive time the decode tests use; it is millisecond-aligned so a
// purchase without a timestamp can be compared with it exactly.
var now = time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

// omit as a value in buyBody drops the field.
const omit = "\x00omit"

// buyBody returns a valid buy request with some fields replaced: pairs of a field
// name and its raw JSON value (or omit). Unknown names are appended in order.
func buyBody(over ...string) []byte {
	return object([][2]string{{"username", `"Alice Smith"`}, {"userid", `"alice-1"`}, {"price", `"12.50"`}}, over...)
}

// object renders a JSON object from (name, raw JSON value) pairs, with the pairs of
// over replacing, dropping (omit) or adding fields.
func object(base [][2]string, over ...string) []byte {
	fields := slices.Clone(base)
	for i := 0; i+1 < len(over); i += 2 {
		k, v := over[i], over[i+1]
		j := slices.IndexFunc(fields, func(f [2]string) bool { return f[0] == k })
		switch {
		case j >= 0 && v == omit:
			fields = slices.Delete(fields, j, j+1)
		case j >= 0:
			fields[j][1] = v
		case v != omit:
			fields = append(fields, [2]string{k, v})
		}
	}
	var b strings.Builder
	b.WriteString("{")
	for i, f := range fields {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%s", f[0], f[1])
	}
	b.WriteString("}")
	return []byte(b.String())
}

// jsonString encodes s as a JSON string; encoding/json escapes control characters.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// invalidErr asserts err is a *contract.Error with code invalid_request and returns it.
func invalidErr(t *testing.T, err error) *contract.Error {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want invalid_request")
	}
	ce, ok := err.(*contract.Error)
	if !ok {
		t.Fatalf("error %T %q is not a *contract.Error", err, err)
	}
	if ce.Code != contract.EInvalid {
		t.Fatalf("code = %q, want %q (error %q)", ce.Code, contract.EInvalid, err)
	}
	if ce.Message == "" {
		t.Fatalf("error %q has no message", err)
	}
	return ce
}

// fieldNames returns the sorted names of the problem fields of e.
func fieldNames(e *contract.Error) []string {
	var names []string
	for _, f := range e.Fields {
		names = append(names, f.Field)
	}
	slices.Sort(names)
	return names
}

// checkFields asserts e names exactly the given fields, and that the problem of
// the first one contains problem (when not empty).
func checkFields(t *testing.T, e *contract.Error, problem string, fields ...string) {
	t.Helper()
	want := slices.Clone(fields)
	slices.Sort(want)
	if got := fieldNames(e); !slices.Equal(got, want) {
		t.Fatalf("problem fields = %q, want %q (error %+v)", got, want, e)
	}
	for _, f := range e.Fields {
		if f.Problem == "" {
			t.Errorf("field %q has an empty problem", f.Field)
		}
	}
	if problem != "" && !strings.Contains(e.Fields[0].Problem, problem) {
		t.Errorf("problem of %s = %q, want it to mention %q", e.Fields[0].Field, e.Fields[0].Problem, problem)
	}
}

func TestDecodeBuyRequestValid(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want contract.Purchase
	}{
		{"string price", buyBody(), contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1250, Timestamp: now}},
		{"number price one decimal", buyBody("price", `12.5`), contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1250, Timestamp: now}},
		{"number price two decimals", buyBody("price", `12.50`), contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1250, Timestamp: now}},
		{"string price one decimal", buyBody("price", `"12.5"`), contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1250, Timestamp: now}},
		{"whole number", buyBody("price", `12`), contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1200, Timestamp: now}},
		{"one cent", buyBody("price", `0.01`), contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1, Timestamp: now}},
		{"maximum price", buyBody("price", `"1000000.00"`), contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: contract.MaxPriceCents, Timestamp: now}},
		{"fields in any order and whitespace", []byte(" \n{ \"price\" : 1 , \"userid\":\"U.x_9-Z\",\t\"username\":\"Zoë Ünal\" }\r\n "),
			contract.Purchase{UserID: "U.x_9-Z", Username: "Zoë Ünal", PriceCents: 100, Timestamp: now}},
		{"unicode username", buyBody("username", `"李小龙 🙂"`), contract.Purchase{UserID: "alice-1", Username: "李小龙 🙂", PriceCents: 1250, Timestamp: now}},
		{"username of 100 two-byte characters", buyBody("username", jsonString(strings.Repeat("é", 100))),
			contract.Purchase{UserID: "alice-1", Username: strings.Repeat("é", 100), PriceCents: 1250, Timestamp: now}},
		{"userid of 64 characters", buyBody("userid", jsonString(strings.Repeat("a", 64))),
			contract.Purchase{UserID: strings.Repeat("a", 64), Username: "Alice Smith", PriceCents: 1250, Timestamp: now}},
		{"null timestamp means none", buyBody("timestamp", `null`), contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1250, Timestamp: now}},
		{"UTC timestamp", buyBody("timestamp", `"2026-01-02T15:04:05Z"`),
			contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1250, Timestamp: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)}},
		{"offset normalised to UTC and truncated to ms", buyBody("timestamp", `"2026-01-02T15:04:05.123456789+02:00"`),
			contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1250, Timestamp: time.Date(2026, 1, 2, 13, 4, 5, 123_000_000, time.UTC)}},
		{"negative offset crossing midnight", buyBody("timestamp", `"2026-01-01T23:30:00.9999-05:30"`),
			contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1250, Timestamp: time.Date(2026, 1, 2, 5, 0, 0, 999_000_000, time.UTC)}},
		{"first instant of 2000", buyBody("timestamp", `"2000-01-01T00:00:00Z"`),
			contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1250, Timestamp: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"a day ahead exactly", buyBody("timestamp", jsonString(now.Add(24*time.Hour).Format(time.RFC3339Nano))),
			contract.Purchase{UserID: "alice-1", Username: "Alice Smith", PriceCents: 1250, Timestamp: now.Add(24 * time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contract.DecodeBuyRequest(tt.body, now)
			if err != nil {
				t.Fatalf("DecodeBuyRequest(%s) error: %v", tt.body, err)
			}
			if got.UserID != tt.want.UserID || got.Username != tt.want.Username || got.PriceCents != tt.want.PriceCents || !got.Timestamp.Equal(tt.want.Timestamp) {
				t.Errorf("DecodeBuyRequest(%s)\n got %+v\nwant %+v", tt.body, got, tt.want)
			}
			if got.Timestamp.Location() != time.UTC {
				t.Errorf("timestamp %v is not in UTC", got.Timestamp)
			}
		})
	}
}

func TestDecodeBuyRequestMissingTimestampUsesNow(t *testing.T) {
	// A receive time in another zone, with nanoseconds: the purchase gets that instant
	// (at most truncated to the millisecond storage keeps), in UTC.
	recv := time.Date(2026, 5, 6, 9, 8, 7, 123_456_789, time.FixedZone("CEST", 2*3600))
	got, err := contract.DecodeBuyRequest(buyBody(), recv)
	if err != nil {
		t.Fatal(err)
	}
	if got.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp %v is not in UTC", got.Timestamp)
	}
	if got.Timestamp.After(recv) || got.Timestamp.Before(recv.Truncate(time.Millisecond)) {
		t.Errorf("timestamp = %v, want the receive time %v", got.Timestamp, recv)
	}
}

// TestDecodeBuyRequestBody covers requests that are refused before any field is
// looked at: there is no field to blame, so the error carries none.
func TestDecodeBuyRequestBody(t *testing.T) {
	valid := string(buyBody())
	tests := []struct {
		name    string
		body    string
		message string // part of the message
	}{
		{"empty body", "", "empty"},
		{"only whitespace", " \n\t ", "empty"},
		{"truncated object", `{"username":"a",`, ""},
		{"truncated string", `{"username":"a`, ""},
		{"not JSON", `username=alice&price=1`, "malformed"},
		{"single quotes", `{'username':'alice'}`, "malformed"},
		{"trailing comma", `{"username":"a","userid":"b","price":1,}`, "malformed"},
		{"comment", `{"username":"a"/*x*/}`, "malformed"},
		{"bare NaN", `{"username":"a","userid":"b","price":NaN}`, "malformed"},
		{"bare Infinity", `{"username":"a","userid":"b","price":Infinity}`, "malformed"},
		{"bare -Infinity", `{"username":"a","userid":"b","price":-Infinity}`, "malformed"},
		{"leading zeros are not JSON", `{"username":"a","userid":"b","price":007}`, "malformed"},
		{"trailing object", valid + `{}`, "single"},
		{"trailing garbage", valid + `x`, ""},
		{"trailing number", valid + ` 1`, "single"},
		{"trailing close brace", valid + `}`, ""},
		{"trailing close bracket", valid + `]`, ""},
		{"two objects on two lines", valid + "\n" + valid, "single"},
		{"invalid UTF-8 in a value", "{\"username\":\"al\xffice\",\"userid\":\"a\",\"price\":1}", "UTF-8"},
		{"invalid UTF-8 in a key", "{\"user\xc3name\":\"alice\",\"userid\":\"a\",\"price\":1}", "UTF-8"},
		{"overlong UTF-8 encoding", "{\"username\":\"\xc0\xaf\",\"userid\":\"a\",\"price\":1}", "UTF-8"},
		{"UTF-16 surrogate bytes", "{\"username\":\"\xed\xa0\x80\",\"userid\":\"a\",\"price\":1}", "UTF-8"},
		{"invalid UTF-8 after the object", valid + "\xff", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := contract.DecodeBuyRequest([]byte(tt.body), now)
			e := invalidErr(t, err)
			if len(e.Fields) != 0 {
				t.Errorf("fields = %+v, want none for a body-level error", e.Fields)
			}
			if !strings.Contains(e.Message, tt.message) {
				t.Errorf("message %q does not mention %q", e.Message, tt.message)
			}
		})
	}
}

// TestDecodeBuyRequestNotAnObject: JSON that is not an object is refused with a
// body-level error that names no field and no Go type.
func TestDecodeBuyRequestNotAnObject(t *testing.T) {
	for _, body := range []string{`[]`, `[{"username":"a"}]`, `"alice"`, `12.50`, `true`} {
		t.Run(body, func(t *testing.T) {
			_, err := contract.DecodeBuyRequest([]byte(body), now)
			e := invalidErr(t, err)
			if len(e.Fields) != 0 || !strings.Contains(e.Message, "JSON object") {
				t.Errorf("error = %+v, want a message asking for a JSON object and no fields", e)
			}
			if strings.Contains(err.Error(), "contract.") {
				t.Errorf("error %q shows a Go type to the client", err)
			}
		})
	}
	// null decodes as an empty object: every required field is missing.
	_, err := contract.DecodeBuyRequest([]byte(`null`), now)
	checkFields(t, invalidErr(t, err), "required", "userid", "username", "price")
}

func TestDecodeBuyRequestFields(t *testing.T) {
	tests := []struct {
		name    string
		body    []byte
		fields  []string // every field with a problem
		problem string   // part of the problem of the first field
	}{
		// shape
		{"empty object", []byte(`{}`), []string{"userid", "username", "price"}, "required"},
		{"unknown field", buyBody("coupon", `"FREE"`), []string{"coupon"}, "not a known field"},
		{"unknown field id", buyBody("id", `"0192f7a0-0000-7000-8000-000000000000"`), []string{"id"}, "not a known field"},
		{"unknown field price_cents", buyBody("price_cents", `1250`), []string{"price_cents"}, "not a known field"},
		{"missing username", buyBody("username", omit), []string{"username"}, "required"},
		{"missing userid", buyBody("userid", omit), []string{"userid"}, "required"},
		{"missing price", buyBody("price", omit), []string{"price"}, "required"},
		{"null username", buyBody("username", `null`), []string{"username"}, "required"},
		{"null price", buyBody("price", `null`), []string{"price"}, "required"},
		{"username a number", buyBody("username", `42`), []string{"username"}, "string"},
		{"username an array", buyBody("username", `["alice"]`), []string{"username"}, "string"},
		{"username an object", buyBody("username", `{"first":"alice"}`), []string{"username"}, "string"},
		{"userid a number", buyBody("userid", `7`), []string{"userid"}, "string"},
		{"userid a bool", buyBody("userid", `true`), []string{"userid"}, "string"},
		{"timestamp a number", buyBody("timestamp", `1767366245`), []string{"timestamp"}, "string"},

		// username
		{"empty username", buyBody("username", `""`), []string{"username"}, "required"},
		{"username of 101 characters", buyBody("username", jsonString(strings.Repeat("a", 101))), []string{"username"}, "at most 100"},
		{"username of 101 two-byte characters", buyBody("username", jsonString(strings.Repeat("é", 101))), []string{"username"}, "at most 100"},
		{"username with NUL", buyBody("username", `"al\u0000ice"`), []string{"username"}, "control"},
		{"username with ESC", buyBody("username", `"al\u001bice"`), []string{"username"}, "control"},
		{"username with DEL", buyBody("username", jsonString("al\x7fice")), []string{"username"}, "control"},
		{"username with C1 NEL", buyBody("username", `"al\u0085ice"`), []string{"username"}, "control"},
		{"username with tab", buyBody("username", `"al\tice"`), []string{"username"}, "tabs"},
		{"username with newline", buyBody("username", `"al\nice"`), []string{"username"}, "line breaks"},
		{"username with carriage return", buyBody("username", `"al\rice"`), []string{"username"}, "line breaks"},
		{"username with line separator", buyBody("username", `"al\u2028ice"`), []string{"username"}, "control"},
		{"username with no-break space inside", buyBody("username", `"al\u00a0ice"`), []string{"username"}, "control"},
		{"username with zero-width space", buyBody("username", `"al\u200bice"`), []string{"username"}, "control"},
		{"username with right-to-left override", buyBody("username", `"al\u202eice"`), []string{"username"}, "control"},
		{"username with leading space", buyBody("username", `" alice"`), []string{"username"}, "spaces"},
		{"username with trailing space", buyBody("username", `"alice "`), []string{"username"}, "spaces"},
		{"username with leading no-break space", buyBody("username", `"\u00a0alice"`), []string{"username"}, "spaces"},
		{"username only spaces", buyBody("username", `"   "`), []string{"username"}, ""},
		{"username only a tab", buyBody("username", `"\t"`), []string{"username"}, ""},

		// userid
		{"empty userid", buyBody("userid", `""`), []string{"userid"}, "required"},
		{"userid of 65 characters", buyBody("userid", jsonString(strings.Repeat("a", 65))), []string{"userid"}, "at most 64"},
		{"userid far too long", buyBody("userid", jsonString(strings.Repeat("x", 10000))), []string{"userid"}, "at most 64"},
		{"userid with space", buyBody("userid", `"alice 1"`), []string{"userid"}, "only"},
		{"userid with leading space", buyBody("userid", `" alice"`), []string{"userid"}, "only"},
		{"userid with slash", buyBody("userid", `"a/b"`), []string{"userid"}, "only"},
		{"userid with backslash", buyBody("userid", `"a\\b"`), []string{"userid"}, "only"},
		{"userid with percent", buyBody("userid", `"a%2Fb"`), []string{"userid"}, "only"},
		{"userid with question mark", buyBody("userid", `"a?b"`), []string{"userid"}, "only"},
		{"userid with hash", buyBody("userid", `"user#1"`), []string{"userid"}, "only"},
		{"userid with colon", buyBody("userid", `"a:b"`), []string{"userid"}, "only"},
		{"userid with at", buyBody("userid", `"a@b"`), []string{"userid"}, "only"},
		{"userid with plus", buyBody("userid", `"a+b"`), []string{"userid"}, "only"},
		{"userid with non-ASCII letter", buyBody("userid", `"jürgen"`), []string{"userid"}, "only"},
		{"userid with NUL", buyBody("userid", `"a\u0000"`), []string{"userid"}, "only"},
		{"userid with tab", buyBody("userid", `"a\tb"`), []string{"userid"}, "only"},
		{"userid with newline", buyBody("userid", `"a\nb"`), []string{"userid"}, "only"},

		// price
		{"price 0", buyBody("price", `0`), []string{"price"}, "greater than 0"},
		{"price 0.00", buyBody("price", `0.00`), []string{"price"}, "greater than 0"},
		{"price \"0\"", buyBody("price", `"0"`), []string{"price"}, "greater than 0"},
		{"price \"0.00\"", buyBody("price", `"0.00"`), []string{"price"}, "greater than 0"},
		{"price \"0.0\"", buyBody("price", `"0.0"`), []string{"price"}, "greater than 0"},
		{"negative price", buyBody("price", `-5`), []string{"price"}, "positive"},
		{"negative decimal price", buyBody("price", `-0.01`), []string{"price"}, "positive"},
		{"negative zero", buyBody("price", `-0`), []string{"price"}, "positive"},
		{"negative price string", buyBody("price", `"-12.50"`), []string{"price"}, "positive"},
		{"price abc", buyBody("price", `"abc"`), []string{"price"}, "decimal"},
		{"price NaN string", buyBody("price", `"NaN"`), []string{"price"}, "decimal"},
		{"price nan string", buyBody("price", `"nan"`), []string{"price"}, "decimal"},
		{"price Infinity string", buyBody("price", `"Infinity"`), []string{"price"}, "decimal"},
		{"price -Infinity string", buyBody("price", `"-Infinity"`), []string{"price"}, "decimal"},
		{"price Inf string", buyBody("price", `"+Inf"`), []string{"price"}, "decimal"},
		{"exponent 1e3", buyBody("price", `1e3`), []string{"price"}, "decimal"},
		{"exponent 1E2", buyBody("price", `1E2`), []string{"price"}, "decimal"},
		{"exponent 1.5e-1", buyBody("price", `1.5e-1`), []string{"price"}, "decimal"},
		{"exponent 1e+2", buyBody("price", `1e+2`), []string{"price"}, "decimal"},
		{"exponent string", buyBody("price", `"1e3"`), []string{"price"}, "decimal"},
		{"exponent string upper", buyBody("price", `"1E2"`), []string{"price"}, "decimal"},
		{"three decimals", buyBody("price", `12.345`), []string{"price"}, "must have at most 2 decimals"},
		{"three decimals string", buyBody("price", `"12.345"`), []string{"price"}, "must have at most 2 decimals"},
		{"three decimals with zero", buyBody("price", `1.000`), []string{"price"}, "must have at most 2 decimals"},
		{"many decimals", buyBody("price", `0.1000000000000000055511151231257827`), []string{"price"}, "must have at most 2 decimals"},
		{"dot without decimals", buyBody("price", `"12."`), []string{"price"}, "decimal"},
		{"dot without whole part", buyBody("price", `".5"`), []string{"price"}, "decimal"},
		{"only a dot", buyBody("price", `"."`), []string{"price"}, "decimal"},
		{"leading zeros", buyBody("price", `"007"`), []string{"price"}, "decimal"},
		{"leading zero before decimals", buyBody("price", `"00.50"`), []string{"price"}, "decimal"},
		{"two dots", buyBody("price", `"1.2.3"`), []string{"price"}, "decimal"},
		{"plus sign", buyBody("price", `"+12.50"`), []string{"price"}, "decimal"},
		{"leading space", buyBody("price", `" 12.50"`), []string{"price"}, "decimal"},
		{"trailing space", buyBody("price", `"12.50 "`), []string{"price"}, "decimal"},
		{"decimal comma", buyBody("price", `"12,50"`), []string{"price"}, "decimal"},
		{"currency sign", buyBody("price", `"$12.50"`), []string{"price"}, "decimal"},
		{"currency code", buyBody("price", `"12.50 EUR"`), []string{"price"}, "decimal"},
		{"digit separators", buyBody("price", `"1_000"`), []string{"price"}, "decimal"},
		{"thousands separators", buyBody("price", `"1,000.00"`), []string{"price"}, "decimal"},
		{"hexadecimal", buyBody("price", `"0x10"`), []string{"price"}, "decimal"},
		{"non-ASCII digits", buyBody("price", `"١٢"`), []string{"price"}, "decimal"},
		{"full-width digits", buyBody("price", `"１２"`), []string{"price"}, "decimal"},
		{"empty string", buyBody("price", `""`), []string{"price"}, "decimal"},
		{"just over the maximum", buyBody("price", `1000000.01`), []string{"price"}, "at most 1000000.00"},
		{"just over the maximum string", buyBody("price", `"1000000.01"`), []string{"price"}, "at most 1000000.00"},
		{"seven nines", buyBody("price", `"9999999.99"`), []string{"price"}, "at most 1000000.00"},
		{"eight digits", buyBody("price", `12345678`), []string{"price"}, "at most 1000000.00"},
		{"absurdly large", buyBody("price", `"123456789012345678901234567890"`), []string{"price"}, "at most 1000000.00"},
		{"absurdly large number", buyBody("price", `123456789012345678901234567890.00`), []string{"price"}, "at most 1000000.00"},
		{"max int64", buyBody("price", `9223372036854775807`), []string{"price"}, "at most 1000000.00"},
		{"beyond float64", buyBody("price", `1e400`), []string{"price"}, "decimal"},
		{"price true", buyBody("price", `true`), []string{"price"}, "decimal"},
		{"price false", buyBody("price", `false`), []string{"price"}, "decimal"},
		{"price object", buyBody("price", `{"amount":"12.50"}`), []string{"price"}, "decimal"},
		{"price array", buyBody("price", `[12.5]`), []string{"price"}, "decimal"},

		// timestamp
		{"timestamp empty", buyBody("timestamp", `""`), []string{"timestamp"}, "RFC 3339"},
		{"timestamp words", buyBody("timestamp", `"yesterday"`), []string{"timestamp"}, "RFC 3339"},
		{"timestamp date only", buyBody("timestamp", `"2026-01-02"`), []string{"timestamp"}, "RFC 3339"},
		{"timestamp without zone", buyBody("timestamp", `"2026-01-02T15:04:05"`), []string{"timestamp"}, "RFC 3339"},
		{"timestamp with space separator", buyBody("timestamp", `"2026-01-02 15:04:05Z"`), []string{"timestamp"}, "RFC 3339"},
		{"timestamp RFC 1123", buyBody("timestamp", `"Fri, 02 Jan 2026 15:04:05 GMT"`), []string{"timestamp"}, "RFC 3339"},
		{"timestamp unix seconds string", buyBody("timestamp", `"1767366245"`), []string{"timestamp"}, "RFC 3339"},
		{"timestamp month 13", buyBody("timestamp", `"2026-13-02T15:04:05Z"`), []string{"timestamp"}, "RFC 3339"},
		{"timestamp February 30", buyBody("timestamp", `"2026-02-30T15:04:05Z"`), []string{"timestamp"}, "RFC 3339"},
		{"timestamp hour 24", buyBody("timestamp", `"2026-01-02T24:00:00Z"`), []string{"timestamp"}, "RFC 3339"},
		{"timestamp leading space", buyBody("timestamp", `" 2026-01-02T15:04:05Z"`), []string{"timestamp"}, "RFC 3339"},
		{"timestamp over-long", buyBody("timestamp", jsonString("2026-01-02T15:04:05."+strings.Repeat("1", 60)+"Z")), []string{"timestamp"}, "RFC 3339"},
		{"timestamp before 2000", buyBody("timestamp", `"1999-12-31T23:59:59.999Z"`), []string{"timestamp"}, "2000"},
		{"timestamp before 2000 by offset", buyBody("timestamp", `"2000-01-01T00:30:00+01:00"`), []string{"timestamp"}, "2000"},
		{"timestamp year 1", buyBody("timestamp", `"0001-01-01T00:00:00Z"`), []string{"timestamp"}, "2000"},
		{"timestamp a day and a millisecond ahead", buyBody("timestamp", jsonString(now.Add(24*time.Hour+time.Millisecond).Format(time.RFC3339Nano))), []string{"timestamp"}, "future"},
		{"timestamp a year ahead", buyBody("timestamp", `"2027-03-04T05:06:07Z"`), []string{"timestamp"}, "future"},
		{"timestamp year 9999", buyBody("timestamp", `"9999-12-31T23:59:59Z"`), []string{"timestamp"}, "future"},

		// several at once
		{"every field wrong", buyBody("username", `""`, "userid", `"a b"`, "price", `"0"`, "timestamp", `"x"`),
			[]string{"username", "userid", "price", "timestamp"}, ""},
		{"userid and price wrong", buyBody("userid", `"ü"`, "price", `"1e3"`), []string{"userid", "price"}, ""},
		{"username and timestamp wrong", buyBody("username", `"a\nb"`, "timestamp", `"1999-01-01T00:00:00Z"`), []string{"username", "timestamp"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := contract.DecodeBuyRequest(tt.body, now)
			if err == nil {
				t.Fatalf("DecodeBuyRequest(%s) = %+v, want an error naming %q", tt.body, p, tt.fields)
			}
			e := invalidErr(t, err)
			checkFields(t, e, tt.problem, tt.fields...)
			if p != (contract.Purchase{}) {
				t.Errorf("got purchase %+v along with the error", p)
			}
			// The body a client sees names the same fields.
			if b := contract.Body(err); b.Error.Code != contract.EInvalid || len(b.Error.Fields) != len(tt.fields) {
				t.Errorf("Body(err) = %+v", b)
			}
		})
	}
}

// TestDecodeBuyRequestEveryControlCharacter checks every C0 and C1 control
// character in both user-supplied strings.
func TestDecodeBuyRequestEveryControlCharacter(t *testing.T) {
	var controls []rune
	for r := rune(0); r < 0x20; r++ {
		controls = append(controls, r)
	}
	for r := rune(0x7f); r <= 0x9f; r++ {
		controls = append(controls, r)
	}
	for _, r := range controls {
		s := "ab" + string(r) + "cd"
		for _, field := range []string{"username", "userid"} {
			_, err := contract.DecodeBuyRequest(buyBody(field, jsonString(s)), now)
			if err == nil {
				t.Errorf("%s %q accepted", field, s)
				continue
			}
			checkFields(t, invalidErr(t, err), "", field)
		}
	}
}

func TestBuyRequestValidateDirectly(t *testing.T) {
	// Validate is usable without the decoder; an invalid UTF-8 username can only
	// reach it this way.
	r := contract.BuyRequest{Username: "al\xffice", UserID: "a", Price: json.RawMessage(`"1"`)}
	_, err := r.Validate(now)
	checkFields(t, invalidErr(t, err), "UTF-8", "username")

	r = contract.BuyRequest{Username: "alice", UserID: "a", Price: json.RawMessage(` 12.5 `)}
	p, err := r.Validate(now)
	if err != nil || p.PriceCents != 1250 {
		t.Fatalf("Validate with a padded raw price = %+v, %v", p, err)
	}
	r = contract.BuyRequest{Username: "alice", UserID: "a"}
	_, err = r.Validate(now)
	checkFields(t, invalidErr(t, err), "required", "price")
}

func TestParsePrice(t *testing.T) {
	tests := []struct {
		in      string
		cents   int64
		problem string // part of the problem when cents is 0
	}{
		{"1", 100, ""},
		{"0.01", 1, ""},
		{"0.1", 10, ""},
		{"0.10", 10, ""},
		{"0.99", 99, ""},
		{"9.09", 909, ""},
		{"12.5", 1250, ""},
		{"12.50", 1250, ""},
		{"12.05", 1205, ""},
		{"100", 10000, ""},
		{"999999.99", 99999999, ""},
		{"1000000", contract.MaxPriceCents, ""},
		{"1000000.0", contract.MaxPriceCents, ""},
		{"1000000.00", contract.MaxPriceCents, ""},
		{"", 0, "decimal"},
		{"0", 0, "greater than 0"},
		{"0.0", 0, "greater than 0"},
		{"0.00", 0, "greater than 0"},
		{"0.000", 0, "must have at most 2 decimals"},
		{"-1", 0, "positive"},
		{"-0.01", 0, "positive"},
		{"abc", 0, "decimal"},
		{"NaN", 0, "decimal"},
		{"Infinity", 0, "decimal"},
		{"1e3", 0, "decimal"},
		{"1E2", 0, "decimal"},
		{"12.345", 0, "must have at most 2 decimals"},
		{"12.", 0, "decimal"},
		{".5", 0, "decimal"},
		{".", 0, "decimal"},
		{"007", 0, "decimal"},
		{"01", 0, "decimal"},
		{"00", 0, "decimal"},
		{"1.-1", 0, "decimal"},
		{"1.+1", 0, "decimal"},
		{"1. 5", 0, "decimal"},
		{"1.5 ", 0, "decimal"},
		{"1000000.01", 0, "at most 1000000.00"},
		{"1000001", 0, "at most 1000000.00"},
		{"9999999.99", 0, "at most 1000000.00"},
		{"10000000", 0, "at most 1000000.00"},
		{"99999999999999999999999999999999999999", 0, "at most 1000000.00"},
		{"\"12.50\"", 0, "decimal"},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			cents, problem := contract.ParsePrice(tt.in)
			if cents != tt.cents {
				t.Errorf("ParsePrice(%q) = %d (%q), want %d", tt.in, cents, problem, tt.cents)
			}
			if tt.cents != 0 && problem != "" {
				t.Errorf("ParsePrice(%q) problem = %q, want none", tt.in, problem)
			}
			if tt.cents == 0 && !strings.Contains(problem, tt.problem) {
				t.Errorf("ParsePrice(%q) problem = %q, want it to mention %q", tt.in, problem, tt.problem)
			}
		})
	}
}

func TestFormatPrice(t *testing.T) {
	tests := []struct {
		cents int64
		want  string
	}{
		{0, "0.00"},
		{1, "0.01"},
		{9, "0.09"},
		{10, "0.10"},
		{99, "0.99"},
		{100, "1.00"},
		{1250, "12.50"},
		{1205, "12.05"},
		{contract.MaxPriceCents, "1000000.00"},
		{-1, "-0.01"},
		{-1250, "-12.50"},
	}
	for _, tt := range tests {
		if got := contract.FormatPrice(tt.cents); got != tt.want {
			t.Errorf("FormatPrice(%d) = %q, want %q", tt.cents, got, tt.want)
		}
	}
}

// TestPriceRoundTrip checks FormatPrice and ParsePrice are inverse on every cent
// amount up to 100,000 and on a deterministic sample of the rest of the range,
// including the short forms ("12.5", "12") of the same amounts.
func TestPriceRoundTrip(t *testing.T) {
	check := func(c int64) {
		s := contract.FormatPrice(c)
		got, problem := contract.ParsePrice(s)
		if got != c || problem != "" {
			t.Fatalf("ParsePrice(FormatPrice(%d) = %q) = %d, %q", c, s, got, problem)
		}
		short := strings.TrimSuffix(s, "0")
		short = strings.TrimSuffix(short, ".0")
		if got, problem := contract.ParsePrice(short); got != c || problem != "" {
			t.Fatalf("ParsePrice(%q) = %d, %q, want %d", short, got, problem, c)
		}
		// The JSON number and the JSON string read the same.
		for _, raw := range []string{s, strconv.Quote(s)} {
			p, err := contract.DecodeBuyRequest(buyBody("price", raw), now)
			if err != nil || p.PriceCents != c {
				t.Fatalf("price %s decoded to %d, %v; want %d", raw, p.PriceCents, err, c)
			}
		}
	}
	// Every price up to 1000.00 and 20,000 random ones take 15 s; -short checks
	// every price up to 20.00 and 500 random ones.
	exhaustive, random := int64(100_000), 20_000
	if testing.Short() {
		exhaustive, random = 2_000, 500
	}
	for c := int64(1); c <= exhaustive; c++ {
		check(c)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range random {
		check(1 + rng.Int64N(contract.MaxPriceCents))
	}
	for c := int64(contract.MaxPriceCents - 1000); c <= contract.MaxPriceCents; c++ {
		check(c)
	}
	for _, c := range []int64{0, -1, contract.MaxPriceCents + 1} {
		if got, problem := contract.ParsePrice(contract.FormatPrice(c)); got != 0 || problem == "" {
			t.Errorf("ParsePrice(FormatPrice(%d)) = %d, %q; want a refusal", c, got, problem)
		}
	}
}

func TestCheckUsernameAndUserID(t *testing.T) {
	for _, ok := range []string{"a", "Alice", "O'Brien-Smith Jr.", "Zoë", "李", "🙂", strings.Repeat("ж", 100)} {
		if p := contract.CheckUsername(ok); p != "" {
			t.Errorf("CheckUsername(%q) = %q, want ok", ok, p)
		}
	}
	for _, bad := range []string{"", " ", "a\x00", "\xff", strings.Repeat("a", 101), "a\u2029b", "a\ufeffb"} {
		if p := contract.CheckUsername(bad); p == "" {
			t.Errorf("CheckUsername(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"a", "Z", "0", "a.b_c-d", strings.Repeat("9", contract.MaxUserIDLen)} {
		if p := contract.CheckUserID(ok); p != "" {
			t.Errorf("CheckUserID(%q) = %q, want ok", ok, p)
		}
	}
	for _, bad := range []string{"", strings.Repeat("a", contract.MaxUserIDLen+1), "a b", "a~b", "a*b", "a\"b", "a'b", "é", "\xff"} {
		if p := contract.CheckUserID(bad); p == "" {
			t.Errorf("CheckUserID(%q) accepted", bad)
		}
	}
}

// checkPurchase asserts the invariants of a purchase DecodeBuyRequest accepted.
func checkPurchase(t *testing.T, body []byte, recv time.Time, p contract.Purchase) {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("accepted a body that is not a single JSON value: %q", body)
	}
	if problem := contract.CheckUserID(p.UserID); problem != "" {
		t.Fatalf("accepted userid %q: %s", p.UserID, problem)
	}
	if problem := contract.CheckUsername(p.Username); problem != "" {
		t.Fatalf("accepted username %q: %s", p.Username, problem)
	}
	if p.PriceCents < 1 || p.PriceCents > contract.MaxPriceCents {
		t.Fatalf("accepted price %d cents", p.PriceCents)
	}
	if p.Timestamp.Location() != time.UTC || p.Timestamp.Year() < 2000 || p.Timestamp.After(recv.Add(contract.MaxFutureSkew)) {
		t.Fatalf("accepted timestamp %v", p.Timestamp)
	}
	// The event made of it is valid and survives the topic.
	ev := contract.NewEvent("0192f7a0-1b2c-7d3e-8f40-123456789abc", p, recv)
	if err := ev.Validate(); err != nil {
		t.Fatalf("event of an accepted purchase is invalid: %v", err)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	back, err := contract.DecodeEvent(b)
	if err != nil {
		t.Fatalf("event of an accepted purchase does not decode: %v\n%s", err, b)
	}
	if back.UserID != p.UserID || back.Username != p.Username || back.PriceCents != p.PriceCents || !back.Timestamp.Equal(p.Timestamp) {
		t.Fatalf("event round trip changed the purchase: %+v -> %+v", p, back)
	}
	// The canonical request for the same purchase decodes to the same purchase.
	canon, err := json.Marshal(map[string]string{"username": p.Username, "userid": p.UserID,
		"price": contract.FormatPrice(p.PriceCents), "timestamp": p.Timestamp.Format(time.RFC3339Nano)})
	if err != nil {
		t.Fatal(err)
	}
	again, err := contract.DecodeBuyRequest(canon, recv)
	if err != nil || again.UserID != p.UserID || again.Username != p.Username || again.PriceCents != p.PriceCents || !again.Timestamp.Equal(p.Timestamp) {
		t.Fatalf("canonical form %s decodes to %+v, %v; want %+v", canon, again, err, p)
	}
}

func FuzzDecodeBuyRequest(f *testing.F) {
	seeds := [][]byte{
		buyBody(),
		buyBody("price", `12.5`),
		buyBody("price", `"0.01"`),
		buyBody("price", `1000000.00`),
		buyBody("price", `1e3`),
		buyBody("price", `"12.345"`),
		buyBody("price", `NaN`),
		buyBody("price", `-1`),
		buyBody("price", `null`),
		buyBody("price", `{"a":1}`),
		buyBody("timestamp", `"2026-01-02T15:04:05.123456789+02:00"`),
		buyBody("timestamp", `"1999-12-31T23:59:59Z"`),
		buyBody("username", `"\u0000"`),
		buyBody("username", `" Zoë "`),
		buyBody("userid", jsonString(strings.Repeat("u", 65))),
		buyBody("extra", `1`),
		append(buyBody(), '}'),
		append(buyBody(), buyBody()...),
		[]byte("{\"username\":\"\xff\",\"userid\":\"a\",\"price\":1}"),
		[]byte(`{}`),
		[]byte(`[]`),
		[]byte(`null`),
		[]byte(``),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := contract.DecodeBuyRequest(body, now)
		if err != nil {
			var ce *contract.Error
			if !errors.As(err, &ce) || ce.Code != contract.EInvalid {
				t.Fatalf("error %T %v is not an invalid_request *contract.Error", err, err)
			}
			if p != (contract.Purchase{}) {
				t.Fatalf("purchase %+v returned with error %v", p, err)
			}
			for _, fp := range ce.Fields {
				if !utf8.ValidString(fp.Field) || !utf8.ValidString(fp.Problem) {
					t.Fatalf("field problem %+v is not valid UTF-8", fp)
				}
			}
			return
		}
		checkPurchase(t, body, now, p)
	})
}

func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{"12.50", "12.5", "12", "0.01", "0.10", "1000000.00", "1000000.01", "999999.99",
		"0", "0.00", "007", ".5", "12.", "12.345", "1e3", "NaN", "Infinity", "-1", "+1", " 1", "", "99999999", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cents, problem := contract.ParsePrice(s)
		if problem != "" {
			if cents != 0 {
				t.Fatalf("ParsePrice(%q) = %d along with problem %q", s, cents, problem)
			}
			return
		}
		if cents < 1 || cents > contract.MaxPriceCents {
			t.Fatalf("ParsePrice(%q) = %d, outside 1..%d", s, cents, contract.MaxPriceCents)
		}
		// Only plain decimals are accepted, and they mean what math/big says they mean.
		if strings.Trim(s, "0123456789.") != "" || strings.Count(s, ".") > 1 {
			t.Fatalf("ParsePrice accepted %q", s)
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok || r.Cmp(big.NewRat(cents, 100)) != 0 {
			t.Fatalf("ParsePrice(%q) = %d cents, but the decimal is %v", s, cents, r)
		}
		// The formatted amount parses back to the same cents.
		formatted := contract.FormatPrice(cents)
		if back, problem := contract.ParsePrice(formatted); back != cents || problem != "" {
			t.Fatalf("ParsePrice(FormatPrice(%d) = %q) = %d, %q", cents, formatted, back, problem)
		}
	})
}

func TestKeysAreExactAndUnique(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, body := range []string{
		`{"USERNAME":"Ada","userid":"ada","price":"1.00"}`,
		`{"username":"Ada","UserID":"ada","price":"1.00"}`,
		`{"username":"Ada","userid":"ada","price":"1.00","price":"2.00"}`,
		`{"username":"Ada","userid":"ada","userid":"eve","price":"1.00"}`,
	} {
		_, err := contract.DecodeBuyRequest([]byte(body), now)
		var e *contract.Error
		if !errors.As(err, &e) || e.Code != contract.EInvalid || len(e.Fields) != 1 {
			t.Errorf("%s: got %v, want one field problem", body, err)
		}
	}
	if _, err := contract.DecodeBuyRequest([]byte(`{"username":"Ada","userid":"ada","price":"1.00"}`), now); err != nil {
		t.Errorf("a valid body was refused: %v", err)
	}
}
