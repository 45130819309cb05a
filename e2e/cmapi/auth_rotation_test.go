package cmapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/scalable-shop/shop/localstack/testenv"
)

// replaceFile swaps path's content the way the kubelet updates a Secret volume:
// a new file renamed over the old name.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func status(t *testing.T, url, token string) int {
	t.Helper()
	s, _, _ := get(t, url, token)
	return s
}

// TestServiceTokenRotatesWithoutRestart: cm-api re-reads auth.token_file while
// running; a token removed from the file is accepted for auth.token_grace, then
// refused; the new one is accepted throughout.
func TestServiceTokenRotatesWithoutRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "auth-token")
	if err := os.WriteFile(file, []byte("old-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startAPI(t, map[string]string{"CM_API_AUTH_TOKEN": "", "CM_API_AUTH_TOKEN_FILE": file, "CM_API_AUTH_TOKEN_GRACE": "4s"})
	url := s.api.URL + "/buyList/ada"
	if got := status(t, url, "old-token-0123456789"); got != http.StatusOK {
		t.Fatalf("the token of the file: %d", got)
	}
	if got := status(t, url, testenv.Token); got != http.StatusUnauthorized {
		t.Fatalf("a token not in the file: %d", got)
	}

	replaceFile(t, file, "new-token-0123456789\n")
	testenv.WaitFor(t, 5*time.Second, "the new token accepted", func() bool {
		return status(t, url, "new-token-0123456789") == http.StatusOK
	})
	rotated := time.Now()
	if got := status(t, url, "old-token-0123456789"); got != http.StatusOK && time.Since(rotated) < 3*time.Second {
		t.Errorf("the old token within its grace: %d, want 200", got)
	}
	testenv.WaitFor(t, 10*time.Second, "the old token refused after the grace", func() bool {
		return status(t, url, "old-token-0123456789") == http.StatusUnauthorized
	})
	if d := time.Since(rotated); d < 3*time.Second {
		t.Errorf("the old token was refused %s after the rotation, before its 4 s grace", d)
	}
	if got := status(t, url, "new-token-0123456789"); got != http.StatusOK {
		t.Errorf("the new token after the grace: %d", got)
	}
	if n := s.api.Logs.Count("service token file changed"); n != 1 {
		t.Errorf("%d log lines about the change, want 1", n)
	}

	// Several tokens at once (one per line) are all accepted: a rotation can add
	// the next token before cm-server switches to it.
	replaceFile(t, file, "# rotation\nnext-token-0123456789\nnew-token-0123456789\n")
	testenv.WaitFor(t, 5*time.Second, "both lines accepted", func() bool {
		return status(t, url, "next-token-0123456789") == http.StatusOK && status(t, url, "new-token-0123456789") == http.StatusOK
	})
	if got := status(t, url, "# rotation"); got != http.StatusUnauthorized {
		t.Errorf("a comment line is a token: %d", got)
	}

	// An emptied file (a writer caught half-way) keeps the last tokens.
	replaceFile(t, file, "")
	time.Sleep(1500 * time.Millisecond)
	if got := status(t, url, "next-token-0123456789"); got != http.StatusOK {
		t.Errorf("after the file was emptied: %d, want the last tokens kept", got)
	}
}
