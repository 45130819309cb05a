// Package web is the customer page cm-server shows a browser at GET /: one HTML
// page, a style sheet and a script, embedded in the binary. Every URL the page uses
// is relative ("static/app.css", fetch("buy")), so it works unchanged behind an
// ingress that serves the shop under a path prefix such as /shop/.
//
// Assets are served twice: under a content-hashed name (static/app.3f9c0a1b2c.js)
// that the page links to and that may be cached for a year, and under their plain
// name (static/app.js) with revalidation, for people and tools that guess URLs.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed index.html static
var files embed.FS

// ContentSecurityPolicy allows the page nothing but its own origin: no inline
// script or style, no frames, no foreign connections, a <base> only on the
// page's own origin (the one ServePage sets behind a path prefix).
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; form-action 'self'; base-uri 'self'; frame-ancestors 'none'"

// PermissionsPolicy turns off the powerful browser features the page never uses.
const PermissionsPolicy = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), " +
	"accelerometer=(), gyroscope=(), magnetometer=(), fullscreen=()"

// SetSecurityHeaders sets the headers every page and asset response carries.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Permissions-Policy", PermissionsPolicy)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// contentTypes is fixed here rather than taken from the system's MIME tables,
// which differ between machines and container images.
var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

// Cache-Control values: hashed names never change; everything else revalidates.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

type asset struct {
	body        []byte
	contentType string
	etag        string
	cache       string
}

// Site holds the rendered page and its assets, ready to serve.
type Site struct {
	page   asset
	assets map[string]asset // by name under static/, hashed and plain
	hashed map[string]string
}

// New renders the page and indexes the assets. It fails only if the embedded
// files are broken, which the package's tests rule out.
func New() (*Site, error) {
	s := &Site{assets: map[string]asset{}, hashed: map[string]string{}}
	entries, err := fs.ReadDir(files, "static")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		body, err := files.ReadFile("static/" + name)
		if err != nil {
			return nil, err
		}
		ext := path.Ext(name)
		ct, ok := contentTypes[ext]
		if !ok {
			return nil, fmt.Errorf("web: static/%s has no known content type", name)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])[:12]
		etag := `"` + hash + `"`
		hashedName := strings.TrimSuffix(name, ext) + "." + hash + ext
		s.assets[name] = asset{body: body, contentType: ct, etag: etag, cache: cacheRevalidate}
		s.assets[hashedName] = asset{body: body, contentType: ct, etag: etag, cache: cacheImmutable}
		s.hashed[name] = hashedName
	}

	tmpl, err := template.New("index.html").Option("missingkey=error").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			h, ok := s.hashed[name]
			if !ok {
				return "", fmt.Errorf("web: index.html links to unknown asset %q", name)
			}
			// Relative on purpose: resolves under whatever prefix serves the page.
			return "static/" + h, nil
		},
	}).ParseFS(files, "index.html")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	s.page = asset{body: buf.Bytes(), contentType: "text/html; charset=utf-8",
		etag: `"` + hex.EncodeToString(sum[:])[:16] + `"`, cache: cacheRevalidate}
	return s, nil
}

// MustNew is New for package initialisation; the embedded files are tested.
func MustNew() *Site {
	s, err := New()
	if err != nil {
		panic(err)
	}
	return s
}

// ServePage answers with the HTML page (conditional requests and HEAD included).
// Behind a proxy that names its path prefix in X-Forwarded-Prefix, the page
// carries <base href="PREFIX/">: the ingress forwards both /shop and /shop/ as
// "/", and at /shop (no slash) the page's relative URLs would otherwise resolve
// outside the prefix (/static/…, /buy).
func (s *Site) ServePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "X-Forwarded-Prefix")
	prefix, ok := ForwardedPrefix(r.Header.Get("X-Forwarded-Prefix"))
	if !ok {
		serve(w, r, "index.html", s.page)
		return
	}
	page := s.page
	page.body = bytes.Replace(page.body, []byte("<head>\n"), []byte("<head>\n<base href=\""+prefix+"/\">\n"), 1)
	sum := sha256.Sum256(page.body)
	page.etag = `"` + hex.EncodeToString(sum[:])[:16] + `"`
	serve(w, r, "index.html", page)
}

// maxPrefixLen bounds X-Forwarded-Prefix; real prefixes are a word or two.
const maxPrefixLen = 200

// ForwardedPrefix returns the path prefix a proxy named ("/shop/" and "/shop"
// both give "/shop") and whether it is one the page may use: absolute path
// segments of unreserved characters only, so it can neither leave the origin
// ("//host") nor break out of the attribute. The root ("/", "") is no prefix.
func ForwardedPrefix(h string) (string, bool) {
	h = strings.TrimRight(h, "/")
	if h == "" || len(h) > maxPrefixLen || h[0] != '/' {
		return "", false
	}
	for _, seg := range strings.Split(h[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", false
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
				return "", false
			}
		}
	}
	return h, true
}

// ServeAsset answers with the asset called name (the path below static/) and
// reports false, writing nothing, when there is none.
func (s *Site) ServeAsset(w http.ResponseWriter, r *http.Request, name string) bool {
	a, ok := s.assets[name]
	if !ok {
		return false
	}
	serve(w, r, name, a)
	return true
}

// AssetPath returns the page-relative, content-hashed URL path of a static asset
// ("static/app.<hash>.js"), or "" if there is none.
func (s *Site) AssetPath(name string) string {
	if h, ok := s.hashed[name]; ok {
		return "static/" + h
	}
	return ""
}

func serve(w http.ResponseWriter, r *http.Request, name string, a asset) {
	h := w.Header()
	SetSecurityHeaders(h)
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", a.cache)
	h.Set("ETag", a.etag)
	// ServeContent answers If-None-Match with 304, HEAD without a body and Range.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
