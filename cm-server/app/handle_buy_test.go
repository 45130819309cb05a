package app

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/scalable-shop/shop/contract"
)

func TestPurchaseIDWithoutKey(t *testing.T) {
	const n = 1000
	seen := make(map[string]bool, n)
	prev := ""
	for range n {
		id, err := purchaseID("", "alice-1")
		if err != nil {
			t.Fatal(err)
		}
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("id %q is not an RFC 9562 UUIDv7 (%v)", id, err)
		}
		if !contract.ValidPurchaseID(id) {
			t.Fatalf("id %q is refused by the event contract", id)
		}
		if seen[id] {
			t.Fatalf("id %q issued twice", id)
		}
		seen[id] = true
		// Time-ordered: later purchases sort after earlier ones.
		if id <= prev {
			t.Fatalf("id %q does not sort after %q", id, prev)
		}
		prev = id
	}
}

func TestPurchaseIDWithKey(t *testing.T) {
	id, err := purchaseID("order-42", "alice-1")
	if err != nil {
		t.Fatal(err)
	}
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 5 || !contract.ValidPurchaseID(id) {
		t.Fatalf("id %q is not a valid name-based UUID (%v)", id, err)
	}
	// The namespace must never change: a retry after an upgrade, or on another
	// replica, must get the id the first attempt got. The value is UUIDv5 of the
	// namespace and "alice-1\x00order-42", computed outside Go (Python's uuid.uuid5).
	if want := "137c7590-9c6b-517c-bb2f-8d8ad8cb8587"; id != want {
		t.Errorf("purchaseID(order-42, alice-1) = %q, want %q", id, want)
	}
	tests := []struct {
		name        string
		key, user   string
		key2, user2 string
		wantSameID  bool
	}{
		{"same key, same user", "order-42", "alice-1", "order-42", "alice-1", true},
		{"same key, another user", "order-42", "alice-1", "order-42", "bob", false},
		{"another key", "order-42", "alice-1", "order-43", "alice-1", false},
		{"keys are case-sensitive", "Order-42", "alice-1", "order-42", "alice-1", false},
		{"user ids are case-sensitive", "k", "Alice", "k", "alice", false},
		{"user and key do not run together", "c", "ab", "bc", "a", false},
		{"user and key do not run together, other side", "b.c", "a", "c", "a.b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err1 := purchaseID(tt.key, tt.user)
			b, err2 := purchaseID(tt.key2, tt.user2)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if (a == b) != tt.wantSameID {
				t.Errorf("purchaseID(%q,%q) = %s, purchaseID(%q,%q) = %s; want same = %v", tt.key, tt.user, a, tt.key2, tt.user2, b, tt.wantSameID)
			}
		})
	}
}

func TestIdempotencyKeyRules(t *testing.T) {
	var visible strings.Builder
	for c := byte(0x21); c <= 0x7e; c++ {
		visible.WriteByte(c)
	}
	tests := []struct {
		name    string
		key     string
		problem string // "" when accepted
	}{
		{"one character", "k", ""},
		{"a UUID", "3f2b8c1e-5d4a-4e6f-9a7b-0c1d2e3f4a5b", ""},
		{"every visible ASCII character", visible.String(), ""},
		{"255 characters", strings.Repeat("k", 255), ""},
		{"256 characters", strings.Repeat("k", 256), "at most 255"},
		{"far too long", strings.Repeat("k", 100_000), "at most 255"},
		{"space", "order 42", "visible ASCII"},
		{"leading space", " order", "visible ASCII"},
		{"tab", "order\t42", "visible ASCII"},
		{"newline", "order\n42", "visible ASCII"},
		{"NUL", "order\x0042", "visible ASCII"},
		{"DEL", "order\x7f", "visible ASCII"},
		{"non-ASCII letter", "bestellung-ä", "visible ASCII"},
		{"invalid UTF-8", "k\xff", "visible ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := purchaseID(tt.key, "alice-1")
			if tt.problem == "" {
				if err != nil || !contract.ValidPurchaseID(id) {
					t.Fatalf("purchaseID(%.40q) = %q, %v", tt.key, id, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("purchaseID(%.40q) = %q, want a refusal", tt.key, id)
			}
			var e *contract.Error
			if !errors.As(err, &e) || e.Code != contract.EInvalid {
				t.Fatalf("error %T %v is not an invalid_request *contract.Error", err, err)
			}
			if len(e.Fields) != 1 || e.Fields[0].Field != "Idempotency-Key" || !strings.Contains(e.Fields[0].Problem, tt.problem) {
				t.Errorf("fields = %+v, want Idempotency-Key: %s", e.Fields, tt.problem)
			}
			if id != "" {
				t.Errorf("got id %q along with the error", id)
			}
		})
	}
}
