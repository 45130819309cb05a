package mongo_test

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/scalable-shop/shop/platform/testinfra"
)

// infra is the MongoDB-wire server every test of the package shares, each in a
// database of its own: FerretDB as a separate process, or MONGO_URI.
var infra *testinfra.Infra

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// FerretDB as a process takes seconds: every test here needs it.
		fmt.Println("skipping the store's tests under -short: they need FerretDB")
		os.Exit(0)
	}
	var err error
	if infra, err = testinfra.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	infra.Close()
	os.Exit(code)
}

// database returns a database name no other test uses.
func database() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "shop_" + hex.EncodeToString(b)
}
