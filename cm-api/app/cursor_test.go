package app

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/contract"
)

const (
	cursorSecret = "service-token-1"
	cursorID     = "0192f7a0-1b2c-7d3e-8f40-123456789abc"
	cursorUser   = "alice-1"
)

var cursorTS = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

// wantForged asserts err is the invalid_request error for a cursor.
func wantForged(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("cursor accepted, want it refused")
	}
	var e *contract.Error
	if !errors.As(err, &e) || e.Code != contract.EInvalid {
		t.Fatalf("error %T %v is not an invalid_request *contract.Error", err, err)
	}
	if len(e.Fields) != 1 || e.Fields[0].Field != "cursor" {
		t.Fatalf("error fields = %+v, want the cursor", e.Fields)
	}
}

// sign makes a cursor with a valid signature around any payload: what someone
// holding the key could produce, to check the payload rules behind the signature.
func sign(c cursorCodec, userID, payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(c.mac(userID, payload))
}

func TestCursorRoundTrip(t *testing.T) {
	c := newCursorCodec(cursorSecret)
	tests := []struct {
		name   string
		user   string
		ts     time.Time
		wantTS time.Time
	}{
		{"milliseconds", cursorUser, cursorTS, cursorTS},
		{"nanoseconds are cut to the stored milliseconds", cursorUser, cursorTS.Add(999_999), cursorTS},
		{"other zone comes back in UTC", cursorUser, cursorTS.In(time.FixedZone("X", 5*3600)), cursorTS},
		{"year 2000", "u", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"before 1970", "u", time.Date(1969, 12, 31, 23, 59, 59, 1_000_000, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 1_000_000, time.UTC)},
		{"far future", "u", time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)},
		{"longest user id", strings.Repeat("z", contract.MaxUserIDLen), cursorTS, cursorTS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := c.Encode(tt.user, tt.ts, cursorID)
			// What cm-api hands out must pass the syntax check cm-server and cm-api
			// apply before decoding.
			if p, err := contract.ParsePage("", cur); err != nil || p.Cursor != cur {
				t.Fatalf("ParsePage refuses the cursor %q: %v", cur, err)
			}
			ts, id, err := c.Decode(tt.user, cur)
			if err != nil {
				t.Fatalf("Decode(Encode(...)) = %v", err)
			}
			if !ts.Equal(tt.wantTS) || ts.Location() != time.UTC || id != cursorID {
				t.Errorf("Decode = %v %s, want %v %s", ts, id, tt.wantTS, cursorID)
			}
			// A codec built from the same secret (another replica) reads it too.
			if _, _, err := newCursorCodec(cursorSecret).Decode(tt.user, cur); err != nil {
				t.Errorf("another codec with the same secret refuses the cursor: %v", err)
			}
		})
	}
	if a, b := c.Encode(cursorUser, cursorTS, cursorID), c.Encode(cursorUser, cursorTS, cursorID); a != b {
		t.Errorf("Encode is not deterministic: %q, %q", a, b)
	}
	// The signature must be too long to guess: at least 128 bits.
	_, m64, _ := strings.Cut(c.Encode(cursorUser, cursorTS, cursorID), ".")
	if mac, err := base64.RawURLEncoding.DecodeString(m64); err != nil || len(mac) < 16 {
		t.Errorf("cursor signature is %d bytes (%v), want at least 16", len(mac), err)
	}
}

func TestCursorRefused(t *testing.T) {
	c := newCursorCodec(cursorSecret)
	valid := c.Encode(cursorUser, cursorTS, cursorID)
	p64, m64, _ := strings.Cut(valid, ".")
	enc := base64.RawURLEncoding
	payload, _ := enc.DecodeString(p64)
	mac, _ := enc.DecodeString(m64)

	flipped := func(b []byte, i int) []byte {
		out := append([]byte(nil), b...)
		out[i] ^= 0x01
		return out
	}
	laterPayload := strings.Replace(string(payload), "|1767323045678|", "|1767323045679|", 1)
	if laterPayload == string(payload) {
		t.Fatalf("test setup: payload %q has an unexpected shape", payload)
	}

	tests := []struct{ name, user, cursor string }{
		{"empty", cursorUser, ""},
		{"only a dot", cursorUser, "."},
		{"two dots", cursorUser, ".."},
		{"no dot", cursorUser, p64 + m64},
		{"empty payload", cursorUser, "." + m64},
		{"empty mac", cursorUser, p64 + "."},
		{"extra part", cursorUser, valid + ".x"},
		{"garbage", cursorUser, "garbage"},
		{"garbage with a dot", cursorUser, "abc.def"},
		{"not base64", cursorUser, "!!!!." + m64},
		{"standard base64 alphabet", cursorUser, strings.NewReplacer("-", "+", "_", "/").Replace(p64) + "/+." + m64},
		{"padded base64", cursorUser, p64 + "==." + m64},
		{"payload of another position, same mac", cursorUser, enc.EncodeToString([]byte(laterPayload)) + "." + m64},
		{"payload with another id, same mac", cursorUser, enc.EncodeToString([]byte(strings.Replace(string(payload), "abc", "abd", 1))) + "." + m64},
		{"payload byte flipped", cursorUser, enc.EncodeToString(flipped(payload, 5)) + "." + m64},
		{"mac byte flipped", cursorUser, p64 + "." + enc.EncodeToString(flipped(mac, 0))},
		{"mac last byte flipped", cursorUser, p64 + "." + enc.EncodeToString(flipped(mac, len(mac)-1))},
		{"mac truncated", cursorUser, p64 + "." + enc.EncodeToString(mac[:len(mac)-1])},
		{"mac extended", cursorUser, p64 + "." + enc.EncodeToString(append(mac, 0))},
		{"full SHA-256 mac", cursorUser, p64 + "." + enc.EncodeToString(append(mac, make([]byte, 16)...))},
		{"unsigned payload", cursorUser, p64},
		{"cursor of another user", "bob", valid},
		{"cursor of a user with a longer id", cursorUser + "x", valid},
		{"cursor of a user with a shorter id", cursorUser[:len(cursorUser)-1], valid},
		{"cursor of another secret", cursorUser, newCursorCodec("another-token").Encode(cursorUser, cursorTS, cursorID)},
		{"cursor of an empty secret", cursorUser, newCursorCodec("").Encode(cursorUser, cursorTS, cursorID)},
		{"signed, wrong version", cursorUser, sign(c, cursorUser, "2|1767323045678|"+cursorID)},
		{"signed, no version", cursorUser, sign(c, cursorUser, "1767323045678|"+cursorID)},
		{"signed, extra part", cursorUser, sign(c, cursorUser, "1|1767323045678|"+cursorID+"|x")},
		{"signed, time not a number", cursorUser, sign(c, cursorUser, "1|yesterday|"+cursorID)},
		{"signed, time out of range", cursorUser, sign(c, cursorUser, "1|99999999999999999999|"+cursorID)},
		{"signed, empty time", cursorUser, sign(c, cursorUser, "1||"+cursorID)},
		{"signed, id not a UUID", cursorUser, sign(c, cursorUser, "1|1767323045678|not-an-id")},
		{"signed, uppercase id", cursorUser, sign(c, cursorUser, "1|1767323045678|"+strings.ToUpper(cursorID))},
		{"signed, empty", cursorUser, sign(c, cursorUser, "")},
		{"signed for another user", cursorUser, sign(c, "bob", string(payload))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, id, err := c.Decode(tt.user, tt.cursor)
			wantForged(t, err)
			if !ts.IsZero() || id != "" {
				t.Errorf("Decode returned %v %q along with the error", ts, id)
			}
		})
	}
}

// TestCursorSingleCharacterTampering changes every character of a cursor to every
// other allowed character: no change may lead to another position. (The last
// character of each base64 part carries unused bits, so a few changes decode to
// the same bytes and are accepted; they name the same position.)
func TestCursorSingleCharacterTampering(t *testing.T) {
	c := newCursorCodec(cursorSecret)
	valid := c.Encode(cursorUser, cursorTS, cursorID)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	accepted := 0
	for i := range len(valid) {
		for _, r := range alphabet {
			if byte(r) == valid[i] {
				continue
			}
			tampered := valid[:i] + string(r) + valid[i+1:]
			ts, id, err := c.Decode(cursorUser, tampered)
			if err == nil {
				accepted++
				if !ts.Equal(cursorTS) || id != cursorID {
					t.Fatalf("tampered cursor %q decodes to another position %v %s", tampered, ts, id)
				}
				continue
			}
			wantForged(t, err)
		}
	}
	// Only the spare bits of the two final characters may vary: 2 × 15 variants.
	if accepted > 30 {
		t.Errorf("%d tampered cursors accepted", accepted)
	}
}

func FuzzCursorDecode(f *testing.F) {
	c := newCursorCodec(cursorSecret)
	f.Add(cursorUser, c.Encode(cursorUser, cursorTS, cursorID))
	f.Add("bob", c.Encode(cursorUser, cursorTS, cursorID))
	f.Add("u", c.Encode("u", time.Unix(0, 0), "00000000-0000-0000-0000-000000000000"))
	f.Add(cursorUser, sign(c, cursorUser, "1|-1|"+cursorID))
	f.Add(cursorUser, sign(c, cursorUser, "2|1|"+cursorID))
	f.Add(cursorUser, newCursorCodec("x").Encode(cursorUser, cursorTS, cursorID))
	f.Add(cursorUser, "")
	f.Add(cursorUser, ".")
	f.Add(cursorUser, "a.b.c")
	f.Add("", "MXwxfDA.AAAA")
	f.Fuzz(func(t *testing.T, userID, cursor string) {
		ts, id, err := c.Decode(userID, cursor)
		if err != nil {
			wantForged(t, err)
			if !ts.IsZero() || id != "" {
				t.Fatalf("Decode returned %v %q along with the error", ts, id)
			}
			return
		}
		if !contract.ValidPurchaseID(id) || ts.Location() != time.UTC {
			t.Fatalf("Decode accepted id %q at %v", id, ts)
		}
		again := c.Encode(userID, ts, id)
		ts2, id2, err := c.Decode(userID, again)
		if err != nil || !ts2.Equal(ts) || id2 != id {
			t.Fatalf("re-encoded cursor decodes to %v %q, %v; want %v %q", ts2, id2, err, ts, id)
		}
		if _, _, err := c.Decode(userID+"x", cursor); err == nil {
			t.Fatalf("cursor %q of %q accepted for %q", cursor, userID, userID+"x")
		}
		if _, _, err := newCursorCodec(cursorSecret+"x").Decode(userID, cursor); err == nil {
			t.Fatalf("cursor %q accepted under another secret", cursor)
		}
	})
}

// During a key rotation cursors of the previous key still page; a cursor of any
// other key is refused, and new cursors are signed with the new key only.
func TestCursorOfThePreviousKeyStillPages(t *testing.T) {
	old := newCursorCodec("key-old")
	rotated := cursorCodec{current: secretSource{value: "key-new"}, previous: secretSource{value: "key-old"}}
	if _, _, err := rotated.Decode(cursorUser, old.Encode(cursorUser, cursorTS, cursorID)); err != nil {
		t.Fatalf("cursor of the previous key refused: %v", err)
	}
	fresh := rotated.Encode(cursorUser, cursorTS, cursorID)
	if _, _, err := newCursorCodec("key-new").Decode(cursorUser, fresh); err != nil {
		t.Fatalf("a new cursor is not signed with the new key: %v", err)
	}
	_, _, err := old.Decode(cursorUser, fresh)
	wantForged(t, err)
	_, _, err = rotated.Decode(cursorUser, newCursorCodec("key-other").Encode(cursorUser, cursorTS, cursorID))
	wantForged(t, err)
	// No previous key configured: the empty key must not become an accepted one.
	_, _, err = newCursorCodec("key-new").Decode(cursorUser, newCursorCodec("").Encode(cursorUser, cursorTS, cursorID))
	wantForged(t, err)
}
