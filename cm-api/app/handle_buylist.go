package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// handleBuyList answers a page of a user's purchases, newest first.
func handleBuyList(log *slog.Logger, store PurchaseStore, cursors cursorCodec) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		userID, err := contract.UserIDFromPath(chi.URLParam(r, "userid"))
		if err != nil {
			httpjson.Error(w, r, log, err)
			return
		}
		q := r.URL.Query()
		page, err := contract.ParsePage(q.Get("limit"), q.Get("cursor"))
		if err != nil {
			httpjson.Error(w, r, log, err)
			return
		}
		var afterTS time.Time
		var afterID string
		if page.Cursor != "" {
			if afterTS, afterID, err = cursors.Decode(userID, page.Cursor); err != nil {
				httpjson.Error(w, r, log, err)
				return
			}
		}
		// One more than asked tells whether another page exists.
		events, sum, found, err := store.Listing(r.Context(), userID, afterTS, afterID, page.Limit+1)
		if err != nil {
			log.Warn("listing purchases", "userid", userID, "err", err.Error())
			httpjson.Error(w, r, log, contract.Errorf(contract.EUnavailable, "the purchase store is unavailable; retry later"))
			return
		}
		out := contract.PurchasePage{UserID: userID, Purchases: make([]contract.PurchaseView, 0, min(len(events), page.Limit))}
		if found {
			v := sum.View()
			out.User = &v
		}
		for i, e := range events {
			if i == page.Limit {
				last := events[i-1]
				out.NextCursor = cursors.Encode(userID, last.Timestamp, last.ID)
				break
			}
			out.Purchases = append(out.Purchases, view(e))
		}
		httpjson.Encode(w, http.StatusOK, out)
	}
}

// handleUser answers a user's summary: one read by _id.
func handleUser(log *slog.Logger, store PurchaseStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		userID, err := contract.UserIDFromPath(chi.URLParam(r, "userid"))
		if err != nil {
			httpjson.Error(w, r, log, err)
			return
		}
		sum, ok, err := store.User(r.Context(), userID)
		switch {
		case err != nil:
			log.Warn("reading a user summary", "userid", userID, "err", err.Error())
			httpjson.Error(w, r, log, contract.Errorf(contract.EUnavailable, "the purchase store is unavailable; retry later"))
		case !ok:
			httpjson.Error(w, r, log, contract.Errorf(contract.ENotFound, "no purchases of user %s", userID))
		default:
			httpjson.Encode(w, http.StatusOK, sum.View())
		}
	}
}

func view(e contract.Event) contract.PurchaseView {
	return contract.PurchaseView{ID: e.ID, UserID: e.UserID, Username: e.Username,
		Price: contract.FormatPrice(e.PriceCents), Timestamp: e.Timestamp, ReceivedAt: e.ReceivedAt}
}
