package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// FerretDB 1.24 pushes an equality filter down to PostgreSQL as
//
//	_jsonb -> 'field' @> '"value"'
//
// and the B-tree expression indexes it creates for MongoDB indexes cannot serve
// the containment operator: every filtered statement (a look-up by user, a
// summary replace by _id) becomes a sequential scan, and a benchmark of it
// measures table sizes, not the services. MongoDB, where the shop runs in
// production, answers the same filters from its indexes. So bench does what a
// DBA of a FerretDB deployment would: it adds a GIN index on each field the
// services filter on by equality, to the shop's collections and to the raw
// reference's alike. bench.sh also sets plan_cache_mode = force_custom_plan on
// the database, because FerretDB passes the field name as a bound parameter and
// only a plan made with the value known matches the index expression.

// equalityFields are the fields each collection is filtered on by equality.
var equalityFields = map[string][]string{
	"purchases":      {"_id", "userid"}, // duplicate checks; a user's page, rebuilds
	"users":          {"_id"},           // summary reads and conditional replaces
	"purchase_pages": {"_id"},           // listing pages (mongo.listing_pages)
}

// indexForEquality creates the collections (if missing) and a GIN index per
// field of equalityFields on the PostgreSQL table behind each.
func indexForEquality(ctx context.Context, pgURL string, db *mongo.Database, collections ...string) error {
	if pgURL == "" {
		return nil // the embedded stack: SQLite, whose _id index localstack fixes
	}
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	for _, coll := range collections {
		var ce mongo.CommandError
		if err := db.CreateCollection(ctx, coll); err != nil && !(errors.As(err, &ce) && ce.Code == 48) { // NamespaceExists
			return fmt.Errorf("create %s.%s: %w", db.Name(), coll, err)
		}
		// FerretDB's metadata table maps a collection to its table.
		var table string
		q := fmt.Sprintf(`SELECT _jsonb->>'table' FROM %s WHERE _jsonb->>'_id' = $1`,
			pgx.Identifier{db.Name(), "_ferretdb_database_metadata"}.Sanitize())
		if err := conn.QueryRow(ctx, q, coll).Scan(&table); err != nil {
			return fmt.Errorf("find the table of %s.%s in FerretDB's metadata: %w", db.Name(), coll, err)
		}
		for _, field := range equalityFields[coll] {
			name := pgx.Identifier{table + "_bench_" + field + "_gin"}.Sanitize()
			stmt := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s USING gin ((_jsonb -> %s) jsonb_path_ops)`,
				name, pgx.Identifier{db.Name(), table}.Sanitize(), quoteLiteral(field))
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("index %s.%s on %s: %w", db.Name(), coll, field, err)
			}
		}
	}
	return nil
}

// quoteLiteral quotes a constant field name for SQL (the names are ours).
func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
