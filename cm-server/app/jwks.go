package app

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// minRSABits refuses RSA keys too short to be safe.
const minRSABits = 2048

// jwkHead is what parseJWKS reads of a key before go-jose parses it: whether
// cm-server uses it at all.
type jwkHead struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
}

// parseJWKS reads a JSON Web Key Set (RFC 7517) with go-jose. Only public
// signing keys of the kinds cm-server verifies are kept: RSA (RS256) and EC
// P-256 (ES256), each with its one algorithm in Algorithm. Keys that are not
// for signatures, of other types or curves, or that name another algorithm,
// are skipped (go-jose would refuse the whole set for one key it does not
// support); a malformed key of a supported type is an error (a typo should not
// silently drop a key), and so is an RSA key go-jose accepts but cm-server does
// not: a modulus under 2048 bits, or an exponent that is not a small odd
// number. It fails if no usable key remains.
func parseJWKS(data []byte) (jose.JSONWebKeySet, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	var out jose.JSONWebKeySet
	kids := map[string]bool{}
	for i, raw := range set.Keys {
		var head jwkHead
		if err := json.Unmarshal(raw, &head); err != nil {
			return jose.JSONWebKeySet{}, fmt.Errorf("key %d: %v", i, err)
		}
		var alg jose.SignatureAlgorithm
		switch {
		case head.Use != "" && head.Use != "sig":
			continue
		case head.Kty == "RSA" && (head.Alg == "" || head.Alg == string(jose.RS256)):
			alg = jose.RS256
		case head.Kty == "EC" && head.Crv == "P-256" && (head.Alg == "" || head.Alg == string(jose.ES256)):
			alg = jose.ES256
		default:
			continue
		}
		k, err := parseJWK(raw, alg)
		if err != nil {
			return jose.JSONWebKeySet{}, fmt.Errorf("key %d (kid %q): %v", i, head.Kid, err)
		}
		if kids[k.KeyID+"\x00"+k.Algorithm] {
			return jose.JSONWebKeySet{}, fmt.Errorf("key %d: kid %q appears twice for %s", i, k.KeyID, k.Algorithm)
		}
		kids[k.KeyID+"\x00"+k.Algorithm] = true
		out.Keys = append(out.Keys, k)
	}
	if len(out.Keys) == 0 {
		return jose.JSONWebKeySet{}, errors.New("holds no RSA (RS256) or EC P-256 (ES256) signing key")
	}
	return out, nil
}

// parseJWK parses one key of a type parseJWKS uses, keeping only its public part.
func parseJWK(raw json.RawMessage, alg jose.SignatureAlgorithm) (jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	// go-jose checks the encoding, EC coordinates of the curve's size and on
	// the curve, and RSA exponents that fit an int.
	if err := k.UnmarshalJSON(raw); err != nil {
		return jose.JSONWebKey{}, err
	}
	k = k.Public()
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return jose.JSONWebKey{}, fmt.Errorf("RSA modulus has %d bits; at least %d are required", pub.N.BitLen(), minRSABits)
		}
		if pub.E < 3 || pub.E > 1<<31-1 || pub.E%2 == 0 {
			return jose.JSONWebKey{}, errors.New("RSA exponent is not a small odd number")
		}
	case *ecdsa.PublicKey:
	default:
		return jose.JSONWebKey{}, fmt.Errorf("not a public %s key", alg)
	}
	k.Algorithm = string(alg)
	return k, nil
}
