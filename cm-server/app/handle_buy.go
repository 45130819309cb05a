package app

import (
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// maxIdempotencyKeyLen bounds the Idempotency-Key header.
const maxIdempotencyKeyLen = 255

// idempotencyNamespace seeds the name-based purchase ids of keyed requests. Never
// change it: a retry after an upgrade must still get the same id.
var idempotencyNamespace = uuid.MustParse("6f1f5a52-2b8e-4f0e-9d6c-1b2a8c1e7a10")

// handleBuy validates a purchase and answers 202 only once Kafka acknowledged it.
func handleBuy(log *slog.Logger, producer Producer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UTC()
		if err := checkJSONContentType(r); err != nil {
			httpjson.Error(w, r, log, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, contract.MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				err = contract.Errorf(contract.ETooLarge, "request body is larger than %d bytes", contract.MaxBodyBytes)
			} else {
				err = contract.Errorf(contract.EInvalid, "could not read the request body")
			}
			httpjson.Error(w, r, log, err)
			return
		}
		purchase, err := contract.DecodeBuyRequest(body, now)
		if err != nil {
			httpjson.Error(w, r, log, err)
			return
		}
		id, err := purchaseID(r.Header.Get("Idempotency-Key"), purchase.UserID)
		if err != nil {
			httpjson.Error(w, r, log, err)
			return
		}
		if err := producer.Produce(r.Context(), contract.NewEvent(id, purchase, now)); err != nil {
			httpjson.Error(w, r, log, err)
			return
		}
		httpjson.Encode(w, http.StatusAccepted, contract.BuyAccepted{ID: id, Status: "accepted"})
	}
}

// purchaseID returns a fresh time-ordered UUIDv7, or, for a request carrying an
// Idempotency-Key, a UUID derived from the user and the key: every replica of
// cm-server gives a retry the same id without sharing state, and the consumer
// stores an id once. A different body under a reused key is therefore ignored.
func purchaseID(key, userID string) (string, error) {
	if key == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return "", err
		}
		return id.String(), nil
	}
	if len(key) > maxIdempotencyKeyLen {
		return "", idempotencyKeyError("must be at most 255 characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return "", idempotencyKeyError("may contain only visible ASCII characters")
		}
	}
	return uuid.NewSHA1(idempotencyNamespace, []byte(userID+"\x00"+key)).String(), nil
}

func idempotencyKeyError(problem string) error {
	return &contract.Error{Code: contract.EInvalid, Message: "invalid Idempotency-Key header",
		Fields: []contract.FieldProblem{{Field: "Idempotency-Key", Problem: problem}}}
}

func checkJSONContentType(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return contract.Errorf(contract.EUnsupportedMedia, "Content-Type must be application/json")
	}
	return nil
}
