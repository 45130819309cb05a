package mongo

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	cmapi "github.com/scalable-shop/shop/cm-api"
)

// userDoc is a user summary as stored, _id = user id.
type userDoc struct {
	ID         string           `bson:"_id"`
	Username   string           `bson:"username"`
	Count      int64            `bson:"purchase_count"`
	TotalCents int64            `bson:"total_cents"`
	First      time.Time        `bson:"first_purchase"`
	Last       time.Time        `bson:"last_purchase"`
	LastID     string           `bson:"last_purchase_id"`
	Applied    map[string]int64 `bson:"applied"`
	Version    int64            `bson:"v"`
	AsOf       time.Time        `bson:"as_of,omitempty"`
	Listing    listing          `bson:",inline"` // see pages.go
}

func (d userDoc) summary() cmapi.Summary {
	return cmapi.Summary{UserID: d.ID, Username: d.Username, Count: d.Count, TotalCents: d.TotalCents,
		First: d.First.UTC(), Last: d.Last.UTC(), LastID: d.LastID, Applied: d.Applied, Version: d.Version, AsOf: d.AsOf.UTC()}
}

func docOf(s cmapi.Summary) userDoc {
	return userDoc{ID: s.UserID, Username: s.Username, Count: s.Count, TotalCents: s.TotalCents,
		First: s.First, Last: s.Last, LastID: s.LastID, Applied: s.Applied, Version: s.Version, AsOf: s.AsOf.Truncate(time.Millisecond)}
}

// usersOf is the collection holding a user's summary. With more than one
// (mongo.summary_collections), a user's is chosen by a hash of the id, so
// that it is the same for every process. That exists for FerretDB's SQLite
// backend, which reads a whole collection for each conditional replace (its
// filter {_id, v} is not pushed down): the cost of a summary write grows with
// the users in the collection the summary is in. On MongoDB one collection
// is right: the filter is served by the _id index.
func (s *Store) usersOf(userID string) *mongo.Collection {
	if len(s.users) == 1 {
		return s.users[0]
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	return s.users[h.Sum32()%uint32(len(s.users))]
}

// errConflict means another writer changed a summary between our read and write.
var errConflict = errors.New("user summary changed concurrently")

// User returns a user's summary: one read by _id. ok is false for an unknown user.
func (s *Store) User(ctx context.Context, userID string) (cmapi.Summary, bool, error) {
	if err := s.reach.check(); err != nil {
		return cmapi.Summary{}, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	d, ok, err := s.userDoc(ctx, userID)
	return d.summary(), ok, err
}

// userDoc reads a user's summary as stored: one read by _id.
func (s *Store) userDoc(ctx context.Context, userID string) (userDoc, bool, error) {
	var d userDoc
	err := s.usersOf(userID).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return userDoc{}, false, nil
	}
	return d, err == nil, err
}

// readSummaries returns the stored summaries of users and their listing
// pages, keyed by id: those this process wrote last from memory
// (remember.go), the others with one $in per collection holding any of them.
func (s *Store) readSummaries(ctx context.Context, users []string) (map[string]cmapi.Summary, map[string]listing, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	out := make(map[string]cmapi.Summary, len(users))
	pages := map[string]listing{}
	byColl := map[*mongo.Collection][]string{}
	for _, u := range users {
		if d, ok := s.written.get(u); ok {
			d = d.clone()
			out[u], pages[u] = d.summary(), d.Listing
			continue
		}
		c := s.usersOf(u)
		byColl[c] = append(byColl[c], u)
	}
	for c, ids := range byColl {
		cur, err := c.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		if err != nil {
			return nil, nil, err
		}
		var docs []userDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, nil, err
		}
		for _, d := range docs {
			out[d.ID] = d.summary()
			pages[d.ID] = d.Listing
		}
	}
	return out, pages, nil
}

// writeSummaries stores changed summaries, each with its listing pages (none
// if pages has no entry for it) and only if nobody changed it since it was
// read (Version), in one round trip. A conflict is reported as errConflict.
func (s *Store) writeSummaries(ctx context.Context, changed []cmapi.Summary, pages map[string]listing) error {
	if len(changed) == 0 {
		return nil
	}
	// Per collection, inserts first, then replaces: the driver sends a run of
	// one kind as one command, so this makes two commands instead of one per
	// change of kind.
	type chunk struct {
		coll   *mongo.Collection
		models []mongo.WriteModel
	}
	inserts, replaces := map[*mongo.Collection][]mongo.WriteModel{}, map[*mongo.Collection][]mongo.WriteModel{}
	var colls []*mongo.Collection // in a fixed order
	var docs []userDoc
	nReplaces := 0
	for _, sum := range changed {
		c := s.usersOf(sum.UserID)
		if inserts[c] == nil && replaces[c] == nil {
			colls = append(colls, c)
		}
		doc := docOf(sum)
		doc.Version = sum.Version + 1
		doc.Listing = pages[sum.UserID]
		// Remembered again only once the write is known to have worked.
		s.written.drop(sum.UserID)
		docs = append(docs, doc)
		if sum.Version == 0 {
			inserts[c] = append(inserts[c], mongo.NewInsertOneModel().SetDocument(doc))
			continue
		}
		nReplaces++
		replaces[c] = append(replaces[c], mongo.NewReplaceOneModel().
			SetFilter(bson.D{{Key: "_id", Value: sum.UserID}, {Key: "v", Value: sum.Version}}).
			SetReplacement(doc))
	}
	var chunks []chunk
	for _, c := range colls {
		models := append(inserts[c], replaces[c]...)
		for len(models) > 0 {
			n := min(len(models), summaryWriteChunk)
			chunks, models = append(chunks, chunk{c, models[:n]}), models[n:]
		}
	}
	// Chunks go out a few at a time: the database commits them side by side
	// instead of one after another. A conflict does not stop the others.
	var (
		mu        sync.Mutex
		matched   int64
		conflicts bool
	)
	err := s.roundTrips(ctx, len(chunks), summaryWriters, func(ctx context.Context, i int) error {
		res, err := chunks[i].coll.BulkWrite(ctx, chunks[i].models, options.BulkWrite().SetOrdered(false))
		var bwe mongo.BulkWriteException
		if err != nil && errors.As(err, &bwe) && bwe.WriteConcernError == nil && allDuplicates(bwe) {
			err = errConflict // a summary we thought new was created meanwhile
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, errConflict):
			conflicts = true
		case err != nil:
			return err
		default:
			matched += res.MatchedCount
		}
		return nil
	})
	if err != nil {
		return err
	}
	if conflicts || matched < int64(nReplaces) {
		return errConflict
	}
	for _, d := range docs {
		s.written.put(d.ID, d.clone())
	}
	return nil
}

// summaryWriteChunk and summaryWriters bound the summaries written in one
// command and the commands in flight. FerretDB 1.x on PostgreSQL holds one pooled
// connection per statement of an update command until the command ends, so more
// statements in flight than its pool (50 connections) wait for themselves until
// the timeout: 4 commands of 8 stay well below, leaving room for look-ups. On
// MongoDB they only add round trips, run side by side.
const (
	summaryWriteChunk = 8
	summaryWriters    = 4
)

func allDuplicates(bwe mongo.BulkWriteException) bool {
	for _, we := range bwe.WriteErrors {
		if we.Code != duplicateKey {
			return false
		}
	}
	return len(bwe.WriteErrors) > 0
}

// ProjectSummaries counts a window of deliveries into their users' summaries,
// writing each user it changes once. A delivery counts only if it owns its
// purchase document (cmapi.Owns), so a duplicate record on the topic is not
// counted again, while a redelivery after a crash is skipped by the watermark.
// If a purchase is not stored yet it counts nothing and returns
// cmapi.ErrNotYetStored: the window is tried again once the purchases are in.
// A purchase the purchases consumer skipped (cmapi.Skipped, by its group's
// committed offsets, which offsets reads if a purchase is missing) is not
// counted.
func (s *Store) ProjectSummaries(ctx context.Context, window []cmapi.Delivery, offsets func() map[int]int64) (counted, skipped int, err error) {
	if len(window) == 0 {
		return 0, 0, nil
	}
	ids := distinct(window, func(d cmapi.Delivery) string { return d.ID })
	stored, err := s.storedPositions(ctx, ids)
	if err != nil {
		return 0, 0, err
	}
	// Only for purchases missing: the committed offsets, then those purchases
	// again. In that order: a purchase the purchases consumer stored and
	// committed past between the first read and the offsets is found by the
	// second, and only one missing after the offsets were read was skipped.
	var committed map[int]int64
	if missing := slices.DeleteFunc(ids, func(id string) bool { _, ok := stored[id]; return ok }); len(missing) > 0 && offsets != nil {
		committed = offsets()
		again, err := s.storedPositions(ctx, missing)
		if err != nil {
			return 0, 0, err
		}
		maps.Copy(stored, again)
	}
	var owners []cmapi.Delivery
	waiting := 0
	for _, d := range window {
		doc, ok := stored[d.ID]
		switch {
		case !ok && cmapi.Skipped(d, committed):
			skipped++
		case !ok:
			waiting++
		case cmapi.Owns(d, doc.delivery().Partition, doc.delivery().Offset):
			owners = append(owners, d)
		}
	}
	if waiting > 0 {
		return 0, 0, fmt.Errorf("%d of %d deliveries: %w", waiting, len(window), cmapi.ErrNotYetStored)
	}
	if err := s.applySummaries(ctx, owners, window); err != nil {
		return 0, 0, fmt.Errorf("user summaries: %w", err)
	}
	return len(owners), skipped, nil
}

// distinct returns the key of each delivery, each key once, in order.
func distinct(ds []cmapi.Delivery, key func(cmapi.Delivery) string) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range ds {
		if k := key(d); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// applySummaries folds the owning deliveries into their users' summaries, and
// with listing pages on, their purchases into the users' pages. A conflict with
// another writer re-reads and re-applies: Apply skips what the other writer
// counted. The pages a conflicting attempt wrote stay unswept: a conflict
// needs two writers of one user, which only a rebalance makes, and a page no
// summary names costs space only.
func (s *Store) applySummaries(ctx context.Context, owners, window []cmapi.Delivery) error {
	if len(owners) == 0 {
		return nil
	}
	users := distinct(owners, func(d cmapi.Delivery) string { return d.UserID })
	for attempt := 0; ; attempt++ {
		current, lists, err := s.readSummaries(ctx, users)
		if err != nil {
			return err
		}
		// What Fold is about to count, for the users whose pages hold what
		// their summary counts: the others are listed by the index.
		added := map[string][]pageEntry{}
		if s.pages != nil {
			for _, d := range owners {
				sum := current[d.UserID]
				if !sum.Counted(d.Partition, d.Offset) && lists[d.UserID].valid(sum.Count) {
					added[d.UserID] = append(added[d.UserID], entryOf(d))
				}
			}
		}
		changedUsers := cmapi.Fold(current, owners, window)
		var changed []cmapi.Summary
		for _, u := range changedUsers {
			changed = append(changed, current[u])
		}
		var next map[string]listing
		var replaced []string
		if s.pages != nil {
			if next, replaced, err = s.nextPages(ctx, lists, added); err != nil {
				return err
			}
		}
		err = s.writeSummaries(ctx, changed, next)
		switch {
		case err == nil:
			s.deletePages(ctx, replaced)
			return nil
		case !errors.Is(err, errConflict) || attempt == 20:
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
}

// RebuildUser recomputes a user's summary from the stored purchases, for the
// rebuild command delivered at (partition, offset) and stamped at. Only the
// projection calls it, in partition order, after counting every delivery of
// the user before the command; see cmapi.Recount for the purchases stored
// ahead of it and for a command delivered again.
func (s *Store) RebuildUser(ctx context.Context, userID string, partition int, offset int64, at time.Time) (before, after cmapi.Summary, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		doc, _, err := s.userDoc(ctx, userID)
		if err != nil {
			return before, after, err
		}
		before = doc.summary()
		before.UserID = userID
		cur, err := s.purchases.Find(ctx, bson.D{{Key: "userid", Value: userID}})
		if err != nil {
			return before, after, err
		}
		var docs []purchaseDoc
		if err := cur.All(ctx, &docs); err != nil {
			return before, after, err
		}
		purchases := make([]cmapi.Delivery, len(docs))
		for i, d := range docs {
			purchases[i] = d.delivery()
		}
		var changed bool
		after, changed = cmapi.Recount(before, purchases, partition, offset, at)
		if !changed {
			return before, after, nil
		}
		// The pages are laid out afresh, whatever they were: a rebuild is
		// also how a summary gets valid pages (see listing.valid).
		var pages map[string]listing
		var written []pageDoc
		if s.pages != nil {
			var entries []pageEntry
			for _, d := range cmapi.Recounted(purchases, partition, offset) {
				entries = append(entries, entryOf(d))
			}
			refs, docs := buildPages(userID, entries, newPageID(userID))
			l, dir := relist(userID, refs, nil, newPageID(userID))
			written = append(docs, dir...)
			pages = map[string]listing{userID: l}
			if err := s.writePages(ctx, written); err != nil {
				return before, after, err
			}
		}
		err = s.writeSummaries(ctx, []cmapi.Summary{after}, pages)
		switch {
		case err == nil && s.pages != nil:
			old, err := s.allPages(ctx, doc.Listing)
			if err != nil {
				return before, after, nil // written; the old pages stay unswept
			}
			s.deletePages(ctx, old)
		case errors.Is(err, errConflict): // not written: nothing names them
			s.deletePages(ctx, docIDs(written))
		}
		if !errors.Is(err, errConflict) || attempt == 20 {
			return before, after, err
		}
	}
}

func docIDs(docs []pageDoc) []string {
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids
}

// UserIDs returns every user id that has purchases.
func (s *Store) UserIDs(ctx context.Context) ([]string, error) {
	// $group rather than distinct: FerretDB's distinct reply does not decode.
	cur, err := s.purchases.Aggregate(ctx, bson.A{bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$userid"}}}}})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users := make([]string, len(rows))
	for i, r := range rows {
		users[i] = r.ID
	}
	sort.Strings(users)
	return users, nil
}
