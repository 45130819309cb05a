package localstack_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scalable-shop/shop/localstack"
	"github.com/scalable-shop/shop/localstack/testenv"
)

// The query FerretDB 1.24's SQLite backend runs for a find of {_id: <string>}
// (internal/backends/sqlite/collection.go, Query) must be served by an index,
// not by reading the table; and dropping the database still removes its file.
func TestLookupsByIDUseAnIndexOnTheEmbeddedStore(t *testing.T) {
	testenv.SkipShort(t)
	dir := t.TempDir()
	m, err := localstack.StartMongo(localstack.MongoOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	coll := c.Database("idx").Collection("purchases")
	docs := make([]any, 500)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("p%04d", i)}, {Key: "userid", Value: "u"}}
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}

	// A connection of its own for each reading: it sees the schema as it is now.
	query := func(q string, args []any, dest ...any) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "idx.sqlite")+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.QueryRow(q, args...).Scan(dest...); err != nil {
			t.Fatal(err)
		}
	}
	var table string
	query(`SELECT table_name FROM _ferretdb_collections WHERE name = 'purchases'`, nil, &table)
	plan := func() string {
		var id, parent, unused int
		var detail string
		query(fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ?`, table),
			[]any{`"p0499"`}, &id, &parent, &unused, &detail)
		return detail
	}
	testenv.WaitFor(t, 10*time.Second, "an index for the pushed-down _id filter", func() bool {
		return strings.Contains(plan(), "USING INDEX")
	})
	var got bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "p0499"}}).Decode(&got); err != nil || got["userid"] != "u" {
		t.Fatalf("find by _id through FerretDB: %v %v", got, err)
	}

	if err := c.Database("idx").Drop(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // several rounds of the indexer
	if _, err := os.Stat(filepath.Join(dir, "idx.sqlite")); !os.IsNotExist(err) {
		t.Errorf("idx.sqlite after dropDatabase: %v, want it gone", err)
	}
}
