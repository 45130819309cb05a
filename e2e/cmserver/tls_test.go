package cmserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

// readiness fetches /readyz: its status code and checks.
func readiness(t *testing.T, s *testenv.Service) (int, map[string]string) {
	t.Helper()
	res, err := s.Client.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer res.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("/readyz body: %v", err)
	}
	return res.StatusCode, body.Checks
}

func allOK(checks map[string]string) bool {
	for _, v := range checks {
		if v != "ok" {
			return false
		}
	}
	return len(checks) > 0
}

// TestBuyOverTLSEverywhere: a buy goes over HTTPS into cm-server, over mutual
// TLS to the broker, from the broker over mutual TLS into cm-api, over mutual
// TLS into FerretDB, and comes back through cm-api's HTTPS; every certificate is
// of a CA made here.
func TestBuyOverTLSEverywhere(t *testing.T) {
	ca := testenv.NewCA(t, "shop")
	k := testenv.StartKafkaTLS(t, ca, true)
	m := testenv.StartMongoTLS(t, ca, true)
	if !strings.Contains(m.URI, "tls=true") {
		t.Fatalf("FerretDB URI %s does not ask for TLS", m.URI)
	}
	api := testenv.RunAPITLS(t, ca, testenv.Merge(k.APIEnv(), m.APIEnv()))
	srv := testenv.RunServerTLS(t, ca, testenv.Merge(k.ServerEnv(), map[string]string{
		"CM_SERVER_CMAPI_URL": api.URL, "CM_SERVER_CMAPI_CA_FILE": ca.CertFile}))
	if !strings.HasPrefix(srv.URL, "https://") || !strings.HasPrefix(api.URL, "https://") {
		t.Fatalf("services not on HTTPS: %s %s", srv.URL, api.URL)
	}

	testenv.WaitFor(t, 30*time.Second, "both services ready over TLS", func() bool {
		s1, c1 := readiness(t, srv)
		s2, c2 := readiness(t, api)
		return s1 == 200 && s2 == 200 && allOK(c1) && allOK(c2)
	})

	res, err := srv.Client.Post(srv.URL+"/buy", "application/json",
		strings.NewReader(`{"username":"Ada","userid":"ada","price":"12.50"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /buy over TLS: %d", res.StatusCode)
	}
	if got := res.Header.Get("Strict-Transport-Security"); got == "" {
		t.Error("an answer over TLS has no Strict-Transport-Security")
	}

	testenv.WaitFor(t, 30*time.Second, "the purchase through cm-api over TLS", func() bool {
		res, err := srv.Client.Get(srv.URL + "/getAllUserBuys/ada")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var page contract.PurchasePage
		return res.StatusCode == 200 && json.NewDecoder(res.Body).Decode(&page) == nil && len(page.Purchases) == 1 &&
			page.Purchases[0].Price == "12.50"
	})

	// Plain HTTP to an HTTPS listener is refused, not served.
	if res, err := http.Get(strings.Replace(srv.URL, "https://", "http://", 1) + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Error("cm-server answered plain HTTP on its HTTPS port")
		}
	}
}

// TestWrongCAIsExplainedInReadyz: certificates of a CA the client does not trust
// show in readiness's checks with the reason and the setting to fix (cm-server
// stays ready: the broken dependencies take their routes with them, not the pod).
func TestWrongCAIsExplainedInReadyz(t *testing.T) {
	ca, other := testenv.NewCA(t, "shop"), testenv.NewCA(t, "other")
	k := testenv.StartKafkaTLS(t, ca, false)
	m := testenv.StartMongoTLS(t, ca, false)
	api := testenv.RunAPITLS(t, ca, testenv.Merge(k.APIEnv(), m.APIEnv(), map[string]string{
		"CM_API_MONGO_TLS_CA_FILE": other.CertFile, "CM_API_MONGO_TIMEOUT": "1s"}))
	srv := testenv.RunServer(t, testenv.Merge(k.ServerEnv(), map[string]string{
		"CM_SERVER_KAFKA_TLS_CA_FILE": other.CertFile,
		"CM_SERVER_CMAPI_URL":         api.URL, "CM_SERVER_CMAPI_CA_FILE": other.CertFile}))

	status, checks := readiness(t, srv)
	if status != http.StatusOK {
		t.Fatalf("cm-server /readyz = %d with untrusted certificates, checks %v; want 200 reporting them", status, checks)
	}
	for check, want := range map[string][]string{
		"kafka": {"certificate", "CM_SERVER_KAFKA_TLS_CA_FILE"},
		"cmapi": {"certificate", "CM_SERVER_CMAPI_CA_FILE"},
	} {
		for _, w := range want {
			if !strings.Contains(checks[check], w) {
				t.Errorf("cm-server /readyz check %s = %q, want it to mention %q", check, checks[check], w)
			}
		}
	}

	testenv.WaitFor(t, 20*time.Second, "cm-api to report mongodb failing", func() bool {
		_, checks = readiness(t, api)
		return checks["mongodb"] != "" && checks["mongodb"] != "ok"
	})
	for _, w := range []string{"certificate", "CM_API_MONGO_TLS_CA_FILE"} {
		if !strings.Contains(checks["mongodb"], w) {
			t.Errorf("cm-api /readyz check mongodb = %q, want it to mention %q", checks["mongodb"], w)
		}
	}
}
