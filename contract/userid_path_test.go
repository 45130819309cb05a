package contract

import "testing"

func TestUserIDFromPath(t *testing.T) {
	for raw, want := range map[string]string{
		"ada": "ada", "%41da": "Ada", "%2E": ".", "%2E%2E": "..", "%2e%2e": "..", "a.b_c-d": "a.b_c-d",
	} {
		got, err := UserIDFromPath(raw)
		if err != nil || got != want {
			t.Errorf("UserIDFromPath(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"", "a%2Fb", "a%20b", "%", "%zz", "a%00", "%C3%A9"} {
		if got, err := UserIDFromPath(raw); err == nil {
			t.Errorf("UserIDFromPath(%q) = %q, want an error", raw, got)
		}
	}
}

func TestUserIDPathSegmentRoundTrips(t *testing.T) {
	for _, id := range []string{"ada", ".", "..", "...", ".a", "a.", "A-Z_0.9"} {
		seg := UserIDPathSegment(id)
		if seg == "." || seg == ".." {
			t.Errorf("UserIDPathSegment(%q) = %q: a dot segment", id, seg)
		}
		if got, err := UserIDFromPath(seg); err != nil || got != id {
			t.Errorf("UserIDFromPath(UserIDPathSegment(%q)) = %q, %v", id, got, err)
		}
	}
}
