package cmserver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

// startServer runs cm-server on a real (embedded or external) broker. cm-api is
// absent: nothing here reaches it.
func startServer(t *testing.T) (*testenv.Service, *testenv.Kafka) {
	t.Helper()
	k := testenv.StartKafka(t)
	srv := testenv.RunServer(t, testenv.Merge(k.ServerEnv(), map[string]string{"CM_SERVER_CMAPI_URL": "http://127.0.0.1:1"}))
	return srv, k
}

func TestBadInputIsRefusedAndProducesNothing(t *testing.T) {
	srv, k := startServer(t)
	long := strings.Repeat("a", 65)
	valid := `{"username":"Ada","userid":"ada","price":"1.00"}`
	cases := []struct {
		name, method, path, contentType, body string
		header                                map[string]string
		status                                int
		code, field                           string
	}{
		{name: "malformed JSON", body: `{"username":`, status: 400, code: contract.EInvalid},
		{name: "not an object", body: `[1,2]`, status: 400, code: contract.EInvalid},
		{name: "two objects", body: valid + valid, status: 400, code: contract.EInvalid},
		{name: "empty body", body: ``, status: 400, code: contract.EInvalid},
		{name: "body over 64 KiB", body: `{"username":"` + strings.Repeat("a", 70000) + `"}`, status: 413, code: contract.ETooLarge},
		{name: "wrong content type", contentType: "text/plain", body: valid, status: 415, code: contract.EUnsupportedMedia},
		{name: "no content type", contentType: "-", body: valid, status: 415, code: contract.EUnsupportedMedia},
		{name: "unknown field", body: `{"username":"Ada","userid":"ada","price":"1.00","admin":true}`, status: 400, code: contract.EInvalid, field: "admin"},
		{name: "missing userid", body: `{"username":"Ada","price":"1.00"}`, status: 400, code: contract.EInvalid, field: "userid"},
		{name: "missing username", body: `{"userid":"ada","price":"1.00"}`, status: 400, code: contract.EInvalid, field: "username"},
		{name: "missing price", body: `{"username":"Ada","userid":"ada"}`, status: 400, code: contract.EInvalid, field: "price"},
		{name: "empty username", body: `{"username":"","userid":"ada","price":"1.00"}`, status: 400, code: contract.EInvalid, field: "username"},
		{name: "long username", body: `{"username":"` + strings.Repeat("é", 101) + `","userid":"ada","price":"1.00"}`, status: 400, code: contract.EInvalid, field: "username"},
		{name: "control char username", body: `{"username":"Ada\u0007","userid":"ada","price":"1.00"}`, status: 400, code: contract.EInvalid, field: "username"},
		{name: "empty userid", body: `{"username":"Ada","userid":"","price":"1.00"}`, status: 400, code: contract.EInvalid, field: "userid"},
		{name: "long userid", body: `{"username":"Ada","userid":"` + long + `","price":"1.00"}`, status: 400, code: contract.EInvalid, field: "userid"},
		{name: "control char userid", body: `{"username":"Ada","userid":"a\nb","price":"1.00"}`, status: 400, code: contract.EInvalid, field: "userid"},
		{name: "invalid UTF-8", body: "{\"username\":\"A\xff\xfe\",\"userid\":\"ada\",\"price\":\"1.00\"}", status: 400, code: contract.EInvalid},
		{name: "zero price", body: `{"username":"Ada","userid":"ada","price":0}`, status: 400, code: contract.EInvalid, field: "price"},
		{name: "negative price", body: `{"username":"Ada","userid":"ada","price":-5}`, status: 400, code: contract.EInvalid, field: "price"},
		{name: "price not a number", body: `{"username":"Ada","userid":"ada","price":"cheap"}`, status: 400, code: contract.EInvalid, field: "price"},
		{name: "price NaN", body: `{"username":"Ada","userid":"ada","price":"NaN"}`, status: 400, code: contract.EInvalid, field: "price"},
		{name: "price bare NaN", body: `{"username":"Ada","userid":"ada","price":NaN}`, status: 400, code: contract.EInvalid},
		{name: "price exponent", body: `{"username":"Ada","userid":"ada","price":1e3}`, status: 400, code: contract.EInvalid, field: "price"},
		{name: "price 3 decimals", body: `{"username":"Ada","userid":"ada","price":"1.005"}`, status: 400, code: contract.EInvalid, field: "price"},
		{name: "price absurd", body: `{"username":"Ada","userid":"ada","price":99999999999999999999999}`, status: 400, code: contract.EInvalid, field: "price"},
		{name: "bad timestamp", body: `{"username":"Ada","userid":"ada","price":"1.00","timestamp":"yesterday"}`, status: 400, code: contract.EInvalid, field: "timestamp"},
		{name: "bad idempotency key", body: valid, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}, status: 400, code: contract.EInvalid, field: "Idempotency-Key"},
		{name: "limit not a number", method: "GET", path: "/getAllUserBuys/ada?limit=ten", status: 400, code: contract.EInvalid, field: "limit"},
		{name: "limit zero", method: "GET", path: "/getAllUserBuys/ada?limit=0", status: 400, code: contract.EInvalid, field: "limit"},
		{name: "limit too large", method: "GET", path: "/getAllUserBuys/ada?limit=101", status: 400, code: contract.EInvalid, field: "limit"},
		{name: "cursor with bad characters", method: "GET", path: "/getAllUserBuys/ada?cursor=%3Cscript%3E", status: 400, code: contract.EInvalid, field: "cursor"},
		{name: "bad userid in path", method: "GET", path: "/getAllUserBuys/a%20b", status: 400, code: contract.EInvalid, field: "userid"},
		{name: "unknown route", method: "GET", path: "/nope", status: 404, code: contract.ENotFound},
		{name: "wrong method", method: "GET", path: "/buy", status: 405, code: contract.EMethodNotAllowed},
		{name: "wrong method on lookup", method: "DELETE", path: "/getAllUserBuys/ada", status: 405, code: contract.EMethodNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method, path, ct := tc.method, tc.path, tc.contentType
			if method == "" {
				method, path = "POST", "/buy"
			}
			if ct == "" {
				ct = "application/json"
			}
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(tc.body))
			if ct != "-" {
				req.Header.Set("Content-Type", ct)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := decodeError(t, res)
			if res.StatusCode != tc.status || body.Error.Code != tc.code {
				t.Fatalf("got %d %+v, want %d %s", res.StatusCode, body, tc.status, tc.code)
			}
			if body.Error.Message == "" {
				t.Error("error without a message")
			}
			if tc.field != "" && !hasField(body, tc.field) {
				t.Errorf("error does not name field %q: %+v", tc.field, body)
			}
		})
	}
	if n := k.EndOffsets(t, k.Topic); n != 0 {
		t.Fatalf("bad requests produced %d records", n)
	}
}

func decodeError(t *testing.T, res *http.Response) contract.ErrorBody {
	t.Helper()
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("status %d with Content-Type %q, want application/json", res.StatusCode, ct)
	}
	var b contract.ErrorBody
	dec := json.NewDecoder(res.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("error body is not the contract's JSON: %v", err)
	}
	return b
}

func hasField(b contract.ErrorBody, field string) bool {
	for _, f := range b.Error.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

func TestBuyIsAcknowledgedOnlyOnceOnTheTopic(t *testing.T) {
	srv, k := startServer(t)
	id := buy(t, srv.URL, `{"username":"Ada Lovelace","userid":"ada","price":"12.50","timestamp":"2026-01-02T03:04:05.678+01:00"}`, "")
	msgs := k.ReadAll(t, k.Topic, 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("topic holds %d records, want 1", len(msgs))
	}
	m := msgs[0]
	if string(m.Key) != "ada" {
		t.Errorf("key %q, want the user id", m.Key)
	}
	e, err := contract.DecodeEvent(m.Value)
	if err != nil {
		t.Fatalf("the event on the topic does not decode: %v", err)
	}
	want := time.Date(2026, 1, 2, 2, 4, 5, 678e6, time.UTC)
	if e.ID != id || e.PriceCents != 1250 || e.UserID != "ada" || e.Username != "Ada Lovelace" || !e.Timestamp.Equal(want) {
		t.Errorf("event %+v does not match the request (id %s)", e, id)
	}
	var ct string
	for _, h := range m.Headers {
		if h.Key == contract.HeaderContentType {
			ct = string(h.Value)
		}
	}
	if ct != contract.EventContentType {
		t.Errorf("content-type header %q", ct)
	}
}

func TestIdempotencyKeyGivesTheSameID(t *testing.T) {
	srv, _ := startServer(t)
	body := `{"username":"Ada","userid":"ada","price":"1.00"}`
	a := buy(t, srv.URL, body, "order-42")
	b := buy(t, srv.URL, body, "order-42")
	c := buy(t, srv.URL, body, "order-43")
	d := buy(t, srv.URL, body, "")
	if a != b {
		t.Errorf("same key gave ids %s and %s", a, b)
	}
	if a == c || a == d || c == d {
		t.Errorf("different keys share an id: %s %s %s", a, c, d)
	}
	other := buy(t, srv.URL, `{"username":"Bob","userid":"bob","price":"1.00"}`, "order-42")
	if other == a {
		t.Error("the same key of another user gave the same id")
	}
}

func TestBuyAnswers503WhenKafkaIsDown(t *testing.T) {
	if testenv.External() {
		t.Skip("stops the embedded broker")
	}
	srv, k := startServer(t)
	buy(t, srv.URL, `{"username":"Ada","userid":"ada","price":"1.00"}`, "")
	k.Stop(t)
	res := post(t, srv.URL, `{"username":"Ada","userid":"ada","price":"2.00"}`, "")
	body := decodeError(t, res)
	if res.StatusCode != http.StatusServiceUnavailable || body.Error.Code != contract.EUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("with Kafka down got %d %+v Retry-After=%q", res.StatusCode, body, res.Header.Get("Retry-After"))
	}
	r, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	_ = json.NewDecoder(r.Body).Decode(&ready)
	r.Body.Close()
	if r.StatusCode != http.StatusOK || ready.Status != "degraded" || ready.Checks["kafka"] == "ok" {
		t.Errorf("/readyz %d %+v with Kafka down, want 200 degraded: only /buy needs Kafka", r.StatusCode, ready)
	}
	k.Start(t)
	testenv.WaitFor(t, 30*time.Second, "a buy to succeed again", func() bool {
		res := post(t, srv.URL, `{"username":"Ada","userid":"ada","price":"3.00"}`, "")
		res.Body.Close()
		return res.StatusCode == http.StatusAccepted
	})
	if n := srv.Logs.Count("kafka produce failing"); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}
}

func post(t *testing.T, base, body, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/buy", bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func buy(t *testing.T, base, body, key string) string {
	t.Helper()
	res := post(t, base, body, key)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("buy: %d %s", res.StatusCode, b)
	}
	var acc contract.BuyAccepted
	if err := json.Unmarshal(b, &acc); err != nil || !contract.ValidPurchaseID(acc.ID) || acc.Status != "accepted" {
		t.Fatalf("buy answered %s", b)
	}
	return acc.ID
}

func TestHeadIsAnsweredLikeGet(t *testing.T) {
	srv, _ := startServer(t)
	for _, path := range []string{"/", "/healthz"} {
		res, err := http.Head(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || len(b) != 0 || res.Header.Get("Content-Type") == "" {
			t.Errorf("HEAD %s: %d, %d body bytes, Content-Type %q", path, res.StatusCode, len(b), res.Header.Get("Content-Type"))
		}
	}
}
