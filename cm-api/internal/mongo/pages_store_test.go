package mongo_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	drv "go.mongodb.org/mongo-driver/v2/mongo"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/cm-api/internal/mongo"
)

// listAll walks a user's listing limit at a time through the cursor.
func listAll(t *testing.T, s *mongo.Store, user string, limit int) []string {
	t.Helper()
	var ids []string
	var afterTS time.Time
	afterID := ""
	for {
		page, err := s.ListPurchases(context.Background(), user, afterTS, afterID, limit)
		if err != nil {
			t.Fatalf("list %s: %v", user, err)
		}
		for _, e := range page {
			if e.UserID != user {
				t.Fatalf("listing of %s holds %+v", user, e)
			}
			ids = append(ids, e.ID)
		}
		if len(page) < limit {
			return ids
		}
		afterTS, afterID = page[len(page)-1].Timestamp, page[len(page)-1].ID
	}
}

// pagesOf reads what a summary names, as stored: its count, the page
// documents it names (its directory and the directory's pages included) and
// the purchases they hold.
func pagesOf(t *testing.T, db *drv.Database, user string) (count int64, named int, sum int) {
	t.Helper()
	type ref struct {
		N int `bson:"n"`
	}
	var doc struct {
		Count    int64  `bson:"purchase_count"`
		Pages    []ref  `bson:"pages"`
		Older    string `bson:"older"`
		OlderLen int    `bson:"older_n"`
	}
	ctx := context.Background()
	if err := db.Collection("users").FindOne(ctx, bson.D{{Key: "_id", Value: user}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	refs := doc.Pages
	if doc.Older != "" {
		var dir struct {
			Refs []ref `bson:"refs"`
		}
		if err := db.Collection(mongo.PagesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: doc.Older}}).Decode(&dir); err != nil {
			t.Fatalf("directory of %s: %v", user, err)
		}
		older := 0
		for _, p := range dir.Refs {
			older += p.N
		}
		if older != doc.OlderLen {
			t.Errorf("%s: the directory's pages hold %d purchases, the summary says %d", user, older, doc.OlderLen)
		}
		refs, named = append(refs, dir.Refs...), 1
	}
	for _, p := range refs {
		sum += p.N
	}
	return doc.Count, named + len(refs), sum
}

// With listing pages on, a user's listing is the indexed query's, page by
// page, through late purchases, redeliveries, producer copies and a rebuild;
// every replaced page is deleted. A summary written with the pages off is
// listed by the index until a rebuild gives it pages.
func TestListingPagesListWhatTheIndexLists(t *testing.T) {
	ctx := context.Background()
	name := database()
	paged, db := openStoreWith(t, mongo.Options{ListingPages: true}, name)
	indexed, _ := openStoreWith(t, mongo.Options{}, name)
	rng := rand.New(rand.NewPCG(3, 4))

	var all []cmapi.Delivery
	off := int64(0)
	for w := range 12 {
		var window []cmapi.Delivery
		for range 40 {
			n := len(all) + 1
			x := d([]string{"a", "a", "a", "b"}[rng.IntN(4)], n, int(off%3), off)
			if rng.IntN(8) == 0 { // a late clock
				x.Timestamp = t0.Add(time.Duration(rng.IntN(n)) * time.Second)
			}
			off++
			window = append(window, x)
			all = append(all, x)
		}
		if w%4 == 3 { // a redelivery, and a producer's copy at a new offset
			copyOf := window[0]
			copyOf.Offset, off = off, off+1
			window = append(window, all[len(all)-60:len(all)-45]...)
			window = append(window, copyOf)
		}
		save(t, paged, window)
	}
	check := func(when string, switched bool) {
		t.Helper()
		for _, u := range []string{"a", "b"} {
			want := listAll(t, indexed, u, 100)
			for _, limit := range []int{1, 20, 50, 101} {
				if got := listAll(t, paged, u, limit); !slices.Equal(got, want) {
					t.Fatalf("%s: %s listed by %d from pages: %d purchases, by the index %d\n got %v\nwant %v", when, u, limit, len(got), len(want), got, want)
				}
			}
			count, named, sum := pagesOf(t, db, u)
			if int64(sum) != count || count != int64(len(want)) {
				t.Errorf("%s: %s's summary counts %d and names %d pages of %d purchases; %d are stored", when, u, count, named, sum, len(want))
			}
		}
		paged.Sweep(ctx)
		pages, err := db.Collection(mongo.PagesCollection).CountDocuments(ctx, bson.D{})
		_, na, _ := pagesOf(t, db, "a")
		_, nb, _ := pagesOf(t, db, "b")
		// A summary written with the pages off drops its pages unread.
		if err != nil || pages != int64(na+nb) && !switched {
			t.Errorf("%s: %d pages stored, %d named (err %v): a replaced page was left behind", when, pages, na+nb, err)
		}
	}
	check("after live ingest", false)
	if _, _, err := paged.RebuildUser(ctx, "a", 0, off+10, t0); err != nil {
		t.Fatal(err)
	}
	check("after a rebuild", false)

	// Written with the pages off: the pages no longer hold the count.
	extra := d("a", 9000, 1, off+20)
	if _, _, err := indexed.SavePurchases(ctx, []cmapi.Delivery{extra}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := indexed.ProjectSummaries(ctx, []cmapi.Delivery{extra}, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := listAll(t, paged, "a", 50), listAll(t, indexed, "a", 50); !slices.Equal(got, want) || got[0] != extra.ID {
		t.Fatalf("a summary without valid pages: listed %d from pages mode, want the index's %d, newest %s", len(got), len(want), extra.ID)
	}
	if _, _, err := paged.RebuildUser(ctx, "a", 1, off+30, t0); err != nil {
		t.Fatal(err)
	}
	check("after the rebuild of a summary written with the pages off", true)
}

// A look-up reads the summary and one page by _id, whatever the user's
// history: it never falls back to the index for a summary with valid pages.
func TestListingPagesServeAUserWithoutThePurchases(t *testing.T) {
	ctx := context.Background()
	name := database()
	paged, db := openStoreWith(t, mongo.Options{ListingPages: true}, name)
	var batch []cmapi.Delivery
	for i := range 300 {
		batch = append(batch, d("c", i, 0, int64(i)))
	}
	save(t, paged, batch)
	// Without the purchases, only the pages can answer.
	if _, err := db.Collection("purchases").DeleteMany(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	fresh, _ := openStoreWith(t, mongo.Options{ListingPages: true}, name) // nothing cached
	got := listAll(t, fresh, "c", 50)
	if len(got) != 300 || got[0] != batch[299].ID || got[299] != batch[0].ID {
		t.Fatalf("listed %d purchases from the pages (first %v), want all 300 newest first", len(got), got[:min(3, len(got))])
	}
}
