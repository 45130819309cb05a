package app

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// jwk is one key of a JSON Web Key Set (RFC 7517). Only public signing keys of
// the kinds cm-server verifies are read: RSA (RS256) and EC P-256 (ES256).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	// RSA
	N string `json:"n"`
	E string `json:"e"`
	// EC
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// verificationKey is a parsed key with the one algorithm it verifies.
type verificationKey struct {
	kid string
	alg string // "RS256" or "ES256"
	key crypto.PublicKey
}

// minRSABits refuses RSA keys too short to be safe.
const minRSABits = 2048

// parseJWKS reads a JSON Web Key Set. Keys that are not for signatures, of other
// types or curves, or that name another algorithm, are skipped; a malformed key of
// a supported type is an error (a typo should not silently drop a key). It fails
// if no usable key remains.
func parseJWKS(data []byte) ([]verificationKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	var out []verificationKey
	kids := map[string]bool{}
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var (
			vk  verificationKey
			err error
		)
		switch k.Kty {
		case "RSA":
			if k.Alg != "" && k.Alg != "RS256" {
				continue
			}
			vk, err = rsaKey(k)
		case "EC":
			if k.Crv != "P-256" || k.Alg != "" && k.Alg != "ES256" {
				continue
			}
			vk, err = ecKey(k)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %v", i, k.Kid, err)
		}
		if kids[vk.kid+"\x00"+vk.alg] {
			return nil, fmt.Errorf("key %d: kid %q appears twice for %s", i, k.Kid, vk.alg)
		}
		kids[vk.kid+"\x00"+vk.alg] = true
		out = append(out, vk)
	}
	if len(out) == 0 {
		return nil, errors.New("holds no RSA (RS256) or EC P-256 (ES256) signing key")
	}
	return out, nil
}

func rsaKey(k jwk) (verificationKey, error) {
	n, err := b64uint(k.N)
	if err != nil {
		return verificationKey{}, fmt.Errorf("n: %v", err)
	}
	e, err := b64uint(k.E)
	if err != nil {
		return verificationKey{}, fmt.Errorf("e: %v", err)
	}
	if n.BitLen() < minRSABits {
		return verificationKey{}, fmt.Errorf("RSA modulus has %d bits; at least %d are required", n.BitLen(), minRSABits)
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return verificationKey{}, errors.New("RSA exponent is not a small odd number")
	}
	return verificationKey{kid: k.Kid, alg: "RS256", key: &rsa.PublicKey{N: n, E: int(e.Int64())}}, nil
}

func ecKey(k jwk) (verificationKey, error) {
	x, err := b64fixed(k.X, 32)
	if err != nil {
		return verificationKey{}, fmt.Errorf("x: %v", err)
	}
	y, err := b64fixed(k.Y, 32)
	if err != nil {
		return verificationKey{}, fmt.Errorf("y: %v", err)
	}
	// ParseUncompressedPublicKey checks that the point is on the curve.
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return verificationKey{}, fmt.Errorf("not a P-256 public key: %v", err)
	}
	return verificationKey{kid: k.Kid, alg: "ES256", key: pub}, nil
}

// b64 decodes base64url without padding (tolerating padding).
func b64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func b64uint(s string) (*big.Int, error) {
	b, err := b64(s)
	if err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}

// b64fixed decodes a coordinate of exactly size bytes (RFC 7518 section 6.2.1.2).
func b64fixed(s string, size int) ([]byte, error) {
	b, err := b64(s)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("is %d bytes, want %d", len(b), size)
	}
	return b, nil
}
