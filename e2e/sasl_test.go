package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/localstack/testenv"
)

// readyz returns the status and the checks of a /readyz answer.
func readyz(t *testing.T, base string) (int, map[string]string) {
	t.Helper()
	res, err := client.Get(base + "/readyz")
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("/readyz of %s answered %d without JSON: %v", base, res.StatusCode, err)
	}
	return res.StatusCode, body.Checks
}

// logLines returns the log lines that contain s.
func logLines(logs, s string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// A wrong SASL password must not crash or restart a service: it stays up, says why
// in /readyz, and logs the problem in one line, not one per retry. cm-server stays
// ready (buys answer 503, look-ups work), and so does cm-api (its look-ups need no Kafka).
func TestWrongKafkaPasswordKeepsTheServicesUpAndSaysWhy(t *testing.T) {
	needLocal(t)
	k, m := testenv.StartKafkaSASL(t), testenv.StartMongo(t)
	api := startProc(t, "cm-api", testenv.Merge(k.APIEnv(), m.APIEnv(), map[string]string{
		"CM_API_AUTH_TOKEN": testenv.Token, "CM_API_CURSOR_KEY": testenv.CursorKey, "CM_API_KAFKA_SASL_PASSWORD": "not-the-password"}))
	server := startProc(t, "cm-server", testenv.Merge(k.ServerEnv(), map[string]string{
		"CM_SERVER_CMAPI_URL": api.URL(), "CM_SERVER_CMAPI_TOKEN": testenv.Token,
		"CM_SERVER_KAFKA_SASL_PASSWORD": "not-the-password"}))
	started := time.Now()

	services := []struct {
		p            *proc
		check, user  string
		prefix, says string
		ready        int
	}{
		{server, "kafka", k.ServerUser, "CM_SERVER", "", http.StatusOK},
		{api, "kafka", k.APIUser, "CM_API", "", http.StatusOK},
	}
	for i, s := range services {
		testenv.WaitFor(t, 30*time.Second, s.p.name+" /readyz to name the refused login", func() bool {
			status, checks := readyz(t, s.p.URL())
			services[i].says = checks[s.check]
			return status == s.ready && strings.Contains(checks[s.check], "SASL")
		})
	}
	// Logged at start, before any buy comes along.
	for _, s := range services {
		testenv.WaitFor(t, 20*time.Second, s.p.name+" to log the refused login without traffic", func() bool {
			return len(logLines(s.p.logs.String(), "SASL")) > 0
		})
	}
	// Buys are refused as unavailable, and each one must not add a log line.
	for i := range 5 {
		if r := buy(server.URL(), "ada", "Ada", "1.00", time.Time{}, ""); r.Status != http.StatusServiceUnavailable || r.RetryAfter == "" {
			t.Fatalf("buy %d with a refused Kafka login: %+v, want 503 with Retry-After", i, r)
		}
	}
	// Long enough for several rounds of retries in both services.
	time.Sleep(time.Until(started.Add(12 * time.Second)))

	for _, s := range services {
		select {
		case err := <-s.p.exited:
			t.Fatalf("%s exited with a wrong password: %v\n%s", s.p.name, err, s.p.logs.String())
		default:
		}
		if st := status(s.p.URL() + "/healthz"); st != http.StatusOK {
			t.Errorf("%s /healthz %d: the process must stay live", s.p.name, st)
		}
		status, checks := readyz(t, s.p.URL())
		why := checks[s.check]
		if status != s.ready {
			t.Errorf("%s /readyz %d with a refused login, want %d: only /buy and the consumer need Kafka", s.p.name, status, s.ready)
		}
		for _, want := range []string{"refused the SASL login", `"` + s.user + `"`, "scram-sha-512",
			s.prefix + "_KAFKA_SASL_USERNAME", s.prefix + "_KAFKA_SASL_PASSWORD"} {
			if !strings.Contains(why, want) {
				t.Errorf("%s /readyz check %q = %q, want it to mention %s", s.p.name, s.check, why, want)
			}
		}
		logs := s.p.logs.String()
		if strings.Contains(logs, "not-the-password") {
			t.Errorf("%s logged the password", s.p.name)
		}
		for _, bad := range []string{"panic", "goroutine ", ".go:"} {
			if strings.Contains(logs, bad) {
				t.Errorf("%s logged %q (a crash or a stack trace):\n%s", s.p.name, bad, logs)
			}
		}
		sasl := logLines(logs, "SASL")
		if len(sasl) != 1 {
			t.Errorf("%s logged the refused login %d times, want once:\n%s", s.p.name, len(sasl), strings.Join(sasl, "\n"))
			continue
		}
		line := sasl[0]
		for _, want := range []string{`"level":"ERROR"`, "refused the SASL login", s.prefix + "_KAFKA_SASL_PASSWORD"} {
			if !strings.Contains(line, want) {
				t.Errorf("%s log line %s does not mention %s", s.p.name, line, want)
			}
		}
		if n := len(logLines(logs, `"level":"ERROR"`)); n != 1 {
			t.Errorf("%s logged %d errors, want the one line:\n%s", s.p.name, n, logs)
		}
		t.Logf("%s /readyz: %s", s.p.name, why)
		t.Logf("%s log: %s", s.p.name, line)
	}
}
