package app

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// handleGetAllUserBuys answers a user's purchases, newest first, one page at a time.
func handleGetAllUserBuys(log *slog.Logger, lookup PurchaseLookup) http.HandlerFunc {
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
		result, err := lookup.Purchases(r.Context(), userID, page)
		if err != nil {
			httpjson.Error(w, r, log, err)
			return
		}
		httpjson.Encode(w, http.StatusOK, result)
	}
}

// handleUser answers a user's summary: purchase count, total spent, first and
// last purchase, latest name.
func handleUser(log *slog.Logger, lookup PurchaseLookup) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		userID, err := contract.UserIDFromPath(chi.URLParam(r, "userid"))
		if err != nil {
			httpjson.Error(w, r, log, err)
			return
		}
		sum, err := lookup.User(r.Context(), userID)
		if err != nil {
			httpjson.Error(w, r, log, err)
			return
		}
		httpjson.Encode(w, http.StatusOK, sum)
	}
}
