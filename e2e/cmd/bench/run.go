package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/e2e/load"
)

const token = "bench-service-token"

// bench is one run: the stack, the settings and everything measured.
type bench struct {
	sc        scale
	k         kafkaSetup
	lag       *lagger
	pgURL     string
	sqliteDir string // instead of pgURL: FerretDB on SQLite as make run, the embedded stack
	binDir    string
	outDir    string
	logDir    string
	profile   bool
	self      string // this executable, for the children

	ferret, api, server, trivial *proc
	mongoURI                     string
	serverURL, apiURL, trivURL   string
	apiPprof, serverPprof        string
	ferretPprof                  string

	client *http.Client
	rep    report
	apiCPU time.Duration // of cm-api processes stopped before the end
	apiHWM int64
}

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	b := &bench{}
	fs.StringVar(&b.pgURL, "pg", "", "PostgreSQL URL for FerretDB (database must exist)")
	fs.StringVar(&b.sqliteDir, "sqlite", "", "folder for FerretDB's SQLite files: the embedded store of make run, instead of -pg")
	fs.StringVar(&b.binDir, "bin", "", "directory holding the cm-server and cm-api binaries")
	fs.StringVar(&b.outDir, "out", "out/bench", "where the JSON report and logs go")
	_ = fs.Parse(args)
	if (b.pgURL == "") == (b.sqliteDir == "") || b.binDir == "" {
		return fmt.Errorf("run needs -bin and one of -pg and -sqlite")
	}
	sc, err := scaleFromEnv()
	if err != nil {
		return err
	}
	b.sc, b.k = sc, kafkaFromEnv()
	b.lag = newLagger(b.k)
	b.profile = os.Getenv("BENCH_PROFILE") == "1"
	b.self, _ = os.Executable()
	b.client = load.NewClient()
	stamp := time.Now().UTC().Format("20060102T150405Z")
	b.logDir = filepath.Join(b.outDir, "logs-"+stamp)
	if err := os.MkdirAll(b.logDir, 0o755); err != nil {
		return err
	}
	b.rep = report{Started: time.Now().UTC(), Scale: sc, Machine: machine(), Profile: b.profile, Stack: "bench (FerretDB on PostgreSQL)"}
	if b.sqliteDir != "" {
		b.rep.Stack = "embedded (FerretDB on SQLite, as make run)"
	}
	defer b.stopAll()

	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"start FerretDB, cm-server, cm-api, trivial handler", b.startBase},
		// Freshness first, on empty collections: on FerretDB every look-up scans,
		// so the polling would otherwise measure the scans.
		{"freshness at 1,000 req/s (500 on the embedded stack)", b.freshness},
		{"look-up at a tenth of the backlog", b.lookupSmall},
		{"ingest: backlog, raw produce, raw bulk insert, cm-api catching up", b.ingest},
		{"look-up: cm-api, cm-server and the raw find", b.lookup},
		{"POST /buy at 1,000 and 5,000 req/s, and the trivial handler", b.fixedRates},
		{"POST /buy: highest sustained rate", b.searchBuy},
		{"trivial handler: highest sustained rate", b.searchTrivial},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		logf("== %s", s.name)
		start := time.Now()
		before := b.cpuSnapshot()
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		b.rep.Phases = append(b.rep.Phases, phase{Name: s.name, Wall: time.Since(start), CPU: b.cpuSnapshot().minus(before)})
	}
	b.rep.Services = b.serviceUsage()
	b.rep.Finished = time.Now().UTC()
	return b.rep.write(b.outDir, stamp)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (b *bench) serviceBin(name string) (string, []string) {
	if b.profile {
		return b.self, []string{name}
	}
	return filepath.Join(b.binDir, name), nil
}

func (b *bench) startBase(ctx context.Context) error {
	var err error
	addr := freeAddr()
	var ferretEnv []string
	if b.profile {
		b.ferretPprof = freeAddr()
		ferretEnv = []string{"BENCH_PPROF_ADDR=" + b.ferretPprof}
	}
	store := []string{"-pg", b.pgURL}
	if b.sqliteDir != "" {
		store = []string{"-sqlite", b.sqliteDir}
	}
	if b.ferret, err = startProc("ferretdb", b.self, append([]string{"ferretdb", "-listen", addr}, store...), ferretEnv, b.logDir); err != nil {
		return err
	}
	if err := waitTCP(ctx, addr, 30*time.Second, b.ferret); err != nil {
		return err
	}
	b.mongoURI = "mongodb://" + addr + "/"
	mc, err := mongo.Connect(options.Client().ApplyURI(b.mongoURI))
	if err != nil {
		return err
	}
	err = indexForEquality(ctx, b.pgURL, mc.Database("shop"), "purchases", "users", "purchase_pages")
	_ = mc.Disconnect(context.Background())
	if err != nil {
		return err
	}
	if err := b.startServer(ctx); err != nil {
		return err
	}
	if err := b.startAPI(ctx); err != nil {
		return err
	}
	if err := waitHTTP(ctx, b.serverURL+"/readyz", 60*time.Second, b.server); err != nil {
		return err
	}
	// A freshly started broker (and JIT) answers slowly for a while: warm the
	// produce path before the first measured run.
	warm := load.Run(ctx, load.Options{Rate: 1000, Duration: 2 * b.sc.Warmup}, b.buyOp(b.serverURL+"/buy"))
	logf("warm-up: %s", warm)
	taddr := freeAddr()
	b.trivURL = "http://" + taddr
	if b.trivial, err = startProc("trivial", b.self, []string{"trivial", "-listen", taddr}, nil, b.logDir); err != nil {
		return err
	}
	return waitHTTP(ctx, b.trivURL+"/healthz", 30*time.Second, b.trivial)
}

func (b *bench) logLevel() string {
	if v := os.Getenv("BENCH_LOG_LEVEL"); v != "" {
		return v
	}
	return "info"
}

func (b *bench) startServer(ctx context.Context) error {
	addr := freeAddr()
	b.serverURL = "http://" + addr
	// cm-api's address is fixed now so that cm-server can be told it before cm-api runs.
	if b.apiURL == "" {
		b.apiURL = "http://" + freeAddr()
	}
	envs := append(b.k.serviceEnv("CM_SERVER", b.k.Server),
		"CM_SERVER_HTTP_ADDR="+addr, "CM_SERVER_CMAPI_URL="+b.apiURL, "CM_SERVER_CMAPI_TOKEN="+token,
		"CM_SERVER_LOG_FORMAT=json", "CM_SERVER_LOG_LEVEL="+b.logLevel(), "CM_SERVER_KAFKA_TOPIC="+b.k.Topic)
	if b.profile {
		b.serverPprof = freeAddr()
		envs = append(envs, "BENCH_PPROF_ADDR="+b.serverPprof)
	}
	bin, args := b.serviceBin("cm-server")
	var err error
	if b.server, err = startProc("cm-server", bin, args, envs, b.logDir); err != nil {
		return err
	}
	return waitHTTP(ctx, b.serverURL+"/healthz", 30*time.Second, b.server)
}

func (b *bench) startAPI(ctx context.Context) error {
	addr := strings.TrimPrefix(b.apiURL, "http://")
	envs := append(b.k.serviceEnv("CM_API", b.k.API),
		"CM_API_HTTP_ADDR="+addr, "CM_API_AUTH_TOKEN="+token, "CM_API_CURSOR_KEY=bench-cursor-key", "CM_API_MONGO_URI="+b.mongoURI,
		"CM_API_KAFKA_GROUP="+b.k.Group, "CM_API_KAFKA_TOPIC="+b.k.Topic,
		"CM_API_LOG_FORMAT=json", "CM_API_LOG_LEVEL="+b.logLevel(),
		// Both stacks are FerretDB: no look-up by user is served by an index.
		"CM_API_MONGO_LISTING_PAGES=true")
	if b.sqliteDir != "" {
		envs = append(envs, "CM_API_MONGO_SUMMARY_COLLECTIONS=64") // as make run (localstack/shop.go)
	}
	if b.profile {
		b.apiPprof = freeAddr()
		envs = append(envs, "BENCH_PPROF_ADDR="+b.apiPprof)
	}
	bin, args := b.serviceBin("cm-api")
	var err error
	if b.api, err = startProc("cm-api", bin, args, envs, b.logDir); err != nil {
		return err
	}
	return waitHTTP(ctx, b.apiURL+"/healthz", 30*time.Second, b.api)
}

func (b *bench) stopAll() {
	for _, p := range []*proc{b.server, b.api, b.trivial, b.ferret} {
		if p != nil && p.cmd != nil {
			if err := p.stop(30 * time.Second); err != nil {
				logf("stopping %s: %v", p.name, err)
			}
		}
	}
}

// ---------------------------------------------------------------- ingest

// docFields is a purchase as cm-api stores it (cm-api/internal/mongo purchaseDoc),
// for the raw bulk insert.
func purchaseDoc(e contract.Event, partition int, offset int64) bson.D {
	return bson.D{{Key: "_id", Value: e.ID}, {Key: "userid", Value: e.UserID}, {Key: "username", Value: e.Username},
		{Key: "price_cents", Value: e.PriceCents}, {Key: "ts", Value: e.Timestamp}, {Key: "received_at", Value: e.ReceivedAt},
		{Key: "src_partition", Value: partition}, {Key: "src_offset", Value: offset}}
}

const lookupUser = "bench-lookup"

// backlog makes n purchases of the load's users, mine of them the look-up
// user's, spread evenly, timed a millisecond apart up to now.
func (b *bench) backlog(n, mine int) (values [][]byte, keys []string, events []contract.Event, err error) {
	every := n / mine
	values, keys, events = make([][]byte, n), make([]string, n), make([]contract.Event, n)
	base := time.Now().Add(-time.Duration(n) * time.Millisecond).UTC().Truncate(time.Millisecond)
	for i := range n {
		user := "ing-" + strconv.Itoa(i%b.sc.Users)
		if i%every == 0 && i/every < mine {
			user = lookupUser
		}
		ts := base.Add(time.Duration(i) * time.Millisecond)
		e := contract.NewEvent(uuid.Must(uuid.NewV7()).String(),
			contract.Purchase{UserID: user, Username: "Bench User " + strconv.Itoa(i%97), PriceCents: int64(100 + i%10000), Timestamp: ts}, ts)
		v, err := json.Marshal(e)
		if err != nil {
			return nil, nil, nil, err
		}
		values[i], keys[i], events[i] = v, user, e
	}
	return values, keys, events, nil
}

// lookupSmall stores a tenth of the backlog through cm-api and measures the
// look-up on it, 16 clients through cm-server: the reference the look-up on
// all of the data is compared with (its cost as the data grows).
func (b *bench) lookupSmall(ctx context.Context) error {
	b.settle(ctx)
	values, keys, _, err := b.backlog(b.sc.Backlog/10, b.sc.LookupUser/10)
	if err != nil {
		return err
	}
	w := rawWriter(b.k)
	_, _, err = produceRaw(ctx, w, values, keys, 1000)
	w.Close()
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	if lag, err := b.lag.waitZero(ctx, b.sc.IngestMax); err != nil {
		return fmt.Errorf("cm-api did not store the tenth within %s (lag %d): %w", b.sc.IngestMax, lag, err)
	}
	b.rep.LookupSmallDocs, err = b.lookupDocs(ctx)
	if err != nil {
		return err
	}
	b.lookupClients(ctx) // warm-up
	b.rep.LookupSmall = b.lookupClients(ctx)
	logf("cm-server /getAllUserBuys, %d clients, user with %d of %d purchases: %s", lookupClients, b.rep.LookupSmallDocs[0], b.rep.LookupSmallDocs[1], b.rep.LookupSmall)
	return nil
}

// lookupClients is how many customers reload the look-up user's page at once.
const lookupClients = 16

// lookupClients runs lookupClients clients loading the look-up user's first
// page of 50 through cm-server, each reloading as soon as it has it.
func (b *bench) lookupClients(ctx context.Context) load.Result {
	url := b.serverURL + "/getAllUserBuys/" + lookupUser + "?limit=50"
	return load.Closed(ctx, lookupClients, b.sc.LookupFor, 10*time.Second, func(ctx context.Context, _ int) string {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		var body []byte
		if c := load.Do(b.client, req, http.StatusOK, &body); c != "" {
			return c
		}
		var page contract.PurchasePage
		if json.Unmarshal(body, &page) != nil || len(page.Purchases) != 50 {
			return "short-page"
		}
		return ""
	})
}

// lookupDocs counts the look-up user's purchases and all of them.
func (b *bench) lookupDocs(ctx context.Context) ([2]int64, error) {
	mc, err := mongo.Connect(options.Client().ApplyURI(b.mongoURI))
	if err != nil {
		return [2]int64{}, err
	}
	defer func() { _ = mc.Disconnect(context.Background()) }()
	coll := mc.Database("shop").Collection("purchases")
	mine, err := coll.CountDocuments(ctx, bson.D{{Key: "userid", Value: lookupUser}})
	if err != nil {
		return [2]int64{}, err
	}
	all, err := coll.EstimatedDocumentCount(ctx)
	return [2]int64{mine, all}, err
}

func (b *bench) ingest(ctx context.Context) error {
	// cm-api stops (after consuming what freshness left) so the backlog waits for it.
	b.settle(ctx)
	if err := b.api.stop(60 * time.Second); err != nil {
		logf("%v (killed)", err) // a finding in itself; go on
		b.rep.Notes = append(b.rep.Notes, err.Error())
	}
	b.apiCPU += b.api.last.CPU
	b.apiHWM = max(b.apiHWM, b.api.last.HWM)
	n := b.sc.Backlog
	values, keys, events, err := b.backlog(n, b.sc.LookupUser)
	if err != nil {
		return err
	}

	// The produce latency reference: the same writer, open loop at 1,000 events/s,
	// with cm-api stopped (nothing else working): what a buy waits for the broker
	// at best.
	w := rawWriter(b.k)
	header := []kafka.Header{{Key: contract.HeaderContentType, Value: []byte(contract.EventContentType)}}
	b.rep.ProduceOpen = load.Run(ctx, load.Options{Rate: 1000, Duration: b.sc.Fixed}, func(ctx context.Context, i int) string {
		j := i % n
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(keys[j]), Value: values[j], Headers: header}); err != nil {
			return "produce"
		}
		return ""
	})
	logf("raw kafka-go produce, open loop at 1000/s: %s", b.rep.ProduceOpen)
	w.Close()
	if err := b.lag.skipToEnd(ctx); err != nil { // those are not the backlog
		return fmt.Errorf("skip the open-loop events: %w", err)
	}
	// The produce ceiling: cm-server's writer settings, one event per call, as
	// many calls in flight as buys would be.
	w = rawWriter(b.k)
	rate, d, err := produceRaw(ctx, w, values, keys, 1000)
	w.Close()
	if err != nil {
		return fmt.Errorf("raw produce: %w", err)
	}
	logf("raw kafka-go produce: %d events in %s = %.0f/s", n, d.Round(time.Millisecond), rate)
	b.rep.ProduceRaw = throughput{Count: n, Duration: d, PerSec: rate}

	// The storage ceiling: the same documents, unordered inserts of cm-api's batch
	// size, one after another as cm-api's single consumer loop writes them, into
	// a collection of the same FerretDB with the same index.
	mc, err := mongo.Connect(options.Client().ApplyURI(b.mongoURI))
	if err != nil {
		return err
	}
	defer func() { _ = mc.Disconnect(context.Background()) }()
	raw := mc.Database("bench_raw").Collection("purchases")
	_ = raw.Drop(ctx)
	if _, err := raw.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "userid", Value: 1}, {Key: "ts", Value: -1}, {Key: "_id", Value: -1}},
		Options: options.Index().SetName("userid_ts_id"),
	}); err != nil {
		return fmt.Errorf("raw index: %w", err)
	}
	if err := indexForEquality(ctx, b.pgURL, raw.Database(), "purchases"); err != nil {
		return err
	}
	const batch = 500 // cm-api's kafka.batch_size default
	start := time.Now()
	for i := 0; i < n; i += batch {
		docs := make([]any, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			docs = append(docs, purchaseDoc(events[j], j%b.k.Partitions, int64(j)))
		}
		if _, err := raw.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
			return fmt.Errorf("raw insert: %w", err)
		}
	}
	d = time.Since(start)
	b.rep.InsertRaw = throughput{Count: n, Duration: d, PerSec: float64(n) / d.Seconds()}
	logf("raw bulk insert: %d documents in %s = %.0f/s", n, d.Round(time.Millisecond), b.rep.InsertRaw.PerSec)
	if b.rep.ReplaceRaw, err = b.rawReplaces(ctx, mc.Database("bench_raw")); err != nil {
		return err
	}
	logf("raw conditional replaces: %d summaries in %s = %.0f/s", b.rep.ReplaceRaw.Count, b.rep.ReplaceRaw.Duration.Round(time.Millisecond), b.rep.ReplaceRaw.PerSec)

	// cm-api starts with the backlog waiting.
	lag0, _, err := b.lag.lag(ctx)
	if err != nil {
		return fmt.Errorf("lag: %w", err)
	}
	t0 := time.Now()
	if err := b.startAPI(ctx); err != nil {
		return err
	}
	if b.profile {
		// Where the store's CPU goes while cm-api works through the backlog.
		go b.captureProfile("ferretdb", b.ferretPprof, "ingest", 30)
	}
	var tFirst time.Time
	var lagFirst int64
	for {
		lag, _, err := b.lag.lag(ctx)
		now := time.Now()
		if err == nil && lag < lag0 && tFirst.IsZero() {
			tFirst, lagFirst = now, lag
		}
		if err == nil && lag == 0 {
			total := now.Sub(t0)
			window := now.Sub(tFirst)
			b.rep.Ingest = ingestResult{Backlog: n, Total: total, FirstCommit: tFirst.Sub(t0), Window: window,
				PerSec: float64(lagFirst) / window.Seconds(), PerSecTotal: float64(lag0) / total.Seconds()}
			break
		}
		if err := b.api.alive(); err != nil {
			return err
		}
		if err == nil && !tFirst.IsZero() && time.Since(t0) > b.sc.IngestMax {
			// Too slow to wait for: the rate so far is the figure.
			window := now.Sub(tFirst)
			b.rep.Ingest = ingestResult{Backlog: n, Total: now.Sub(t0), FirstCommit: tFirst.Sub(t0), Window: window,
				PerSec: float64(lagFirst-lag) / window.Seconds(), PerSecTotal: float64(lag0-lag) / now.Sub(t0).Seconds(), LeftOver: lag}
			b.rep.Notes = append(b.rep.Notes, fmt.Sprintf("ingest stopped waiting after %s with %d events still unconsumed; the rate is over the part consumed", b.sc.IngestMax, lag))
			break
		}
		if time.Since(t0) > b.sc.IngestMax+5*time.Minute {
			return fmt.Errorf("cm-api stored nothing within %s (lag %d)", b.sc.IngestMax+5*time.Minute, lag)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	logf("cm-api ingest: %d events, first commit after %s, measured for %s (%d left): %.0f/s from the first commit (%.0f/s from start)",
		n, b.rep.Ingest.FirstCommit.Round(time.Millisecond), b.rep.Ingest.Total.Round(time.Millisecond), b.rep.Ingest.LeftOver,
		b.rep.Ingest.PerSec, b.rep.Ingest.PerSecTotal)
	if b.rep.Ingest.LeftOver > 0 {
		// The look-up needs all the documents: skip the rest of the backlog and put
		// the documents cm-api did not store yet in with the driver (those it stored
		// are duplicates, which an unordered insert skips).
		if err := b.skipBacklog(ctx); err != nil {
			return err
		}
		shop := mc.Database("shop").Collection("purchases")
		for i := 0; i < n; i += batch {
			docs := make([]any, 0, batch)
			for j := i; j < min(i+batch, n); j++ {
				docs = append(docs, purchaseDoc(events[j], j%b.k.Partitions, int64(j)))
			}
			if _, err := shop.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil && !onlyDuplicates(err) {
				return fmt.Errorf("top-up insert: %w", err)
			}
		}
		b.rep.Notes = append(b.rep.Notes, fmt.Sprintf("the %d events cm-api had not stored when bench stopped waiting were skipped and their documents inserted with the driver, for the look-up", b.rep.Ingest.LeftOver))
	}
	return waitHTTP(ctx, b.serverURL+"/readyz", 60*time.Second, b.server)
}

// rawReplaces measures the store's own rate for what the projection must
// write at least once per user it touches: a replace of a small summary on
// the condition of its version ({_id, v}), 8 to a command and 4 commands at a
// time as cm-api sends them, one per user of the load, spread over
// collections as cm-api spreads them on the embedded stack.
func (b *bench) rawReplaces(ctx context.Context, db *mongo.Database) (throughput, error) {
	colls := 1
	if b.sqliteDir != "" {
		colls = 64 // CM_API_MONGO_SUMMARY_COLLECTIONS in startAPI
	}
	names := []string{"users"} // GIN-indexed on PostgreSQL (equalityFields)
	for i := 1; i < colls; i++ {
		names = append(names, "users_"+strconv.Itoa(i))
	}
	for _, n := range names {
		_ = db.Collection(n).Drop(ctx)
	}
	if err := indexForEquality(ctx, b.pgURL, db, names...); err != nil {
		return throughput{}, err
	}
	coll := func(u int) *mongo.Collection { return db.Collection(names[u%colls]) }
	summary := func(u, v int) bson.D {
		return bson.D{{Key: "_id", Value: "ing-" + strconv.Itoa(u)}, {Key: "v", Value: v}, {Key: "purchase_count", Value: int64(v)},
			{Key: "total_cents", Value: int64(100 * v)}, {Key: "applied", Value: bson.D{{Key: "0", Value: int64(v)}}}}
	}
	users := b.sc.Users
	for u := range users {
		if _, err := coll(u).InsertOne(ctx, summary(u, 1)); err != nil {
			return throughput{}, fmt.Errorf("raw summaries: %w", err)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, users/8+1)
	sem := make(chan struct{}, 4)
	for from := 0; from < users; from += 8 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			// One command per collection: spread, about one per user.
			byColl := map[*mongo.Collection][]mongo.WriteModel{}
			for u := from; u < min(from+8, users); u++ {
				byColl[coll(u)] = append(byColl[coll(u)], mongo.NewReplaceOneModel().
					SetFilter(bson.D{{Key: "_id", Value: "ing-" + strconv.Itoa(u)}, {Key: "v", Value: 1}}).SetReplacement(summary(u, 2)))
			}
			for c, models := range byColl {
				res, err := c.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
				if err == nil && res.MatchedCount != int64(len(models)) {
					err = fmt.Errorf("%d of %d summaries matched", res.MatchedCount, len(models))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return throughput{}, fmt.Errorf("raw replaces: %w", err)
	}
	d := time.Since(start)
	return throughput{Count: users, Duration: d, PerSec: float64(users) / d.Seconds()}, nil
}

func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------- look-up

func (b *bench) lookup(ctx context.Context) error {
	mc, err := mongo.Connect(options.Client().ApplyURI(b.mongoURI))
	if err != nil {
		return err
	}
	defer func() { _ = mc.Disconnect(context.Background()) }()
	coll := mc.Database("shop").Collection("purchases")
	count, err := coll.CountDocuments(ctx, bson.D{{Key: "userid", Value: lookupUser}})
	if err != nil {
		return err
	}
	total, _ := coll.EstimatedDocumentCount(ctx)
	logf("look-up user %s has %d purchases among %d", lookupUser, count, total)
	b.rep.LookupDocs = [2]int64{count, total}
	opts := load.Options{Rate: b.sc.LookupRate, Duration: b.sc.LookupFor}
	check := func(body []byte) string {
		var page contract.PurchasePage
		if json.Unmarshal(body, &page) != nil || len(page.Purchases) != 50 {
			return "short-page"
		}
		return ""
	}
	getPage := func(url string, auth bool) load.Op {
		return func(ctx context.Context, _ int) string {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if auth {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			var body []byte
			if c := load.Do(b.client, req, http.StatusOK, &body); c != "" {
				return c
			}
			return check(body)
		}
	}
	// The look-up ceiling: the query cm-api makes for a page, straight through
	// the driver (one more document than the page tells whether another exists).
	rawFind := func(ctx context.Context, _ int) string {
		cur, err := coll.Find(ctx, bson.D{{Key: "userid", Value: lookupUser}}, options.Find().
			SetSort(bson.D{{Key: "ts", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(51))
		if err != nil {
			return "find"
		}
		var docs []bson.Raw
		if err := cur.All(ctx, &docs); err != nil || len(docs) != 51 {
			return "short-page"
		}
		return ""
	}
	// A short warm-up, then the measured runs.
	warm := load.Options{Rate: b.sc.LookupRate, Duration: b.sc.Warmup}
	load.Run(ctx, warm, getPage(b.apiURL+"/buyList/"+lookupUser+"?limit=50", true))
	b.rep.LookupAPI = load.Run(ctx, opts, getPage(b.apiURL+"/buyList/"+lookupUser+"?limit=50", true))
	logf("cm-api /buyList: %s", b.rep.LookupAPI)
	b.rep.LookupServer = load.Run(ctx, opts, getPage(b.serverURL+"/getAllUserBuys/"+lookupUser+"?limit=50", false))
	logf("cm-server /getAllUserBuys: %s", b.rep.LookupServer)
	b.rep.LookupClients = b.lookupClients(ctx)
	logf("cm-server /getAllUserBuys, %d clients: %s", lookupClients, b.rep.LookupClients)
	// The raw find last, one at a time, each waited for however long it
	// takes: on a store that scans, an abandoned find keeps scanning after its
	// client gave up, and would weigh on every run after it.
	b.rep.LookupRaw = load.Closed(ctx, 1, b.sc.LookupFor, 5*time.Minute, rawFind)
	logf("raw find: %s", b.rep.LookupRaw)
	return nil
}

// ---------------------------------------------------------------- POST /buy

// buyOp posts a valid purchase for one of the load's users.
func (b *bench) buyOp(url string) load.Op {
	return func(ctx context.Context, i int) string {
		body := make([]byte, 0, 96)
		body = append(body, `{"userid":"u`...)
		body = strconv.AppendInt(body, int64(i%b.sc.Users), 10)
		body = append(body, `","username":"Load Tester","price":"12.50"}`...)
		return load.Do(b.client, load.PostJSON(ctx, url, body), http.StatusAccepted, nil)
	}
}

func passes(r load.Result) bool { return r.ErrorRate() < 0.001 && r.Overall.P99 < 50*time.Millisecond }

// settle lets cm-api consume what the last run produced, so that the next run
// starts from the same state (and is not charged for the previous one's backlog).
func (b *bench) settle(ctx context.Context) {
	if b.api == nil {
		return
	}
	lag, err := b.lag.waitZero(ctx, b.sc.Settle)
	if err == nil {
		return
	}
	// cm-api cannot catch up: skip its backlog so that the next run measures
	// itself, not the previous one's queue.
	if err := b.skipBacklog(ctx); err != nil {
		logf("skipping the backlog failed: %v", err)
		return
	}
	logf("cm-api had %d events to go after %s: skipped them", lag, b.sc.Settle)
	b.rep.Skipped += lag
}

// skipBacklog stops cm-api, commits the end offsets for its group and starts it
// again. The skipped events are never stored.
func (b *bench) skipBacklog(ctx context.Context) error {
	if err := b.api.stop(60 * time.Second); err != nil {
		return err
	}
	b.apiCPU += b.api.last.CPU
	b.apiHWM = max(b.apiHWM, b.api.last.HWM)
	var err error
	for range 30 { // the group empties when the broker notices the member left
		if err = b.lag.skipToEnd(ctx); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		return err
	}
	if err := b.startAPI(ctx); err != nil {
		return err
	}
	return waitHTTP(ctx, b.apiURL+"/readyz", 60*time.Second, b.api)
}

func (b *bench) runBuy(ctx context.Context, url string, rate float64, d time.Duration, profileName string) load.Result {
	b.settle(ctx)
	var wg sync.WaitGroup
	if b.profile && profileName != "" {
		secs := max(1, int(d.Seconds())-2)
		for name, addr := range map[string]string{"cm-server": b.serverPprof, "cm-api": b.apiPprof} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.captureProfile(name, addr, profileName, secs)
			}()
		}
	}
	r := load.Run(ctx, load.Options{Rate: rate, Duration: d}, b.buyOp(url))
	wg.Wait()
	return r
}

func (b *bench) captureProfile(service, addr, label string, secs int) {
	dir := filepath.Join(b.outDir, "profiles")
	_ = os.MkdirAll(dir, 0o755)
	for _, kind := range []string{"profile", "allocs", "mutex", "block"} {
		url := fmt.Sprintf("http://%s/debug/pprof/%s", addr, kind)
		if kind == "profile" {
			url += "?seconds=" + strconv.Itoa(secs)
		}
		res, err := http.Get(url)
		if err != nil {
			logf("profile %s %s: %v", service, kind, err)
			continue
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s-%s.pb.gz", service, label, kind)))
		if err == nil {
			_, _ = io.Copy(f, res.Body)
			f.Close()
		}
		res.Body.Close()
	}
}

func (b *bench) fixedRates(ctx context.Context) error {
	warm := load.Run(ctx, load.Options{Rate: 1000, Duration: b.sc.Warmup}, b.buyOp(b.serverURL+"/buy"))
	logf("warm-up: %s", warm)
	load.Run(ctx, load.Options{Rate: 1000, Duration: b.sc.Warmup}, b.buyOp(b.trivURL+"/buy"))
	for _, rate := range []float64{1000, 5000} {
		r := b.runBuy(ctx, b.serverURL+"/buy", rate, b.sc.Fixed, "buy"+strconv.Itoa(int(rate)))
		logf("POST /buy @%.0f: %s", rate, r)
		t := b.runBuy(ctx, b.trivURL+"/buy", rate, b.sc.Fixed, "")
		logf("trivial  @%.0f: %s", rate, t)
		b.rep.Fixed = append(b.rep.Fixed, fixedRate{Rate: rate, Buy: r, Trivial: t})
	}
	// The same 1,000 req/s with cm-api stopped: the front door and Kafka without
	// the store's work on the same cores.
	b.settle(ctx)
	if err := b.api.stop(60 * time.Second); err != nil {
		logf("%v (killed)", err)
	}
	b.apiCPU += b.api.last.CPU
	b.apiHWM = max(b.apiHWM, b.api.last.HWM)
	b.rep.BuyNoConsumer = load.Run(ctx, load.Options{Rate: 1000, Duration: b.sc.Fixed}, b.buyOp(b.serverURL+"/buy"))
	logf("POST /buy @1000 with cm-api stopped: %s", b.rep.BuyNoConsumer)
	if err := b.lag.skipToEnd(ctx); err != nil {
		return err
	}
	return b.startAPI(ctx)
}

// ---------------------------------------------------------------- freshness

// freshness runs /buy at 1,000 req/s; one request in 200 buys for a user of its
// own and then polls GET /getAllUserBuys for it every 5 ms: the time from its 202
// to the first answer that lists it.
func (b *bench) freshness(ctx context.Context) error {
	b.settle(ctx)
	var hist load.Histogram
	var mu sync.Mutex
	missing := 0
	var wg sync.WaitGroup
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	buy := b.buyOp(b.serverURL + "/buy")
	poll := func(user, id string, accepted time.Time) {
		defer wg.Done()
		url := b.serverURL + "/getAllUserBuys/" + user + "?limit=1"
		deadline := accepted.Add(10 * time.Second)
		// Every 5 ms at first, backing off to 100 ms: a probe that takes long
		// must not bury the store under look-ups.
		wait := 5 * time.Millisecond
		for time.Now().Before(deadline) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			var body []byte
			if load.Do(b.client, req, http.StatusOK, &body) == "" {
				var page contract.PurchasePage
				if json.Unmarshal(body, &page) == nil && len(page.Purchases) > 0 && page.Purchases[0].ID == id {
					hist.Record(time.Since(accepted))
					return
				}
			}
			time.Sleep(wait)
			wait = min(wait*3/2, 100*time.Millisecond)
		}
		mu.Lock()
		missing++
		mu.Unlock()
	}
	b.rep.FreshRate = b.freshRate()
	every := int(b.rep.FreshRate / 5) // five probes a second
	r := load.Run(ctx, load.Options{Rate: b.rep.FreshRate, Duration: b.sc.Fresh}, func(ctx context.Context, i int) string {
		if i%every != 0 {
			return buy(ctx, i)
		}
		user := "fresh-" + run + "-" + strconv.Itoa(i)
		body := []byte(`{"userid":"` + user + `","username":"Fresh Probe","price":"1.00"}`)
		var out []byte
		if c := load.Do(b.client, load.PostJSON(ctx, b.serverURL+"/buy", body), http.StatusAccepted, &out); c != "" {
			return c
		}
		accepted := time.Now()
		var acc contract.BuyAccepted
		if err := json.Unmarshal(out, &acc); err != nil {
			return "bad-202"
		}
		wg.Add(1)
		go poll(user, acc.ID, accepted)
		return ""
	})
	wg.Wait()
	b.rep.Freshness = freshResult{Load: r, Latency: hist.Summary(), Missing: missing}
	logf("freshness: load %s; visible after p50 %s p99 %s max %s (%d probes, %d never seen)", r,
		hist.Quantile(.5), hist.Quantile(.99), hist.Max(), hist.Count(), missing)
	return nil
}

// freshRate is the load freshness is measured under: what each stack's
// store is asked to keep up with (issue 15's targets).
func (b *bench) freshRate() float64 {
	if b.sqliteDir != "" {
		return 500
	}
	return 1000
}

// ---------------------------------------------------------------- max rate

func (b *bench) searchBuy(ctx context.Context) error {
	best, ok, all := load.Search(b.sc.SearchRates, func(rate float64) load.Result {
		r := b.runBuy(ctx, b.serverURL+"/buy", rate, b.sc.Step, "")
		logf("POST /buy search @%.0f: %s pass=%v", rate, r, passes(r))
		return r
	}, passes)
	b.rep.MaxBuy = search{Best: best, Found: ok, Runs: all}
	return nil
}

func (b *bench) searchTrivial(ctx context.Context) error {
	best, ok, all := load.Search(b.sc.SearchRates, func(rate float64) load.Result {
		r := load.Run(ctx, load.Options{Rate: rate, Duration: b.sc.Step}, b.buyOp(b.trivURL+"/buy"))
		logf("trivial search @%.0f: %s pass=%v", rate, r, passes(r))
		return r
	}, passes)
	b.rep.MaxTrivial = search{Best: best, Found: ok, Runs: all}
	return nil
}

// ---------------------------------------------------------------- usage

// cpuSnapshot is the CPU time of every process of the stack.
type cpuSnapshot map[string]time.Duration

func (b *bench) cpuSnapshot() cpuSnapshot {
	s := cpuSnapshot{}
	for _, p := range []*proc{b.server, b.api, b.ferret, b.trivial} {
		if p != nil && p.cmd != nil {
			if cpu, _, err := cpuAndParent(p.pid()); err == nil {
				s[p.name] = cpu
			}
		}
	}
	s["cm-api"] += b.apiCPU // of the cm-api processes already stopped
	if pid := pidFromFile(os.Getenv("BENCH_KAFKA_PID_FILE")); pid > 0 {
		s["kafka"], _, _ = cpuAndParent(pid)
	}
	if pid := pidFromFile(os.Getenv("BENCH_PG_PID_FILE")); pid > 0 {
		s["postgresql"] = treeCPU(pid)
	}
	s["bench (load generator)"], _, _ = cpuAndParent(os.Getpid())
	return s
}

func (s cpuSnapshot) minus(o cpuSnapshot) cpuSnapshot {
	out := cpuSnapshot{}
	for k, v := range s {
		out[k] = v - o[k]
	}
	return out
}

func (b *bench) serviceUsage() map[string]usage {
	out := map[string]usage{}
	for _, p := range []*proc{b.server, b.api, b.ferret} {
		if p == nil {
			continue
		}
		u := p.last
		if p.cmd != nil {
			if cur, err := readUsage(p.pid()); err == nil {
				u = cur
			}
		}
		if p == b.api {
			u.CPU += b.apiCPU
			u.HWM = max(u.HWM, b.apiHWM)
		}
		out[p.name] = u
	}
	return out
}

func machine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		if f := strings.Fields(line); len(f) >= 2 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			m.MemGiB = float64(kb) / (1 << 20)
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAtStart = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
