package as2

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/smallstep/pkcs7"

	"depot/mft"
)

// The CMS work of AS2 on smallstep/pkcs7: detached signatures, enveloped
// data, and RFC 3274 compressed data (zlib, which the library lacks:
// ASN.1 framing by encoding/asn1 around compress/zlib).

// micHash maps a partner's MIC setting to its hash, its name in MDNs and
// micalg parameters, and its CMS digest OID.
var micHash = map[string]struct {
	hash crypto.Hash
	name string
	oid  asn1.ObjectIdentifier
}{
	mft.AS2SHA256: {crypto.SHA256, "sha-256", pkcs7.OIDDigestAlgorithmSHA256},
	mft.AS2SHA384: {crypto.SHA384, "sha-384", pkcs7.OIDDigestAlgorithmSHA384},
	mft.AS2SHA512: {crypto.SHA512, "sha-512", pkcs7.OIDDigestAlgorithmSHA512},
	mft.AS2SHA1:   {crypto.SHA1, "sha1", pkcs7.OIDDigestAlgorithmSHA1}, // RFC 4130's spelling
}

// micAlgOf reads a micalg name as senders write it ("sha-256", "sha256",
// "SHA1") and returns Depot's name for it, or "".
func micAlgOf(name string) string {
	n := bytes.ToLower([]byte(name))
	n = bytes.ReplaceAll(n, []byte("-"), nil)
	switch string(bytes.TrimSpace(n)) {
	case "sha256":
		return mft.AS2SHA256
	case "sha384":
		return mft.AS2SHA384
	case "sha512":
		return mft.AS2SHA512
	case "sha1":
		return mft.AS2SHA1
	}
	return ""
}

// sign returns a detached CMS signature of content (DER).
func sign(content []byte, cert *x509.Certificate, key crypto.PrivateKey, mic string) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(micHash[mic].oid)
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, err
	}
	sd.Detach()
	return sd.Finish()
}

// verify checks a detached signature of content against the partner's
// certificate alone: a signature by any other key fails, whatever
// certificates the message carries. It returns the digest algorithm the
// signer used, for the MIC.
func verify(sig, content []byte, cert *x509.Certificate) (string, error) {
	p7, err := pkcs7.Parse(sig)
	if err != nil {
		return "", fmt.Errorf("the signature is not CMS signed data: %w", err)
	}
	if len(p7.Signers) != 1 {
		return "", errors.New("the signature must have exactly one signer")
	}
	p7.Content = content
	p7.Certificates = []*x509.Certificate{cert}
	if err := p7.Verify(); err != nil {
		return "", fmt.Errorf("the signature does not verify with the partner's certificate: %w", err)
	}
	for name, h := range micHash {
		if p7.Signers[0].DigestAlgorithm.Algorithm.Equal(h.oid) {
			return name, nil
		}
	}
	return "", errors.New("the signature's digest algorithm is not one Depot accepts (SHA-1, SHA-2)")
}

// encryptMu guards the library's package-level algorithm choice.
var encryptMu sync.Mutex

var encryptionAlg = map[string]int{
	mft.AS2AES128CBC: pkcs7.EncryptionAlgorithmAES128CBC,
	mft.AS2AES256CBC: pkcs7.EncryptionAlgorithmAES256CBC,
	mft.AS2AES128GCM: pkcs7.EncryptionAlgorithmAES128GCM,
	mft.AS2AES256GCM: pkcs7.EncryptionAlgorithmAES256GCM,
}

// encrypt envelopes content for the recipient's certificate (RSA keys):
// AES-CBC in EnvelopedData, AES-GCM in AuthEnvelopedData (gcm.go).
func encrypt(content []byte, cert *x509.Certificate, alg string) ([]byte, error) {
	switch alg {
	case mft.AS2AES128GCM:
		return sealAuthEnveloped(content, cert, 16)
	case mft.AS2AES256GCM:
		return sealAuthEnveloped(content, cert, 32)
	}
	encryptMu.Lock()
	defer encryptMu.Unlock()
	pkcs7.ContentEncryptionAlgorithm = encryptionAlg[alg]
	pkcs7.KeyEncryptionAlgorithm = pkcs7.OIDEncryptionAlgorithmRSA
	return pkcs7.Encrypt(content, []*x509.Certificate{cert})
}

// decrypt opens enveloped data (or AES-GCM auth-enveloped data) with the
// station's key.
func decrypt(der []byte, cert *x509.Certificate, key *rsa.PrivateKey) ([]byte, error) {
	if isContent(der, oidAuthEnvelopedData) {
		out, err := openAuthEnveloped(der, cert, key)
		if err != nil {
			return nil, fmt.Errorf("the message cannot be decrypted with the station's key: %w", err)
		}
		return out, nil
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("the message is not CMS enveloped data: %w", err)
	}
	out, err := p7.Decrypt(cert, key)
	if err != nil {
		return nil, fmt.Errorf("the message cannot be decrypted with the station's key: %w", err)
	}
	return out, nil
}

// RFC 3274 compressed data.
var (
	oidCompressedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 9}
	oidZlib           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 3, 8}
	oidData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
)

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type encapContent struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type compressedData struct {
	Version      int
	Algorithm    algorithmIdentifier
	EncapContent encapContent
}

// compress wraps content in CMS compressed data (zlib).
func compress(content []byte) ([]byte, error) {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	if _, err := w.Write(content); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	octets, err := asn1.Marshal(z.Bytes())
	if err != nil {
		return nil, err
	}
	// The [0] EXPLICIT wrappers are written out: encoding/asn1 does not
	// add them around a RawValue.
	inner, err := asn1.Marshal(struct {
		Version      int
		Algorithm    algorithmIdentifier
		EncapContent struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue
		}
	}{Algorithm: algorithmIdentifier{Algorithm: oidZlib}, EncapContent: struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}{oidData, explicit0(octets)}})
	if err != nil {
		return nil, err
	}
	return wrapContent(oidCompressedData, inner)
}

// wrapContent is CMS ContentInfo: the content type and the content's DER.
func wrapContent(contentType asn1.ObjectIdentifier, der []byte) ([]byte, error) {
	return asn1.Marshal(struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}{contentType, explicit0(der)})
}

// isContent reports whether der is CMS ContentInfo of contentType.
func isContent(der []byte, contentType asn1.ObjectIdentifier) bool {
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Rest        asn1.RawValue `asn1:"optional"`
	}
	_, err := asn1.Unmarshal(der, &ci)
	return err == nil && ci.ContentType.Equal(contentType)
}

// explicit0 wraps DER in a [0] EXPLICIT tag.
func explicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

// decompress opens CMS compressed data, reading at most limit bytes out
// of it: a small message that inflates past the cap is refused.
func decompress(der []byte, limit int64) ([]byte, error) {
	var ci contentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) > 0 || !ci.ContentType.Equal(oidCompressedData) {
		return nil, errors.New("the message is not CMS compressed data")
	}
	var cd compressedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &cd); err != nil {
		return nil, fmt.Errorf("the compressed data is malformed: %w", err)
	}
	if !cd.Algorithm.Algorithm.Equal(oidZlib) {
		return nil, errors.New("the compressed data uses an algorithm other than zlib")
	}
	z, err := octetString(cd.EncapContent.Content.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the compressed data is malformed: %w", err)
	}
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("the compressed data is not zlib: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("the compressed data is damaged: %w", err)
	}
	if int64(len(out)) > limit {
		return nil, errTooLarge
	}
	return out, nil
}

// octetString reads an OCTET STRING, primitive or (BER) constructed.
func octetString(der []byte) ([]byte, error) {
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(der, &raw); err != nil {
		return nil, err
	}
	if !raw.IsCompound {
		return raw.Bytes, nil
	}
	return concatOctets(raw.Bytes)
}

// concatOctets joins the OCTET STRINGs of a constructed one's contents.
func concatOctets(b []byte) ([]byte, error) {
	var out []byte
	for rest := b; len(rest) > 0; {
		var part []byte
		var err error
		if rest, err = asn1.Unmarshal(rest, &part); err != nil {
			return nil, err
		}
		out = append(out, part...)
	}
	return out, nil
}
