// Package platform is the plumbing both services run on and that has nothing to do
// with purchases: layered configuration, logging, Kafka connection settings and a
// graceful HTTP server. Purchase rules live in the contract module instead.
package platform
