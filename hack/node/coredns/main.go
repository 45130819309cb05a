// Command coredns is CoreDNS with only the plugins a test node needs: cluster
// names from the API server (kubernetes), a cache, and the health and ready
// endpoints kubelet probes. There is deliberately no forward plugin: a name
// outside cluster.local gets an answer from nobody, so no query leaves the node.
package main

import (
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"

	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}
