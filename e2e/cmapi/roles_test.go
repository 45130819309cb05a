package cmapi_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

// The two roles of one binary split the work: role api answers look-ups and
// consumes nothing, role consumer stores what is produced and serves no
// look-up. Together, on one store, they are the whole of cm-api.
func TestRolesSplitLookupsAndTheConsumer(t *testing.T) {
	k, m := testenv.StartKafka(t), testenv.StartMongo(t)
	api := testenv.RunAPI(t, testenv.Merge(k.APIEnv(), m.APIEnv(), map[string]string{"CM_API_ROLE": "api"}))
	s := stack{api: api, kafka: k, mongo: m}

	k.Produce(t, k.Topic, record(event("rio", 100, time.Now())))
	// Time for a consumer to pick it up, if the api role ran one.
	time.Sleep(3 * time.Second)
	if status, page, eb := get(t, api.URL+"/buyList/rio", testenv.Token); status != 200 || len(page.Purchases) != 0 {
		t.Fatalf("role api: look-up %d %+v %+v, want 200 and nothing stored (it runs no consumer)", status, page, eb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The group has never had a member: the broker does not know it at all.
	if lag, err := k.Conn(t).GroupLag(ctx, k.Group, k.Topic); !errors.Is(err, kafka.GroupIdNotFound) && (err != nil || lag != 1) {
		t.Fatalf("role api: group lag %d (%v), want the group unknown or the 1 record left unconsumed", lag, err)
	}
	r := probe(t, api.URL+"/readyz")
	if _, has := r.Checks["consumer"]; r.code != 200 || r.Role != "api" || has || r.Checks["kafka"] != "" {
		t.Fatalf("role api /readyz: %+v, want 200 with role api and no kafka or consumer check", r)
	}

	consumer := testenv.RunAPI(t, testenv.Merge(k.APIEnv(), m.APIEnv(), map[string]string{
		"CM_API_ROLE": "consumer", "CM_API_CURSOR_KEY": "", "CM_API_AUTH_TOKEN": ""}))
	waitStored(t, s, "rio", 1) // through role api: the consumer stored it
	for _, path := range []string{"/buyList/rio", "/users/rio", "/openapi.yaml"} {
		req, _ := http.NewRequest("GET", consumer.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+testenv.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("role consumer GET %s: %d, want 404 (it serves only probes and metrics)", path, res.StatusCode)
		}
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		res, err := http.Get(consumer.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("role consumer GET %s: %d, want 200", path, res.StatusCode)
		}
	}
	testenv.WaitFor(t, 20*time.Second, "role consumer /readyz to report every check ok", func() bool {
		r := probe(t, consumer.URL+"/readyz")
		return r.code == 200 && r.Role == "consumer" && r.Status == "ok" && r.Checks["kafka"] == "ok" && r.Checks["consumer"] == "ok"
	})
}

// Cursors are signed with a key of their own, shared by every pod: a cursor of
// one pod pages on another, one signed with the previous key still pages after
// a rotation, and one of any other key is refused.
func TestCursorsOfThePreviousKeyPageOnAnotherPod(t *testing.T) {
	k, m := testenv.StartKafka(t), testenv.StartMongo(t)
	testenv.RunAPI(t, testenv.Merge(k.APIEnv(), m.APIEnv(), map[string]string{"CM_API_ROLE": "consumer"}))
	pod := func(env map[string]string) *testenv.Service {
		return testenv.RunAPI(t, testenv.Merge(m.APIEnv(), map[string]string{"CM_API_ROLE": "api"}, env))
	}
	old := pod(map[string]string{"CM_API_CURSOR_KEY": "key-one"})
	rotated := pod(map[string]string{"CM_API_CURSOR_KEY": "key-two", "CM_API_CURSOR_PREVIOUS_KEY": "key-one"})
	foreign := pod(map[string]string{"CM_API_CURSOR_KEY": "key-three"})

	produceUser(t, k, "kim", 4)
	s := stack{api: old, kafka: k, mongo: m}
	waitStored(t, s, "kim", 4)

	cursorOf := func(p *testenv.Service) string {
		_, page, _ := get(t, p.URL+"/buyList/kim?limit=2", testenv.Token)
		if page.NextCursor == "" {
			t.Fatalf("no next cursor from %s", p.URL)
		}
		return page.NextCursor
	}
	pages := func(p *testenv.Service, cursor string) (int, contract.ErrorBody) {
		status, _, eb := get(t, p.URL+"/buyList/kim?limit=2&cursor="+cursor, testenv.Token)
		return status, eb
	}
	if status, eb := pages(rotated, cursorOf(old)); status != 200 {
		t.Errorf("cursor of the previous key on the rotated pod: %d %+v, want 200", status, eb)
	}
	if status, eb := pages(rotated, cursorOf(rotated)); status != 200 {
		t.Errorf("cursor of the new key on the rotated pod: %d %+v, want 200", status, eb)
	}
	if status, eb := pages(rotated, cursorOf(foreign)); status != 400 || eb.Error.Code != contract.EInvalid {
		t.Errorf("cursor of another key (forged): %d %+v, want 400", status, eb)
	}
}

// Rotating the key files of a running pod needs no restart: afterwards cursors
// of the old and of the new key both page.
func TestCursorKeyFileRotationWithoutRestart(t *testing.T) {
	k, m := testenv.StartKafka(t), testenv.StartMongo(t)
	dir := t.TempDir()
	keyFile, prevFile := filepath.Join(dir, "cursor-key"), filepath.Join(dir, "cursor-previous-key")
	swap(t, keyFile, "key-one")
	swap(t, prevFile, "key-one") // no earlier key yet: the same one
	api := testenv.RunAPI(t, testenv.Merge(k.APIEnv(), m.APIEnv(), map[string]string{
		"CM_API_CURSOR_KEY": "", "CM_API_CURSOR_KEY_FILE": keyFile, "CM_API_CURSOR_PREVIOUS_KEY_FILE": prevFile}))
	s := stack{api: api, kafka: k, mongo: m}
	produceUser(t, k, "lou", 4)
	waitStored(t, s, "lou", 4)
	next := func() string {
		_, page, _ := get(t, api.URL+"/buyList/lou?limit=2", testenv.Token)
		return page.NextCursor
	}
	before := next()

	swap(t, prevFile, "key-one")
	swap(t, keyFile, "key-two")
	var after string
	testenv.WaitFor(t, 20*time.Second, "cursors signed with the new key", func() bool {
		after = next()
		return after != "" && after != before
	})
	for name, c := range map[string]string{"old key": before, "new key": after} {
		if status, _, eb := get(t, api.URL+"/buyList/lou?limit=2&cursor="+c, testenv.Token); status != 200 {
			t.Errorf("cursor of the %s after the rotation: %d %+v, want 200", name, status, eb)
		}
	}
}

func produceUser(t *testing.T, k *testenv.Kafka, user string, n int) {
	t.Helper()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		k.Produce(t, k.Topic, record(event(user, int64(100+i), base.Add(time.Duration(i)*time.Minute))))
	}
}

// swap replaces a file the way Kubernetes updates a Secret volume: a new file
// renamed over the old one.
func swap(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".new", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}
