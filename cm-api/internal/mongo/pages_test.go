package mongo

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// pagesInMemory keeps a user's pages as the store does, in a map.
type pagesInMemory struct {
	refs  []pageRef
	pages map[string][]pageEntry
	next  int
}

func (m *pagesInMemory) add(t *testing.T, add []pageEntry) {
	t.Helper()
	plan := pagesToChange(m.refs, add)
	loaded := map[int][]pageEntry{}
	for i := range plan {
		if i < len(m.refs) {
			loaded[i] = m.pages[m.refs[i].ID]
		}
	}
	refs, write, replaced := rewritePages("u", m.refs, loaded, plan, func() string { m.next++; return fmt.Sprint(m.next) })
	for _, id := range replaced {
		delete(m.pages, id)
	}
	for _, d := range write {
		m.pages[d.ID] = d.Entries
	}
	m.refs = refs
}

// list walks the listing a page of limit at a time, as the API's cursors do.
func (m *pagesInMemory) list(limit int) []string {
	var out []string
	var afterTS time.Time
	afterID := ""
	for {
		var page []pageEntry
		for i := firstPage(m.refs, afterTS, afterID); i < len(m.refs) && len(page) < limit; i++ {
			page = append(page, after(m.pages[m.refs[i].ID], afterTS, afterID)...)
		}
		page = page[:min(len(page), limit)]
		for _, e := range page {
			out = append(out, e.ID)
		}
		if len(page) < limit {
			return out
		}
		afterTS, afterID = page[len(page)-1].Timestamp, page[len(page)-1].ID
	}
}

func sortedIDs(entries []pageEntry) []string {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b pageEntry) int { return newestFirst(a.Timestamp, a.ID, b.Timestamp, b.ID) })
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	return ids
}

// Purchases arrive in windows, mostly in time order, some late and some in
// the same millisecond: the pages list them exactly as the index would, at
// every page size, each page within bounds and named with its oldest entry.
func TestPagesListInIndexOrderWhateverTheArrivalOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	m := &pagesInMemory{pages: map[string][]pageEntry{}}
	var all []pageEntry
	for w := range 60 {
		var window []pageEntry
		for range rng.IntN(30) {
			n := len(all)
			ts := t0.Add(time.Duration(n) * time.Second)
			switch rng.IntN(10) {
			case 0: // late: an old client clock
				ts = t0.Add(time.Duration(rng.IntN(n+1)) * time.Second)
			case 1: // the same millisecond as another purchase
				if n > 0 {
					ts = all[rng.IntN(n)].Timestamp
				}
			}
			e := pageEntry{ID: fmt.Sprintf("p%05d", rng.IntN(1e5)) + fmt.Sprint(n), PriceCents: int64(n), Timestamp: ts}
			window = append(window, e)
			all = append(all, e)
		}
		m.add(t, window)
		if w%10 == 0 || w == 59 {
			want := sortedIDs(all)
			for _, limit := range []int{1, 7, 50, 101} {
				if got := m.list(limit); !slices.Equal(got, want) {
					t.Fatalf("after window %d, listing by %d: %d purchases, want %d in index order\n got %v\nwant %v", w, limit, len(got), len(want), got, want)
				}
			}
		}
	}
	if !pagesValid(m.refs, int64(len(all))) {
		t.Errorf("pages hold %v, want %d entries in all", m.refs, len(all))
	}
	if len(m.pages) != len(m.refs) {
		t.Errorf("%d pages stored, %d named: replaced pages must be reported", len(m.pages), len(m.refs))
	}
	for i, r := range m.refs {
		p := m.pages[r.ID]
		last := p[len(p)-1]
		if len(p) == 0 || len(p) > maxPageEntries || r.Length != len(p) || !r.OldTS.Equal(last.Timestamp) || r.OldID != last.ID {
			t.Errorf("page %d: %d entries, ref %+v, oldest %s %s", i, len(p), r, last.Timestamp, last.ID)
		}
	}
}

func TestRebuiltPagesAreHalfFullAndInOrder(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var all []pageEntry
	for i := range 300 {
		all = append(all, pageEntry{ID: fmt.Sprintf("p%03d", i), Timestamp: t0.Add(time.Duration(i%97) * time.Minute)})
	}
	n := 0
	refs, docs := buildPages("u", all, func() string { n++; return fmt.Sprint(n) })
	m := &pagesInMemory{refs: refs, pages: map[string][]pageEntry{}}
	for _, d := range docs {
		if len(d.Entries) > maxPageEntries/2 {
			t.Errorf("rebuilt page of %d entries, want at most %d: room for the next purchases", len(d.Entries), maxPageEntries/2)
		}
		m.pages[d.ID] = d.Entries
	}
	if got, want := m.list(50), sortedIDs(all); !slices.Equal(got, want) {
		t.Errorf("rebuilt listing %v, want %v", got, want)
	}
	if want := (300 + maxPageEntries/2 - 1) / (maxPageEntries / 2); len(refs) != want || !pagesValid(refs, 300) {
		t.Errorf("refs %+v, want %d pages of 300 entries in all", refs, want)
	}
}

func TestPagesAreTrustedOnlyWhenTheyHoldTheCount(t *testing.T) {
	refs := []pageRef{{Length: 60}, {Length: 64}}
	for _, c := range []struct {
		refs  []pageRef
		count int64
		want  bool
	}{{nil, 0, true}, {nil, 3, false}, {refs, 124, true}, {refs, 125, false}} {
		if got := pagesValid(c.refs, c.count); got != c.want {
			t.Errorf("pagesValid(%v, %d) = %v, want %v", c.refs, c.count, got, c.want)
		}
	}
}

func TestThePageCacheHoldsAtMostItsEntries(t *testing.T) {
	c := newPageCache(100)
	page := make([]pageEntry, 30)
	for i := range 10 {
		c.put(fmt.Sprint(i), page)
		if c.entries > 100 || c.entries != 30*len(c.m) {
			t.Fatalf("after %d pages: %d entries in %d pages, want at most 100", i+1, c.entries, len(c.m))
		}
	}
	if _, ok := c.get("9"); !ok {
		t.Error("the page put last is not cached")
	}
	c.drop([]string{"9", "unknown"})
	if _, ok := c.get("9"); ok || c.entries != 30*len(c.m) {
		t.Errorf("dropped page still cached, or %d entries counted for %d pages", c.entries, len(c.m))
	}
}

// The summary names its newest pages; the directory takes the rest, newest
// first, ahead of the pages it held; and a purchase older than every page
// the summary names must be placed among the directory's.
func TestListingsKeepTheNewestPagesInTheSummary(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var refs []pageRef
	for i := range topPages + 3 {
		refs = append(refs, pageRef{ID: fmt.Sprint("p", i), OldTS: t0.Add(-time.Duration(i) * time.Hour), OldID: "x", Length: 20})
	}
	older := []pageRef{{ID: "old", OldTS: t0.Add(-100 * time.Hour), OldID: "x", Length: 7}}
	l, dir := relist("u", refs, older, func() string { return "dir" })
	if len(l.Top) != topPages || l.Older != "dir" || l.OlderLen != 3*20+7 || len(dir) != 1 {
		t.Fatalf("listing %+v, directory %+v", l, dir)
	}
	if ids := docIDsOfRefs(dir[0].Refs); !slices.Equal(ids, []string{fmt.Sprint("p", topPages), fmt.Sprint("p", topPages+1), fmt.Sprint("p", topPages+2), "old"}) {
		t.Errorf("directory holds %v", ids)
	}
	if !l.valid(int64(len(refs)*20+7)) || l.valid(int64(len(refs)*20)) {
		t.Errorf("listing %+v: valid only for its %d purchases", l, len(refs)*20+7)
	}
	if short, none := relist("u", refs[:2], nil, nil); len(short.Top) != 2 || short.Older != "" || none != nil {
		t.Errorf("two pages: %+v %+v, want them in the summary and no directory", short, none)
	}
	late := pageEntry{ID: "late", Timestamp: t0.Add(-50 * time.Hour)}
	recent := pageEntry{ID: "recent", Timestamp: t0.Add(time.Minute)}
	if !l.reachesOlder([]pageEntry{recent, late}) || l.reachesOlder([]pageEntry{recent}) {
		t.Errorf("a purchase older than the summary's pages must reach the directory, a recent one not")
	}
}
