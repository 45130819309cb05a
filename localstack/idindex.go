package localstack

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the driver FerretDB's SQLite backend uses
)

// FerretDB 1.24's SQLite backend indexes _id as the expression
// _ferretdb_sjson->"_id", but pushes a filter {_id: <string or ObjectID>} down
// as WHERE _ferretdb_sjson->'$._id' = ?. SQLite uses an expression index only
// for the very same expression, so every look-up by _id reads the whole table
// (EXPLAIN QUERY PLAN: SCAN), and a find of one purchase among 26,000 took
// 136 ms here. idIndexes adds to every collection table an index on the
// expression the queries use. FerretDB does not know of it (its indexes are in
// its own metadata), SQLite keeps it up to date, and DROP TABLE drops it.
// This only concerns the embedded store: MongoDB, and FerretDB on
// PostgreSQL, use their _id index as they are.
type idIndexes struct {
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

// indexIDs keeps adding the index to the tables that FerretDB creates in dir,
// every interval, until stop.
func indexIDs(dir string, interval time.Duration) *idIndexes {
	ctx, cancel := context.WithCancel(context.Background())
	x := &idIndexes{dir: dir, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(x.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			_ = x.ensure(ctx) // a busy or vanished file is tried again next time
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return x
}

func (x *idIndexes) stop() {
	x.cancel()
	<-x.done
}

// ensure adds the index where it is missing, in every database file.
func (x *idIndexes) ensure(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(x.dir, "*.sqlite"))
	if err != nil {
		return err
	}
	var first error
	for _, f := range files {
		if err := ensureIDIndex(ctx, f); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func ensureIDIndex(ctx context.Context, file string) error {
	// mode=rw: a file FerretDB just removed (dropDatabase) is not created again.
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(200)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT t.table_name FROM _ferretdb_collections t
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'index' AND m.name = t.table_name || '__id_query')`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"__id_query", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	return nil
}
