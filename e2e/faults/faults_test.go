// Package faults is the fault test of `make test-faults`: both services as
// processes on the real Apache Kafka broker of kafka/local (SASL/SCRAM, the
// least-privileged service users) and FerretDB, under a load of concurrent
// clients, while cm-api is SIGKILLed, the broker and the MongoDB-wire server each
// stop for a while, and poison is written straight into the topic. Then it checks
// the delivery guarantees of DESIGN.md and prints the counts.
//
// It runs only with SHOP_FAULTS=1 and an external broker run by
// kafka/local/kafka-local.sh (the make target provides both). Knobs:
// SHOP_FAULTS_PURCHASES (at least this many purchases, 20000), SHOP_FAULTS_CLIENTS
// (concurrent clients, 50), SHOP_FAULTS_RATE (new purchases a second, 200),
// SHOP_FAULTS_USERS (200), SHOP_FAULTS_KILLS (5), SHOP_FAULTS_OUTAGE (10s),
// SHOP_FAULTS_SEED (random moments; printed, to replay a run), KAFKA_LOCAL_SCRIPT.
package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

// The exact words the services log when a dependency fails and recovers.
const (
	logProduceFailing   = "kafka produce failing"
	logProduceRecovered = "kafka produce recovered"
	logStoreFailing     = "mongodb write failing"
	logStoreRecovered   = "mongodb write recovered"
	logConsumerFailing  = "kafka consumer failing"
	logConsumerRecovery = "kafka consumer recovered"
)

type settings struct {
	purchases, clients, rate, users, kills int
	outage                                 time.Duration
	seed                                   uint64
}

func loadSettings(t *testing.T) settings {
	t.Helper()
	num := func(name string, def int) int {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q is not a positive whole number", name, v)
		}
		return n
	}
	s := settings{purchases: num("SHOP_FAULTS_PURCHASES", 20000), clients: num("SHOP_FAULTS_CLIENTS", 50),
		rate: num("SHOP_FAULTS_RATE", 200), users: num("SHOP_FAULTS_USERS", 200), kills: num("SHOP_FAULTS_KILLS", 5),
		outage: 10 * time.Second, seed: uint64(time.Now().UnixNano())}
	if v := os.Getenv("SHOP_FAULTS_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("SHOP_FAULTS_OUTAGE=%q is not a positive duration", v)
		}
		s.outage = d
	}
	if v := os.Getenv("SHOP_FAULTS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SHOP_FAULTS_SEED=%q is not a number", v)
		}
		s.seed = n
	}
	return s
}

// kafkaLocal runs kafka/local/kafka-local.sh, the script that runs the broker.
type kafkaLocal struct {
	t      *testing.T
	script string
}

func (k kafkaLocal) run(args ...string) error {
	out, err := exec.Command(k.script, args...).CombinedOutput()
	k.t.Logf("kafka-local.sh %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
	return err
}

func (k kafkaLocal) running() bool { return exec.Command(k.script, "status").Run() == nil }

// window is a span of time in which a fault was in effect.
type window struct {
	what     string
	from, to time.Time
}

// attempt is one HTTP request of a client and what came back.
type attempt struct {
	status     int // 0: no HTTP answer (connection error or timeout)
	err        string
	retryAfter string
	from, to   time.Time
}

// purchase is one buy a client wants done; it retries it with the same
// Idempotency-Key until it gets a 202.
type purchase struct {
	user, key string
	cents     int64
	attempts  []attempt
	id        string // from the 202
}

func (p *purchase) acked() bool { return p.id != "" }

func TestFaults(t *testing.T) {
	if os.Getenv("SHOP_FAULTS") == "" {
		t.Skip("the fault test runs with SHOP_FAULTS=1 against kafka/local: make test-faults")
	}
	if !testenv.External() {
		t.Fatal("the fault test needs the real broker of kafka/local: run make test-faults (it starts it and exports KAFKA_BROKERS)")
	}
	s := loadSettings(t)
	rng := rand.New(rand.NewPCG(s.seed, s.seed^0x5eed))
	script := os.Getenv("KAFKA_LOCAL_SCRIPT")
	if script == "" {
		script, _ = filepath.Abs("../../kafka/local/kafka-local.sh")
	}
	broker := kafkaLocal{t: t, script: script}
	if !broker.running() {
		t.Fatalf("%s status: the broker is not running; the fault test stops and starts it (make test-faults)", script)
	}
	t.Logf("seed %d (SHOP_FAULTS_SEED replays the same moments); %d+ purchases, %d clients, %d/s, %d users, %d kills, outages of %s",
		s.seed, s.purchases, s.clients, s.rate, s.users, s.kills, s.outage)
	began := time.Now()

	k, m := testenv.StartKafka(t), testenv.StartMongo(t)
	t.Cleanup(func() { // runs before the topics are deleted
		if !broker.running() {
			_ = broker.run("start-broker")
		}
	})
	api := newProc(t, "cm-api", testenv.Merge(k.APIEnv(), m.APIEnv(), map[string]string{
		"CM_API_AUTH_TOKEN": testenv.Token, "CM_API_CURSOR_KEY": testenv.CursorKey}))
	api.start()
	server := newProc(t, "cm-server", testenv.Merge(k.ServerEnv(), map[string]string{
		"CM_SERVER_CMAPI_URL": api.URL(), "CM_SERVER_CMAPI_TOKEN": testenv.Token}))
	server.start()
	waitReady(t, 60*time.Second, server, api)
	run := fmt.Sprintf("%x", rng.Uint32())

	// ---------------------------------------------------------------- load
	var (
		mu        sync.Mutex
		purchases []*purchase
		started   atomic.Int64
		faultsOff atomic.Bool
	)
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	tokens := pace(loadCtx, s.rate)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 2 * s.clients, MaxIdleConnsPerHost: 2 * s.clients, IdleConnTimeout: 30 * time.Second}}
	var clients sync.WaitGroup
	loadFrom := time.Now()
	for c := range s.clients {
		clients.Add(1)
		go func() {
			defer clients.Done()
			crng := rand.New(rand.NewPCG(s.seed, uint64(c)))
			for {
				if started.Load() >= int64(s.purchases) && faultsOff.Load() {
					return
				}
				select {
				case <-loadCtx.Done():
					return
				case <-tokens:
				}
				n := started.Add(1) - 1
				p := &purchase{user: fmt.Sprintf("f%s-u%03d", run, n%int64(s.users)), key: fmt.Sprintf("f%s-p%d", run, n),
					cents: 100 + n%99900}
				mu.Lock()
				purchases = append(purchases, p)
				mu.Unlock()
				buyUntilAcked(loadCtx, client, server.URL(), p, crng)
			}
		}()
	}

	// ---------------------------------------------------------------- faults
	var windows []window
	kills := 0
	kill := func(within time.Duration) {
		time.Sleep(time.Duration(rng.Int64N(int64(within))))
		from := time.Now()
		api.kill()
		kills++
		time.Sleep(time.Duration(rng.Int64N(int64(1500 * time.Millisecond))))
		api.start()
		windows = append(windows, window{fmt.Sprintf("cm-api SIGKILL #%d", kills), from, time.Now()})
	}
	var poison []poisonMsg
	sendPoison := func(when string) {
		batch := poisonBatch(t, run, len(poison))
		msgs := make([]kafka.Message, len(batch))
		for i, p := range batch {
			msgs[i] = p.msg
		}
		k.Produce(t, k.Topic, msgs...)
		poison = append(poison, batch...)
		t.Logf("%6.1fs  %d poison messages written to %s (%s)", since(loadFrom), len(batch), k.Topic, when)
	}
	step := func(format string, args ...any) {
		t.Logf("%6.1fs  %s (purchases started: %d)", since(loadFrom), fmt.Sprintf(format, args...), started.Load())
	}

	// The kills land at random moments between the outages, so that each
	// outage's log lines can be counted exactly; the first two and the last
	// ones fall on a busy consumer.
	early := max(1, s.kills*2/5)
	late := max(0, s.kills-early-1)
	time.Sleep(3 * time.Second)
	for range early {
		kill(8 * time.Second)
		step("cm-api SIGKILLed and restarted (#%d)", kills)
	}
	sendPoison("before the outages")
	time.Sleep(3 * time.Second)

	step("stopping the broker for %s", s.outage)
	from := time.Now()
	if err := broker.run("stop-broker"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(s.outage)
	if err := broker.run("start-broker"); err != nil {
		t.Fatal(err)
	}
	windows = append(windows, window{"broker down", from, time.Now()})
	step("broker serves again")
	waitReady(t, 90*time.Second, server, api)
	brokerOut := window{"broker outage", from, time.Now()}
	step("both services ready again")

	if s.kills > early {
		kill(6 * time.Second)
		step("cm-api SIGKILLed and restarted (#%d)", kills)
		waitReady(t, 60*time.Second, api)
	}

	step("stopping the MongoDB-wire server for %s", s.outage)
	from = time.Now()
	m.Stop(t)
	time.Sleep(s.outage / 2)
	sendPoison("with MongoDB down")
	time.Sleep(s.outage - s.outage/2)
	m.Start(t)
	windows = append(windows, window{"mongodb down", from, time.Now()})
	step("MongoDB-wire server serves again on the same address and data")
	waitReady(t, 90*time.Second, api)
	mongoOut := window{"mongodb outage", from, time.Now()}
	step("cm-api ready again")

	for range late {
		kill(6 * time.Second)
		step("cm-api SIGKILLed and restarted (#%d)", kills)
	}
	sendPoison("after the outages")
	faultsOff.Store(true)
	step("faults done; the load runs on until %d purchases", s.purchases)

	clients.Wait()
	loadTime := time.Since(loadFrom)
	step("load done")

	// ---------------------------------------------------------------- checks
	lag := waitLag(t, k, 5*time.Minute)
	step("consumer lag %d", lag)
	stored, storedTwice := readStored(t, m, "f"+run+"-")
	step("read %d stored purchases back from MongoDB", len(stored))

	var (
		acked, never, ok202                      int
		n503, n503NoRetryAfter, connErrs, others int
		during                                   = map[string]int{}
		ackedIDs                                 = map[string]*purchase{}
	)
	var otherSamples []string
	for _, p := range purchases {
		if p.acked() {
			acked++
			if prev, dup := ackedIDs[p.id]; dup {
				t.Errorf("purchases %s and %s got the same id %s", prev.key, p.key, p.id)
			}
			ackedIDs[p.id] = p
		} else {
			never++
		}
		for _, a := range p.attempts {
			switch {
			case a.status == http.StatusAccepted:
				ok202++
			case a.status == http.StatusServiceUnavailable:
				n503++
				if a.retryAfter == "" {
					n503NoRetryAfter++
				}
			case a.status == 0:
				connErrs++
			default:
				others++
				if len(otherSamples) < 5 {
					otherSamples = append(otherSamples, fmt.Sprintf("%s: %d %s", p.key, a.status, a.err))
				}
			}
			if a.status != http.StatusAccepted {
				outside := true
				for _, w := range windows {
					if a.from.Before(w.to) && a.to.After(w.from) {
						during[w.what]++
						outside = false
					}
				}
				if outside {
					during["outside"]++
				}
			}
		}
	}

	// Every 202 is stored, exactly once, for its user; nothing is stored that no
	// client asked for.
	missing, wrongUser, storedUnacked := 0, 0, 0
	for id, p := range ackedIDs {
		user, ok := stored[id]
		switch {
		case !ok:
			missing++
			if missing <= 5 {
				t.Errorf("purchase %s of %s was acknowledged (202, id %s) but is not stored", p.key, p.user, id)
			}
		case user != p.user:
			wrongUser++
			t.Errorf("purchase %s stored for %s, want %s", id, user, p.user)
		}
	}
	for id := range stored {
		if ackedIDs[id] == nil {
			storedUnacked++
		}
	}
	if storedUnacked > never {
		t.Errorf("%d stored purchases were never acknowledged, but only %d purchases went unacknowledged: something was stored that no client sent", storedUnacked, never)
	}
	if missing > 0 {
		t.Errorf("%d acknowledged purchases are not stored", missing)
	}
	if never > 0 {
		t.Errorf("%d purchases never got a 202 despite retries", never)
	}
	if others > 0 {
		t.Errorf("%d answers were neither 202 nor 503 nor a connection error, e.g. %v", others, otherSamples)
	}
	if n503NoRetryAfter > 0 {
		t.Errorf("%d answers were 503 without Retry-After", n503NoRetryAfter)
	}
	if len(purchases) < s.purchases {
		t.Errorf("only %d purchases were sent, want at least %d", len(purchases), s.purchases)
	}
	if kills < s.kills {
		t.Errorf("cm-api was killed %d times, want %d", kills, s.kills)
	}
	if lag != 0 {
		t.Errorf("consumer lag is %d, want 0", lag)
	}
	pagedUsers, pagedPurchases := checkPaging(t, api.URL(), stored, 5)
	step("paged through %d users' purchases on cm-api /buyList", pagedUsers)

	// Every poison message is in the DLQ with its reason.
	dlq := k.ReadAll(t, k.DLQTopic, len(poison), time.Minute)
	dlqFound, dlqDup := checkDLQ(t, k.Topic, poison, dlq)

	// Each outage is logged once when it starts and once when it ends: one
	// "failing" line in the outage (from the stop until the service is ready
	// again), one "recovered" line after it. The services are never restarted
	// during an outage, so nothing else may appear there; elsewhere a cm-api that
	// just started may meet a passing error (a partition leader moving after a
	// restart), logged once and recovered, at most once per incarnation.
	serverLogs, apiLogs := parseLogs(server.logs.String()), parseLogs(api.logs.String())
	// cm-api's two consumers each log a store outage; the projection meets it
	// only if it had a window to count meanwhile. A broker outage only the
	// purchases consumer logs (the projection's is at debug level).
	var purchaseLogs, projectionLogs []logLine
	for _, l := range apiLogs {
		if strings.Contains(l.raw, `"consumer":"summaries"`) {
			projectionLogs = append(projectionLogs, l)
		} else {
			purchaseLogs = append(purchaseLogs, l)
		}
	}
	grace := 30 * time.Second // a recovery is logged after a quiet spell
	type logCheck struct {
		who, line   string
		out         window
		inOutage    int // lines within the outage (recoveries: up to grace after it)
		total, most int // all lines, and the most allowed
		mayMiss     bool
	}
	checks := []logCheck{
		{who: "cm-server", line: logProduceFailing, out: brokerOut, most: 1},
		{who: "cm-server", line: logProduceRecovered, out: brokerOut, most: 1},
		{who: "cm-api", line: logConsumerFailing, out: brokerOut, most: 1 + api.starts - 1},
		{who: "cm-api", line: logConsumerRecovery, out: brokerOut, most: 1 + api.starts - 1},
		{who: "cm-api", line: logStoreFailing, out: mongoOut, most: 1 + api.starts - 1},
		{who: "cm-api", line: logStoreRecovered, out: mongoOut, most: 1 + api.starts - 1},
		{who: "cm-api summaries", line: logStoreFailing, out: mongoOut, most: 1 + api.starts - 1, mayMiss: true},
		{who: "cm-api summaries", line: logStoreRecovered, out: mongoOut, most: 1 + api.starts - 1, mayMiss: true},
	}
	for i := range checks {
		c := &checks[i]
		logs := map[string][]logLine{"cm-server": serverLogs, "cm-api": purchaseLogs, "cm-api summaries": projectionLogs}[c.who]
		var lines []string
		for _, l := range logs {
			if !strings.Contains(l.msg, c.line) {
				continue
			}
			c.total++
			lines = append(lines, l.raw)
			until := c.out.to
			if strings.Contains(c.line, "recovered") {
				until = until.Add(grace)
			}
			if !l.at.Before(c.out.from) && !l.at.After(until) {
				c.inOutage++
			}
		}
		if c.inOutage != 1 && !(c.mayMiss && c.inOutage == 0) || c.total > c.most {
			t.Errorf("%s logged %q %d times in the %s (want once) and %d times in all (at most %d):\n%s",
				c.who, c.line, c.inOutage, c.out.what, c.total, c.most, strings.Join(lines, "\n"))
		}
	}
	for _, pair := range [][2]int{{0, 1}, {2, 3}, {4, 5}, {6, 7}} {
		if f, r := checks[pair[0]], checks[pair[1]]; f.total != r.total {
			t.Errorf("%s logged %q %d times but %q %d times: every failure must end in a recovery", f.who, f.line, f.total, r.line, r.total)
		}
	}
	if !server.alive() {
		t.Error("cm-server died during the test")
	}
	if !api.alive() {
		t.Error("cm-api (last incarnation) died during the test")
	}
	for _, p := range []*proc{server, api} {
		if logs := p.logs.String(); strings.Contains(logs, "panic:") || strings.Contains(logs, "goroutine ") {
			t.Errorf("%s logged a panic or a stack trace", p.name)
		}
	}

	// ---------------------------------------------------------------- report
	var b strings.Builder
	fmt.Fprintf(&b, "\n=== fault test: counts (seed %d) ===\n", s.seed)
	row := func(k string, v any) { fmt.Fprintf(&b, "  %-44s %v\n", k, v) }
	row("purchases sent (distinct Idempotency-Keys)", len(purchases))
	row("purchases acknowledged (202)", acked)
	row("purchases never acknowledged", never)
	row("purchases stored (MongoDB, by _id)", len(stored))
	row("acknowledged but not stored", missing)
	row("stored but never acknowledged", storedUnacked)
	row("stored twice (same _id more than once)", storedTwice)
	fmt.Fprintf(&b, "  %-44s %d (of them %d paged through cm-api /buyList, %d users)\n", "purchases cross-checked via /buyList paging", pagedPurchases, pagedPurchases, pagedUsers)
	row("HTTP requests (with retries)", ok202+n503+connErrs+others)
	row("  202", ok202)
	row("  503 (all with Retry-After)", n503)
	row("  connection errors / timeouts", connErrs)
	row("  anything else", others)
	for _, w := range windows {
		fmt.Fprintf(&b, "  %-44s %d (%.1fs from %.1fs)\n", "  refused while "+w.what, during[w.what], w.to.Sub(w.from).Seconds(), w.from.Sub(loadFrom).Seconds())
	}
	row("  refused outside those windows", during["outside"])
	row("cm-api SIGKILLs (and restarts)", kills)
	row("poison messages written", len(poison))
	row("  found in the DLQ with their reason", dlqFound)
	row("  DLQ records in all (redelivered copies)", fmt.Sprintf("%d (%d)", len(dlq), dlqDup))
	row("consumer lag at the end", lag)
	for _, c := range checks {
		row(fmt.Sprintf("log lines %s %q", c.who, c.line), fmt.Sprintf("%d in the %s, %d in all", c.inOutage, c.out.what, c.total))
	}
	row("load", fmt.Sprintf("%.0fs, %.0f purchases/s acknowledged", loadTime.Seconds(), float64(acked)/loadTime.Seconds()))
	row("whole test", time.Since(began).Round(time.Second))
	t.Log(b.String())
}

func since(t0 time.Time) float64 { return time.Since(t0).Seconds() }

// pace hands out rate tokens a second.
func pace(ctx context.Context, rate int) <-chan struct{} {
	ch := make(chan struct{}, max(1, rate/10))
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var due float64
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for due += float64(rate) / 100; due >= 1; due-- {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	return ch
}

// buyUntilAcked sends p until it gets a 202, as a real client would: a 503 is
// retried after its Retry-After, a connection error after a short pause, with the
// same Idempotency-Key. Anything else is recorded and not retried.
func buyUntilAcked(ctx context.Context, client *http.Client, base string, p *purchase, rng *rand.Rand) {
	body, _ := json.Marshal(map[string]string{"userid": p.user, "username": "Fault " + p.user,
		"price": fmt.Sprintf("%d.%02d", p.cents/100, p.cents%100)})
	giveUp := time.Now().Add(3 * time.Minute)
	for {
		a := attempt{from: time.Now()}
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/buy", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", p.key)
		res, err := client.Do(req)
		if err != nil {
			a.err = err.Error()
		} else {
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			a.status, a.retryAfter = res.StatusCode, res.Header.Get("Retry-After")
			if res.StatusCode == http.StatusAccepted {
				var acc contract.BuyAccepted
				if err := json.Unmarshal(raw, &acc); err != nil || !contract.ValidPurchaseID(acc.ID) {
					a.status, a.err = -1, fmt.Sprintf("202 with body %s", raw)
				} else {
					p.id = acc.ID
				}
			} else if res.StatusCode != http.StatusServiceUnavailable {
				a.err = string(raw)
			}
		}
		a.to = time.Now()
		p.attempts = append(p.attempts, a)
		if p.acked() || a.status != 0 && a.status != http.StatusServiceUnavailable || time.Now().After(giveUp) || ctx.Err() != nil {
			return
		}
		wait := 500 * time.Millisecond
		if secs, err := strconv.Atoi(a.retryAfter); err == nil && secs > 0 {
			wait = time.Duration(secs) * time.Second
		}
		// Jitter, so that the clients do not come back in step.
		time.Sleep(wait/2 + time.Duration(rng.Int64N(int64(wait))))
	}
}

// waitReady waits until every process answers /readyz with 200 and reports
// every dependency up (readiness stays 200 while one is down).
func waitReady(t *testing.T, timeout time.Duration, ps ...*proc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, p := range ps {
		for !allUp(p.URL()) {
			if time.Now().After(deadline) {
				res, err := probe.Get(p.URL() + "/readyz")
				why := fmt.Sprint(err)
				if err == nil {
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					why = string(b)
				}
				t.Fatalf("%s not ready within %s: %s", p.name, timeout, why)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// poisonMsg is a record no consumer can store, and the reason it must be
// dead-lettered with.
type poisonMsg struct {
	msg    kafka.Message
	reason string
}

// poisonBatch returns one of each kind of poison, each made unique by n.
func poisonBatch(t *testing.T, run string, n int) []poisonMsg {
	t.Helper()
	key := []byte(fmt.Sprintf("f%s-poison", run))
	valid := func(i int) contract.Event {
		now := time.Now().UTC()
		return contract.NewEvent(fmt.Sprintf("01900000-0000-7000-8000-%012d", n+i),
			contract.Purchase{UserID: string(key), Username: "Poison", PriceCents: 100, Timestamp: now}, now)
	}
	invalid := valid(1)
	invalid.PriceCents = -5
	invalidJSON, _ := json.Marshal(invalid)
	future, _ := json.Marshal(valid(2))
	future = bytes.Replace(future, []byte(`"version":1`), []byte(`"version":99`), 1)
	if !bytes.Contains(future, []byte(`"version":99`)) {
		t.Fatalf("the event JSON has no version 1 field to replace: %s", future)
	}
	garbage := append([]byte{0xff, 0xfe, 0x00, 0x13}, []byte(fmt.Sprintf("garbage %s #%d", run, n))...)
	return []poisonMsg{
		{kafka.Message{Key: key, Value: garbage}, contract.ReasonMalformed},
		{kafka.Message{Key: key, Value: invalidJSON}, contract.ReasonInvalid},
		{kafka.Message{Key: key, Value: future}, contract.ReasonVersion},
	}
}

// checkDLQ finds every poison message in the DLQ records with its reason and
// provenance; it returns how many were found and how many copies were extra.
func checkDLQ(t *testing.T, topic string, poison []poisonMsg, dlq []kafka.Message) (found, extra int) {
	t.Helper()
	seen := map[string]int{}
	for _, d := range dlq {
		h := map[string]string{}
		for _, x := range d.Headers {
			h[x.Key] = string(x.Value)
		}
		for _, p := range poison {
			if !bytes.Equal(p.msg.Value, d.Value) {
				continue
			}
			seen[string(p.msg.Value)]++
			if h[contract.HeaderDLQReason] != p.reason {
				t.Errorf("DLQ record of a %s poison message has reason %q", p.reason, h[contract.HeaderDLQReason])
			}
			if h[contract.HeaderDLQError] == "" || h[contract.HeaderDLQTopic] != topic || h[contract.HeaderDLQOffset] == "" {
				t.Errorf("DLQ record of a %s poison message lacks its provenance: %v", p.reason, h)
			}
		}
	}
	for _, p := range poison {
		switch n := seen[string(p.msg.Value)]; {
		case n == 0:
			t.Errorf("a %s poison message is not in the DLQ", p.reason)
		default:
			found++
			extra += n - 1
		}
	}
	return found, extra
}

// waitLag waits until the group has committed every record of the topic and
// returns the remaining lag.
func waitLag(t *testing.T, k *testenv.Kafka, timeout time.Duration) int64 {
	t.Helper()
	conn := k.Conn(t)
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		lag, err := conn.GroupLag(ctx, k.Group, k.Topic)
		cancel()
		if err == nil && lag == 0 {
			return 0
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Errorf("consumer lag: %v", err)
			}
			return lag
		}
		time.Sleep(time.Second)
	}
}

// readStored returns the stored purchases of the run's users: purchase id (the
// document _id) to user id. A duplicate _id cannot be stored, so the map holds
// every stored purchase once; twice counts the documents whose _id came again.
func readStored(t *testing.T, m *testenv.Mongo, userPrefix string) (ids map[string]string, twice int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI(m.URI))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	cur, err := client.Database(m.Database).Collection("purchases").Find(ctx, bson.D{},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "userid", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID     string `bson:"_id"`
		UserID string `bson:"userid"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range docs {
		if !strings.HasPrefix(d.UserID, userPrefix) {
			continue
		}
		if _, dup := out[d.ID]; dup {
			twice++
			t.Errorf("purchase %s is stored twice", d.ID)
		}
		out[d.ID] = d.UserID
	}
	return out, twice
}

// checkPaging reads a few users' purchases through cm-api's /buyList, page by
// page, and compares them with what MongoDB holds.
func checkPaging(t *testing.T, base string, stored map[string]string, users int) (checkedUsers, checkedPurchases int) {
	t.Helper()
	lookup := &http.Client{Timeout: 30 * time.Second}
	byUser := map[string]map[string]bool{}
	for id, u := range stored {
		if byUser[u] == nil {
			byUser[u] = map[string]bool{}
		}
		byUser[u][id] = true
	}
	var names []string
	for u := range byUser {
		names = append(names, u)
	}
	sort.Strings(names)
	for i, u := range names {
		if i >= users {
			break
		}
		seen := map[string]bool{}
		cursor := ""
		for {
			url := base + "/buyList/" + u + "?limit=100"
			if cursor != "" {
				url += "&cursor=" + cursor
			}
			// FerretDB's SQLite backend scans the collection for every page (no
			// index but _id), which can outlast cm-api's MongoDB timeout: a 503
			// is retried a few times.
			var page contract.PurchasePage
			for try := 1; ; try++ {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+testenv.Token)
				res, err := lookup.Do(req)
				if err != nil {
					t.Fatalf("/buyList/%s: %v", u, err)
				}
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusServiceUnavailable && try < 5 {
					time.Sleep(time.Second)
					continue
				}
				if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &page) != nil {
					t.Fatalf("/buyList/%s: %d %s", u, res.StatusCode, raw)
				}
				break
			}
			for _, p := range page.Purchases {
				if seen[p.ID] {
					t.Errorf("/buyList/%s lists %s twice", u, p.ID)
				}
				seen[p.ID] = true
				if !byUser[u][p.ID] {
					t.Errorf("/buyList/%s lists %s, which MongoDB does not hold for the user", u, p.ID)
				}
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if len(seen) != len(byUser[u]) {
			t.Errorf("/buyList/%s pages through %d purchases, MongoDB holds %d", u, len(seen), len(byUser[u]))
		}
		checkedUsers++
		checkedPurchases += len(seen)
	}
	return checkedUsers, checkedPurchases
}

// logLine is a JSON log line of a service: when, what, and the line itself.
type logLine struct {
	at       time.Time
	msg, raw string
}

func parseLogs(logs string) []logLine {
	var out []logLine
	for _, raw := range strings.Split(logs, "\n") {
		var l struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal([]byte(raw), &l) == nil && l.Msg != "" {
			out = append(out, logLine{at: l.Time, msg: l.Msg, raw: raw})
		}
	}
	return out
}
