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
		s, fp, err := NormalizeSSHKey(line)
		if err != nil {
			return nil, mft.Errorf(mft.EINVALID, "ssh_keys[%d]: %s", i, mft.ErrorMessage(err))
		}
		if seen[fp] {
			return nil, mft.Errorf(mft.EINVALID, "ssh_keys[%d] repeats key %s", i, fp)
		}
		seen[fp] = true
		out = append(out, s)
	}
	return out, nil
}

// NormalizeSSHKey parses one authorized_keys line as NormalizeSSHKeys
// does and returns it as "type base64 comment" with its SHA256
// fingerprint, or EINVALID saying what is wrong with it.
func NormalizeSSHKey(line string) (normalized, fingerprint string, err error) {
	key, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil || len(strings.TrimSpace(string(rest))) > 0 {
		return "", "", mft.Errorf(mft.EINVALID, "not a public key in authorized_keys format (ssh-ed25519 AAAA… comment)")
	}
	if len(options) > 0 {
		return "", "", mft.Errorf(mft.EINVALID, "options such as %q are not supported", options[0])
	}
	if err := checkKeyStrength(key); err != nil {
		return "", "", mft.Errorf(mft.EINVALID, "%v", err)
	}
	normalized = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	if comment = strings.TrimSpace(comment); comment != "" {
		normalized += " " + comment
	}
	return normalized, ssh.FingerprintSHA256(key), nil
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
