// Command etcd is the etcd server, built from source for the local test
// control plane (Debian's etcd 3.4 is too old for Kubernetes 1.36).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
