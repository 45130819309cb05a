package cmserver_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/scalable-shop/shop/localstack/testenv"
)

func swapFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".new", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// TestServiceTokenRotationEndToEnd rotates the token of cm-server → cm-api
// while both run: cm-api takes the new token and keeps the old one for its
// grace, cm-server switches to the new one, and look-ups never fail; once the
// grace is over the old token is refused, and cm-server still gets answers.
func TestServiceTokenRotationEndToEnd(t *testing.T) {
	dir := t.TempDir()
	apiFile, serverFile := filepath.Join(dir, "auth-token"), filepath.Join(dir, "cmapi-token")
	swapFile(t, apiFile, "token-one-0123456789")
	swapFile(t, serverFile, "token-one-0123456789")
	k, m := testenv.StartKafka(t), testenv.StartMongo(t)
	api := testenv.RunAPI(t, testenv.Merge(k.APIEnv(), m.APIEnv(), map[string]string{
		"CM_API_AUTH_TOKEN": "", "CM_API_AUTH_TOKEN_FILE": apiFile, "CM_API_AUTH_TOKEN_GRACE": "3s"}))
	srv := testenv.RunServer(t, testenv.Merge(k.ServerEnv(), map[string]string{
		"CM_SERVER_CMAPI_URL": api.URL, "CM_SERVER_CMAPI_TOKEN": "", "CM_SERVER_CMAPI_TOKEN_FILE": serverFile}))

	lookup := func() int {
		res, err := http.Get(srv.URL + "/getAllUserBuys/ada")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	direct := func(token string) int {
		req, _ := http.NewRequest("GET", api.URL+"/buyList/ada", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := lookup(); got != 200 {
		t.Fatalf("look-up before the rotation: %d", got)
	}

	// cm-api's copy of the Secret is updated first, cm-server's a moment later,
	// as the kubelet would do on two nodes.
	swapFile(t, apiFile, "token-two-0123456789")
	testenv.WaitFor(t, 5*time.Second, "cm-api to take the new token", func() bool { return direct("token-two-0123456789") == 200 })
	if got := lookup(); got != 200 {
		t.Errorf("look-up with the old token inside cm-api's grace: %d", got)
	}
	swapFile(t, serverFile, "token-two-0123456789")
	testenv.WaitFor(t, 10*time.Second, "the old token to be refused", func() bool { return direct("token-one-0123456789") == 401 })
	if got := lookup(); got != 200 {
		t.Errorf("look-up after the grace: %d (cm-server did not re-read its token file)", got)
	}
	if n := srv.Logs.Count("cm-api token file changed"); n != 1 {
		t.Errorf("cm-server logged the change %d times, want 1", n)
	}
}
