package oci

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseUser checks a numeric USER and gives it a group: "65532" becomes
// "65532:65532" like distroless' nonroot user. Names are refused because an
// image FROM scratch has no /etc/passwd to resolve them against and
// runAsNonRoot can only verify a number.
func ParseUser(s string) (string, error) {
	uid, gid, hasGroup := strings.Cut(s, ":")
	if !hasGroup {
		gid = uid
	}
	for _, id := range []string{uid, gid} {
		if _, err := strconv.ParseUint(id, 10, 32); err != nil {
			return "", fmt.Errorf("user %q: want a numeric UID or UID:GID", s)
		}
	}
	return uid + ":" + gid, nil
}
