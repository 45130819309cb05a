// Small programs for the real test node (hack/node): the OCI image writer, the
// pause program every pod sandbox runs, and the probe the node's own smoke
// step runs in pods. Standard library only. Not part of go.work: built with
// the machine's Go by hack/node/build.sh, like the node's other binaries.
module github.com/scalable-shop/shop/hack/node/oci

go 1.26.0
