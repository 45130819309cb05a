// Package contract holds what cm-server and cm-api must agree on and nothing else:
// the purchase event on the topic, the rules a purchase obeys, the JSON the two HTTP
// APIs speak, and the error type both services translate into HTTP statuses.
//
// It depends on the standard library only, so that either service, the local stack
// and the black-box tests can import it without dragging in a driver.
package contract
