// Package e2e holds the black-box tests of the shop: both services run as real
// processes, built from their production mains, and the tests speak only HTTP and
// the Kafka protocol to them. The infrastructure is the embedded broker and
// FerretDB, or the external broker the environment names (see testenv).
package e2e
