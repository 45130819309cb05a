package web

import (
	"strconv"
	"strings"
)

// PrefersHTML reports whether an Accept header ranks text/html strictly above
// application/json (RFC 9110 §12.5.1: the most specific matching range gives a
// type its quality). Browsers send "text/html,...,*/*;q=0.8" and get the page;
// API clients (application/json, */*, no Accept at all, anything unparseable)
// get JSON, and so does a tie.
func PrefersHTML(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return false
	}
	ranges := parseAccept(accept)
	return quality(ranges, "text", "html") > quality(ranges, "application", "json")
}

type mediaRange struct {
	typ, sub string
	q        float64
}

// parseAccept reads the header's media ranges, skipping malformed elements.
func parseAccept(accept string) []mediaRange {
	var out []mediaRange
	for _, elem := range strings.Split(accept, ",") {
		params := strings.Split(elem, ";")
		mt := strings.ToLower(strings.TrimSpace(params[0]))
		if mt == "*" { // old clients (Java's URLConnection) send a bare "*"
			mt = "*/*"
		}
		typ, sub, ok := strings.Cut(mt, "/")
		if !ok || typ == "" || sub == "" || (typ == "*" && sub != "*") {
			continue
		}
		m := mediaRange{typ: typ, sub: sub, q: 1}
		valid := true
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.ToLower(strings.TrimSpace(k)) != "q" {
				continue
			}
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || q < 0 || q > 1 {
				valid = false
				break
			}
			m.q = q
		}
		if valid {
			out = append(out, m)
		}
	}
	return out
}

// quality is the q of the most specific range matching typ/sub (0 if none does);
// among equally specific ranges the highest q wins.
func quality(ranges []mediaRange, typ, sub string) float64 {
	best, bestSpec := 0.0, 0
	for _, m := range ranges {
		spec := 0
		switch {
		case m.typ == typ && m.sub == sub:
			spec = 3
		case m.typ == typ && m.sub == "*":
			spec = 2
		case m.typ == "*" && m.sub == "*":
			spec = 1
		default:
			continue
		}
		if spec > bestSpec || spec == bestSpec && m.q > best {
			best, bestSpec = m.q, spec
		}
	}
	return best
}
