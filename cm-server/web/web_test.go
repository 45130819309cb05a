package web

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestNewRendersThePageWithHashedAssets(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.css", "app.js", "favicon.svg"} {
		p := s.AssetPath(name)
		if !regexp.MustCompile(`^static/[a-z]+\.[0-9a-f]{12}\.[a-z]+$`).MatchString(p) {
			t.Errorf("AssetPath(%q) = %q, want static/<name>.<hash>.<ext>", name, p)
		}
		if !strings.Contains(string(s.page.body), `"`+p+`"`) {
			t.Errorf("page does not link %s", p)
		}
	}
	if s.AssetPath("nope.js") != "" {
		t.Error("AssetPath of a missing asset is not empty")
	}
	if strings.Contains(string(s.page.body), "{{") {
		t.Error("page still holds template actions")
	}
}

func TestServeAssetRefusesUnknownNames(t *testing.T) {
	s := MustNew()
	for _, name := range []string{"", "../index.html", "index.html", "app.js/", "APP.JS"} {
		rec := httptest.NewRecorder()
		if s.ServeAsset(rec, httptest.NewRequest("GET", "/static/"+name, nil), name) {
			t.Errorf("ServeAsset(%q) served something", name)
		}
	}
}

func TestPrefersHTML(t *testing.T) {
	cases := map[string]bool{
		"":                                     false,
		"*/*":                                  false,
		"*":                                    false,
		"application/json":                     false,
		"text/html":                            true,
		"text/html;level=1":                    true,
		"text/html;q=0.001":                    true,
		"text/html;q=0":                        false,
		"text/html;q=1.5":                      false, // out of range: the element is dropped
		"text/html, application/*":             false,
		"text/*;q=0.9, application/json;q=0.8": true,
		"text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2": true, // Java
		",,;;,":  false,
		"/html":  false,
		"*/html": false,
	}
	for accept, want := range cases {
		if got := PrefersHTML(accept); got != want {
			t.Errorf("PrefersHTML(%q) = %v, want %v", accept, got, want)
		}
	}
}

func TestForwardedPrefix(t *testing.T) {
	for h, want := range map[string]string{"/shop": "/shop", "/shop/": "/shop", "/a/b-c_d.e~f": "/a/b-c_d.e~f"} {
		if got, ok := ForwardedPrefix(h); !ok || got != want {
			t.Errorf("ForwardedPrefix(%q) = %q, %v; want %q", h, got, ok, want)
		}
	}
	for _, h := range []string{"", "/", "shop", "//evil.example", "/shop//x", "/../x", "/a/./b", `/shop"><script>`, "/sh op",
		"/%2e%2e", "/" + strings.Repeat("a", 300)} {
		if got, ok := ForwardedPrefix(h); ok {
			t.Errorf("ForwardedPrefix(%q) = %q, want refused", h, got)
		}
	}
}
