package mongo

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/contract"
)

// Listing pages (mongo.listing_pages) serve a user's purchases, newest first,
// from documents read by _id alone. They exist for FerretDB 1.24: neither of
// its backends serves a look-up by user, sorted by time, from an index (SQLite
// pushes down no filter but _id, PostgreSQL an equality but never a sort), so
// the indexed query of ListPurchases reads every purchase of the store or of
// the user. On MongoDB that query is served by the userid_ts_id index; keep
// the pages off there.
//
// The projection keeps the pages beside each summary, in the same pass that
// counts the purchases: the summary lists its pages (pageRef, newest first)
// and is the only thing written in place, by the same conditional replace as
// before. A page is immutable: a changed page is written as a new document
// with a new _id before the summary that names it, and the one it replaces is
// deleted after. So a reader that has a summary reads pages that never change
// under it (or are gone, and it reads the summary again), a crash between the
// writes leaves at worst an unreferenced page, and any process may cache a
// page by its _id forever (pageCache).
//
// The pages of a summary are trusted only while their entries add up to its
// count (pagesValid): summaries written while the pages were off, or before
// this code, are listed by the indexed query until a rebuild writes them.

// PagesCollection holds the listing pages.
const PagesCollection = "purchase_pages"

// maxPageEntries is the most purchases one page holds; a page that would hold
// more is split in halves, so pages hold from half of it to all of it. Each
// window rewrites the newest page of every user it touches: on SQLite the
// cost of that write and of deleting the page it replaces grows with the
// page's size, while a look-up reads its few pages side by side.
const maxPageEntries = 32

// pageEntry is one purchase in a page; the user is the page's.
type pageEntry struct {
	ID         string    `bson:"id"`
	Username   string    `bson:"u"`
	PriceCents int64     `bson:"c"`
	Timestamp  time.Time `bson:"ts"`
	ReceivedAt time.Time `bson:"r"`
}

// pageRef names a page in its summary, with the position of its oldest entry:
// every entry of the page is at or after it, and before the oldest entry of
// the page named before it.
type pageRef struct {
	ID     string    `bson:"id"`
	OldTS  time.Time `bson:"ts"`
	OldID  string    `bson:"pid"`
	Length int       `bson:"n"`
}

// pageDoc is a page as stored: entries, or for a directory the refs of the
// user's older pages.
type pageDoc struct {
	ID      string      `bson:"_id"`
	UserID  string      `bson:"userid"`
	Entries []pageEntry `bson:"p,omitempty"` // newest first
	Refs    []pageRef   `bson:"refs,omitempty"`
}

// listing is how a summary names its pages: the newest (at most topPages)
// in the summary itself, the others in a directory, a page of refs as
// immutable as the pages. A look-up reads the summary on every call, and on
// FerretDB the cost of that read grows with the document (0.46 ms empty,
// 1.6 ms with 45 refs, 4.9 ms with 200, measured here): so it stays small
// whatever the user's history, and the first pages need nothing else.
type listing struct {
	Top      []pageRef `bson:"pages,omitempty"`
	Older    string    `bson:"older,omitempty"`   // the directory's _id
	OlderLen int       `bson:"older_n,omitempty"` // purchases in the older pages
}

// topPages is how many pages a summary names itself: at least
// topPages*maxPageEntries/2 purchases, more than the longest listing.
const topPages = 8

// valid reports whether the pages hold exactly the count purchases their
// summary counted.
func (l listing) valid(count int64) bool {
	return pagesValid(l.Top, count-int64(l.OlderLen)) && (l.Older != "" || l.OlderLen == 0)
}

// reachesOlder reports whether an entry belongs among the directory's pages:
// it is older than every entry of the pages the summary names.
func (l listing) reachesOlder(add []pageEntry) bool {
	if l.Older == "" || len(l.Top) == 0 {
		return false
	}
	last := l.Top[len(l.Top)-1]
	for _, e := range add {
		if newestFirst(e.Timestamp, e.ID, last.OldTS, last.OldID) > 0 {
			return true
		}
	}
	return false
}

// relist lays a user's pages out as a listing: the newest topPages in the
// summary, the rest (then older, the refs of the directory's pages not in
// refs) in a new directory, returned to be written, or none.
func relist(userID string, refs, older []pageRef, newID func() string) (listing, []pageDoc) {
	if len(refs) <= topPages && len(older) == 0 {
		return listing{Top: refs}, nil
	}
	k := min(len(refs), topPages)
	rest := append(slices.Clone(refs[k:]), older...)
	if len(rest) == 0 {
		return listing{Top: refs[:k]}, nil
	}
	dir := pageDoc{ID: newID(), UserID: userID, Refs: rest}
	n := 0
	for _, r := range rest {
		n += r.Length
	}
	return listing{Top: refs[:k], Older: dir.ID, OlderLen: n}, []pageDoc{dir}
}

func entryOf(d cmapi.Delivery) pageEntry {
	return pageEntry{ID: d.ID, Username: d.Username, PriceCents: d.PriceCents,
		Timestamp: d.Timestamp.Truncate(time.Millisecond), ReceivedAt: d.ReceivedAt.Truncate(time.Millisecond)}
}

func (e pageEntry) event(userID string) contract.Event {
	return contract.Event{Version: contract.EventVersion, ID: e.ID, UserID: userID, Username: e.Username,
		PriceCents: e.PriceCents, Timestamp: e.Timestamp.UTC(), ReceivedAt: e.ReceivedAt.UTC()}
}

// newestFirst orders purchases as a listing does: by time, then id, both
// descending (the userid_ts_id index's order).
func newestFirst(aTS time.Time, aID string, bTS time.Time, bID string) int {
	return cmp.Or(bTS.Compare(aTS), cmp.Compare(bID, aID))
}

// pagesValid reports whether refs hold exactly the count purchases their
// summary counted.
func pagesValid(refs []pageRef, count int64) bool {
	n := int64(0)
	for _, r := range refs {
		n += int64(r.Length)
	}
	return n == count
}

// firstPage is the index of the first page holding entries strictly after the
// cursor (afterTS, afterID) in listing order; with no cursor, the first page.
func firstPage(refs []pageRef, afterTS time.Time, afterID string) int {
	if afterID == "" {
		return 0
	}
	for i, r := range refs {
		if newestFirst(r.OldTS, r.OldID, afterTS, afterID) > 0 {
			return i
		}
	}
	return len(refs)
}

// after returns the entries strictly after the cursor, in listing order.
func after(entries []pageEntry, afterTS time.Time, afterID string) []pageEntry {
	if afterID == "" {
		return entries
	}
	i, _ := slices.BinarySearchFunc(entries, struct{}{}, func(e pageEntry, _ struct{}) int {
		if newestFirst(e.Timestamp, e.ID, afterTS, afterID) <= 0 {
			return -1
		}
		return 1
	})
	return entries[i:]
}

// pageOf is the index of the page an entry belongs in: the first whose
// oldest entry is not after it, or the last.
func pageOf(refs []pageRef, e pageEntry) int {
	for i, r := range refs {
		if newestFirst(r.OldTS, r.OldID, e.Timestamp, e.ID) >= 0 {
			return i
		}
	}
	return len(refs) - 1
}

// pagesToChange says which pages the new entries go into: page index to
// entries. With no pages yet, everything goes into a new page at index 0.
func pagesToChange(refs []pageRef, add []pageEntry) map[int][]pageEntry {
	out := map[int][]pageEntry{}
	for _, e := range add {
		i := 0
		if len(refs) > 0 {
			i = pageOf(refs, e)
		}
		out[i] = append(out[i], e)
	}
	return out
}

// rewritePages merges the new entries (by page, from pagesToChange) into the
// current contents of those pages (loaded, by page index), splitting any page
// that grows past maxPageEntries. It returns the user's new list of pages,
// the page documents to write first and the ids of the pages they replace.
// newID names each new page.
func rewritePages(userID string, refs []pageRef, loaded, add map[int][]pageEntry, newID func() string) (out []pageRef, write []pageDoc, replaced []string) {
	if len(add) == 0 {
		return refs, nil, nil
	}
	n := max(len(refs), 1)
	for i := range n {
		extra, changed := add[i]
		if !changed {
			out = append(out, refs[i])
			continue
		}
		if i < len(refs) {
			replaced = append(replaced, refs[i].ID)
		}
		entries := append(slices.Clone(loaded[i]), extra...)
		slices.SortFunc(entries, func(a, b pageEntry) int { return newestFirst(a.Timestamp, a.ID, b.Timestamp, b.ID) })
		for _, part := range split(entries) {
			doc := pageDoc{ID: newID(), UserID: userID, Entries: part}
			write = append(write, doc)
			out = append(out, doc.ref())
		}
	}
	return out, write, replaced
}

// buildPages lays out every purchase of a user afresh, as a rebuild does:
// pages half full, so that the next purchases fit without a split.
func buildPages(userID string, entries []pageEntry, newID func() string) (out []pageRef, write []pageDoc) {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b pageEntry) int { return newestFirst(a.Timestamp, a.ID, b.Timestamp, b.ID) })
	for len(entries) > 0 {
		k := min(len(entries), maxPageEntries/2)
		doc := pageDoc{ID: newID(), UserID: userID, Entries: entries[:k:k]}
		entries = entries[k:]
		write = append(write, doc)
		out = append(out, doc.ref())
	}
	return out, write
}

// split cuts a sorted page that is too long into halves until each fits.
func split(entries []pageEntry) [][]pageEntry {
	if len(entries) <= maxPageEntries {
		return [][]pageEntry{entries}
	}
	h := len(entries) / 2
	return append(split(entries[:h:h]), split(entries[h:])...)
}

func (d pageDoc) ref() pageRef {
	last := d.Entries[len(d.Entries)-1]
	return pageRef{ID: d.ID, OldTS: last.Timestamp, OldID: last.ID, Length: len(d.Entries)}
}

// errPageGone: a page a summary named was deleted, because a newer summary
// replaced it; read the summary again.
var errPageGone = errors.New("listing page replaced meanwhile")

// pageCache keeps pages by _id. A page never changes, so an entry is right
// for as long as it is kept; the cache only bounds memory, by the entries it
// holds, dropping arbitrary pages when full.
type pageCache struct {
	mu      sync.Mutex
	m       map[string][]pageEntry
	entries int
	max     int
}

func newPageCache(maxEntries int) *pageCache {
	return &pageCache{m: map[string][]pageEntry{}, max: maxEntries}
}

func (c *pageCache) get(id string) ([]pageEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	return e, ok
}

func (c *pageCache) put(id string, entries []pageEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; ok {
		return
	}
	for k, e := range c.m {
		if c.entries+len(entries) <= c.max {
			break
		}
		delete(c.m, k)
		c.entries -= len(e)
	}
	c.m[id] = entries
	c.entries += len(entries)
}

func (c *pageCache) drop(ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.entries -= len(c.m[id])
		delete(c.m, id)
	}
}

// cachedEntries bounds the purchases the page cache holds (some 150 bytes
// each): the newest pages of a shop of some ten thousand active users.
const cachedEntries = 200_000

// cachedDirs bounds the directories kept: one per user with a long history.
const cachedDirs = 10_000

// newPageID names a page: its user, then random bytes, so that two writers
// never write the same page.
func newPageID(userID string) func() string {
	return func() string {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return userID + "." + hex.EncodeToString(b[:])
	}
}

// readDir returns the refs of a directory, remembered or read by _id.
func (s *Store) readDir(ctx context.Context, id string) ([]pageRef, error) {
	if refs, ok := s.dirs.get(id); ok {
		return refs, nil
	}
	var d pageDoc
	err := s.pages.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("directory %s: %w", id, errPageGone)
	}
	if err != nil {
		return nil, err
	}
	s.dirs.put(id, d.Refs)
	return d.Refs, nil
}

// allPages returns the ids of every page a listing names, its directory's
// included, and of the directory.
func (s *Store) allPages(ctx context.Context, l listing) ([]string, error) {
	ids := docIDsOfRefs(l.Top)
	if l.Older != "" {
		refs, err := s.readDir(ctx, l.Older)
		if err != nil {
			return nil, err
		}
		ids = append(append(ids, docIDsOfRefs(refs)...), l.Older)
	}
	return ids, nil
}

func docIDsOfRefs(refs []pageRef) []string {
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	return ids
}

// readPages returns the entries of the pages, from the cache or by one read
// by _id each, a few at a time.
func (s *Store) readPages(ctx context.Context, ids []string) (map[string][]pageEntry, error) {
	out := make(map[string][]pageEntry, len(ids))
	var missing []string
	for _, id := range ids {
		if e, ok := s.pageCache.get(id); ok {
			out[id] = e
		} else {
			missing = append(missing, id)
		}
	}
	read := make([]pageDoc, len(missing))
	err := s.roundTrips(ctx, len(missing), positionReaders, func(ctx context.Context, i int) error {
		err := s.pages.FindOne(ctx, bson.D{{Key: "_id", Value: missing[i]}}).Decode(&read[i])
		if errors.Is(err, mongo.ErrNoDocuments) {
			return fmt.Errorf("page %s: %w", missing[i], errPageGone)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, id := range missing {
		s.pageCache.put(id, read[i].Entries)
		out[id] = read[i].Entries
	}
	return out, nil
}

// writePages inserts new pages with one unordered insert.
func (s *Store) writePages(ctx context.Context, docs []pageDoc) error {
	if len(docs) == 0 {
		return nil
	}
	if _, err := s.pages.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
		return fmt.Errorf("write listing pages: %w", err)
	}
	for _, d := range docs {
		if d.Refs != nil {
			s.dirs.put(d.ID, d.Refs)
		} else {
			s.pageCache.put(d.ID, d.Entries)
		}
	}
	return nil
}

// deletePages queues pages no summary names any more for the next sweep.
func (s *Store) deletePages(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	s.pageCache.drop(ids)
	for _, id := range ids {
		s.dirs.drop(id)
	}
	s.garbage.mu.Lock()
	s.garbage.ids = append(s.garbage.ids, ids...)
	due := len(s.garbage.ids) >= sweepAt || time.Since(s.garbage.swept) > sweepEvery
	s.garbage.mu.Unlock()
	if due {
		s.sweep(ctx)
	}
}

// sweep deletes the queued pages, sweepAt at a time, each batch with one
// delete of {_id: {$in: ids}}. One statement per page would cost FerretDB
// a write per user per window (its per-statement cost is the projection's
// limit there); its scan of the collection for $in costs less when shared
// by many pages. MongoDB serves either from the _id index. A failure, or a
// crash before the sweep, leaves pages stored and unread: space, never a
// wrong listing, so it fails nothing.
func (s *Store) sweep(ctx context.Context) {
	s.garbage.mu.Lock()
	ids := s.garbage.ids
	s.garbage.ids, s.garbage.swept = nil, time.Now()
	s.garbage.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), sweepAt)
		_, _ = s.pages.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids[:n]}}}})
		ids = ids[n:]
	}
}

// garbage holds the replaced pages until the next sweep.
type garbage struct {
	mu    sync.Mutex
	ids   []string
	swept time.Time
}

// sweepAt and sweepEvery say when replaced pages are deleted: FerretDB
// compares each page it scans with every id of the $in, so a batch stays
// modest, and a quiet shop still sweeps now and then.
const (
	sweepAt    = 1000
	sweepEvery = 10 * time.Second
)

// nextPages writes the pages that take the newly counted purchases of each
// user (added), and returns those users' listings for their summaries and
// the ids of the pages (and directories) they replace.
func (s *Store) nextPages(ctx context.Context, lists map[string]listing, added map[string][]pageEntry) (next map[string]listing, replaced []string, err error) {
	type plan struct {
		user string
		refs []pageRef // the summary's, and the directory's when an entry reaches there
		full bool
		add  map[int][]pageEntry
	}
	var plans []plan
	var toRead []string
	for user, add := range added {
		l := lists[user]
		p := plan{user: user, refs: l.Top}
		if l.reachesOlder(add) {
			older, err := s.readDir(ctx, l.Older)
			if err != nil {
				return nil, nil, err
			}
			p.refs, p.full = append(slices.Clone(l.Top), older...), true
		}
		p.add = pagesToChange(p.refs, add)
		for i := range p.add {
			if i < len(p.refs) {
				toRead = append(toRead, p.refs[i].ID)
			}
		}
		plans = append(plans, p)
	}
	contents, err := s.readPages(ctx, toRead)
	if err != nil {
		return nil, nil, err
	}
	next = map[string]listing{}
	var docs []pageDoc
	for _, p := range plans {
		loaded := map[int][]pageEntry{}
		for i := range p.add {
			if i < len(p.refs) {
				loaded[i] = contents[p.refs[i].ID]
			}
		}
		refs, write, rep := rewritePages(p.user, p.refs, loaded, p.add, newPageID(p.user))
		docs, replaced = append(docs, write...), append(replaced, rep...)
		l := lists[p.user]
		switch {
		case p.full || len(refs) > topPages && l.Older != "":
			// The directory changes: it takes what no longer fits in the
			// summary, before the pages it held already.
			var older []pageRef
			if !p.full {
				if older, err = s.readDir(ctx, l.Older); err != nil {
					return nil, nil, err
				}
			}
			nl, dir := relist(p.user, refs, older, newPageID(p.user))
			docs = append(docs, dir...)
			if l.Older != "" {
				replaced = append(replaced, l.Older)
			}
			next[p.user] = nl
		case len(refs) > topPages:
			nl, dir := relist(p.user, refs, nil, newPageID(p.user))
			docs = append(docs, dir...)
			next[p.user] = nl
		default:
			next[p.user] = listing{Top: refs, Older: l.Older, OlderLen: l.OlderLen}
		}
	}
	if err := s.writePages(ctx, docs); err != nil {
		return nil, nil, err
	}
	return next, replaced, nil
}

// listPages is ListPurchases from the pages, with the summary that names
// them (found false: the user has none). ok is false when the user's pages
// are not valid and the indexed query must answer.
func (s *Store) listPages(ctx context.Context, userID string, afterTS time.Time, afterID string, limit int) (_ []contract.Event, _ userDoc, found, ok bool, _ error) {
	for attempt := 0; ; attempt++ {
		d, found, err := s.userDoc(ctx, userID)
		if err != nil {
			return nil, d, false, false, err
		}
		if !found {
			return nil, d, false, true, nil
		}
		if !d.Listing.valid(d.Count) {
			return nil, d, true, false, nil
		}
		events, err := s.fromPages(ctx, userID, d.Listing, afterTS, afterID, limit)
		switch {
		case errors.Is(err, errPageGone) && attempt < 3:
			continue
		case err != nil:
			return nil, d, true, false, err
		}
		return events, d, true, true, nil
	}
}

// fromPages reads the pages of a listing that hold the limit after the
// cursor, side by side; the directory only when the summary's pages do not.
func (s *Store) fromPages(ctx context.Context, userID string, l listing, afterTS time.Time, afterID string, limit int) ([]contract.Event, error) {
	refs := l.Top
	first := firstPage(refs, afterTS, afterID)
	if l.Older != "" && (first == len(refs) || entriesFrom(refs, first) < limit+refs[first].Length) {
		older, err := s.readDir(ctx, l.Older)
		if err != nil {
			return nil, err
		}
		refs = append(slices.Clone(refs), older...)
		first = firstPage(refs, afterTS, afterID)
	}
	if first == len(refs) {
		return nil, nil
	}
	var ids []string
	for i, n := first, 0; i < len(refs) && n < limit+refs[first].Length; i++ {
		ids, n = append(ids, refs[i].ID), n+refs[i].Length
	}
	got, err := s.readPages(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []contract.Event
	for _, id := range ids {
		for _, e := range after(got[id], afterTS, afterID) {
			out = append(out, e.event(userID))
		}
	}
	return out[:min(len(out), limit)], nil
}

// entriesFrom counts the entries of refs[i:].
func entriesFrom(refs []pageRef, i int) int {
	n := 0
	for _, r := range refs[i:] {
		n += r.Length
	}
	return n
}
