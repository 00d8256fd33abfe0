package auth

import (
	"crypto/rsa"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"depot/mft"
)

// minRSABits is the smallest RSA key accepted for login.
const minRSABits = 2048

// NormalizeSSHKeys parses authorized_keys lines and returns them as
// "type base64 comment", refusing DSA keys, RSA keys under 2048 bits,
// options and duplicates with an EINVALID error naming the line.
func NormalizeSSHKeys(lines []string) ([]string, error) {
	out := make([]string, 0, len(lines))
	seen := map[string]bool{}
	for i, line := range lines {
		key, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil || len(strings.TrimSpace(string(rest))) > 0 {
			return nil, mft.Errorf(mft.EINVALID, "ssh_keys[%d] is not a public key in authorized_keys format", i)
		}
		if len(options) > 0 {
			return nil, mft.Errorf(mft.EINVALID, "ssh_keys[%d]: options such as %q are not supported", i, options[0])
		}
		if err := checkKeyStrength(key); err != nil {
			return nil, mft.Errorf(mft.EINVALID, "ssh_keys[%d]: %v", i, err)
		}
		fp := ssh.FingerprintSHA256(key)
		if seen[fp] {
			return nil, mft.Errorf(mft.EINVALID, "ssh_keys[%d] repeats key %s", i, fp)
		}
		seen[fp] = true
		s := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
		if comment = strings.TrimSpace(comment); comment != "" {
			s += " " + comment
		}
		out = append(out, s)
	}
	return out, nil
}

func checkKeyStrength(key ssh.PublicKey) error {
	switch key.Type() {
	case ssh.KeyAlgoDSA:
		return fmt.Errorf("DSA keys are not accepted; use ed25519")
	case ssh.KeyAlgoRSA:
		ck, ok := key.(ssh.CryptoPublicKey)
		if !ok {
			return fmt.Errorf("unreadable RSA key")
		}
		if rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey); !ok || rk.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA keys must have at least %d bits", minRSABits)
		}
	}
	return nil
}
