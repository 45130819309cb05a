package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack"
	"github.com/scalable-shop/shop/localstack/testenv"
)

// TestMakeRunStack starts what `make run` starts, buys through it, and stops it
// the way Ctrl-C does; the data survives a restart on the same folder.
func TestMakeRunStack(t *testing.T) {
	testenv.SkipShort(t)
	dir := t.TempDir()
	opts := func() localstack.Options {
		return localstack.Options{DataDir: dir, ServerAddr: testenv.FreeAddr(t), APIAddr: testenv.FreeAddr(t),
			KafkaAddr: testenv.FreeAddr(t), MongoAddr: testenv.FreeAddr(t), LogLevel: "warn",
			Stdout: io.Discard, Stderr: io.Discard}
	}
	ctx, cancel := context.WithCancel(context.Background())
	shop, err := localstack.Start(ctx, opts())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	res, err := http.Post(shop.ServerURL+"/buy", "application/json",
		strings.NewReader(`{"username":"Ada Lovelace","userid":"ada","price":"12.50"}`))
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("buy: %v %v", res, err)
	}
	var acc contract.BuyAccepted
	err = json.NewDecoder(res.Body).Decode(&acc)
	res.Body.Close()
	// An empty id would make waitFor's bytes.Contains true on any answer.
	if err != nil || acc.ID == "" {
		t.Fatalf("buy answered %+v, %v: want a purchase id", acc, err)
	}
	waitFor(t, shop.ServerURL, acc.ID)
	cancel()
	if err := shop.Wait(); err != nil {
		t.Fatalf("the shop did not stop cleanly: %v", err)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	again, err := localstack.Start(ctx2, opts())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, again.ServerURL, acc.ID)
	cancel2()
	if err := again.Wait(); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, base, id string) {
	t.Helper()
	testenv.WaitFor(t, 30*time.Second, "purchase "+id, func() bool {
		res, err := http.Get(base + "/getAllUserBuys/ada")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode == 200 && bytes.Contains(b, []byte(id))
	})
}
