package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// hostKeyKinds are the host key algorithms a pinned fingerprint may be
// of, one kind at a time. A fingerprint does not say its kind, and a
// server with several host keys shows the one the client prefers
// (x/crypto prefers ECDSA and RSA to Ed25519), so a handshake that meets
// another key than the pinned one tries the next kind the server has.
var hostKeyKinds = [][]string{
	{ssh.KeyAlgoED25519},
	{ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521},
	{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256},
}

// pinnedKinds remembers the kind each pinned fingerprint turned out to be,
// so later connections negotiate it first.
var pinnedKinds sync.Map // fingerprint → int (index in hostKeyKinds)

// pinnedHandshake opens an SSH connection to addr whose server proves the
// host key pinned (its SHA256 fingerprint), and nothing else: no trust on
// first use. seen is the key proved, or after a refusal the server's
// first key shown.
func pinnedHandshake(ctx context.Context, addr, pinned string, config *ssh.ClientConfig) (sc ssh.Conn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request, seen string, err error) {
	pin := strings.TrimRight(pinned, "=")
	order := []int{0, 1, 2}
	if k, ok := pinnedKinds.Load(pin); ok {
		order = append([]int{k.(int)}, slices.DeleteFunc(order, func(i int) bool { return i == k.(int) })...)
	}
	var shown []string // the server's keys that are not the pinned one
	for _, kind := range order {
		cfg := *config
		cfg.HostKeyAlgorithms = hostKeyKinds[kind]
		var got string
		cfg.HostKeyCallback = func(_ string, _ net.Addr, key ssh.PublicKey) error {
			got = ssh.FingerprintSHA256(key)
			if strings.TrimRight(got, "=") != pin {
				return errWrongKey
			}
			return nil
		}
		raw, err := (&net.Dialer{Timeout: Timeout}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, nil, nil, seen, err
		}
		sc, chans, reqs, err = ssh.NewClientConn(raw, addr, &cfg)
		if got != "" && seen == "" {
			seen = got
		}
		if err == nil {
			pinnedKinds.Store(pin, kind)
			return sc, chans, reqs, got, nil
		}
		raw.Close()
		switch {
		case got != "" && strings.Contains(err.Error(), errWrongKey.Error()):
			shown = append(shown, got)
		case strings.Contains(err.Error(), "no common algorithm for host key"):
		default:
			return nil, nil, nil, seen, err
		}
	}
	if len(shown) == 0 {
		return nil, nil, nil, seen, fmt.Errorf("the server has no Ed25519, ECDSA or RSA (SHA-2) host key to prove the pinned %s", pinned)
	}
	return nil, nil, nil, seen, fmt.Errorf("the server's host key is %s, not the pinned %s: refusing to connect (update host_key if the server's key really changed)",
		strings.Join(shown, " or "), pinned)
}

// errWrongKey is the handshake's refusal of a host key other than the pinned one.
var errWrongKey = errors.New("host key is not the pinned one")
