package as2

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"math/big"

	"github.com/smallstep/pkcs7"
)

// AES-GCM as CMS carries it: AuthEnvelopedData (RFC 5083, 5084), what
// OpenSSL writes for -aes-*-gcm. smallstep/pkcs7 reads and writes GCM
// only inside EnvelopedData, which OpenSSL and other AS2 software do not
// read, so the framing is here: encoding/asn1 around crypto/rsa key
// transport and crypto/cipher's GCM (no primitive of Depot's own).

var (
	oidAuthEnvelopedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 23}
	oidRSAESOAEP         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 7}
	oidSHA256            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type keyTransRecipient struct {
	Version   int
	Recipient asn1.RawValue // issuerAndSerialNumber, or [0] subjectKeyIdentifier
	Algorithm pkix.AlgorithmIdentifier
	Key       []byte
}

type gcmParameters struct {
	Nonce  []byte
	ICVLen int `asn1:"optional,default:12"`
}

type authEnvelopedData struct {
	Version    int
	Recipients []asn1.RawValue `asn1:"set"`
	Content    struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Encrypted   asn1.RawValue `asn1:"tag:0,optional"`
	}
	AuthAttrs asn1.RawValue `asn1:"tag:1,optional"`
	MAC       []byte
}

// openAuthEnveloped decrypts AuthEnvelopedData (AES-GCM) with the
// station's key; the tag is checked by GCM.
func openAuthEnveloped(der []byte, cert *x509.Certificate, key *rsa.PrivateKey) ([]byte, error) {
	var ci contentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) > 0 {
		return nil, errors.New("the message is not DER AuthEnvelopedData")
	}
	var ad authEnvelopedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &ad); err != nil {
		return nil, fmt.Errorf("the AuthEnvelopedData is malformed: %w", err)
	}
	var cek []byte
	for _, raw := range ad.Recipients {
		var r keyTransRecipient
		if _, err := asn1.Unmarshal(raw.FullBytes, &r); err != nil || !recipientIs(r, cert) {
			continue
		}
		var err error
		switch {
		case r.Algorithm.Algorithm.Equal(pkcs7.OIDEncryptionAlgorithmRSA):
			cek, err = rsa.DecryptPKCS1v15(nil, key, r.Key)
		case r.Algorithm.Algorithm.Equal(oidRSAESOAEP):
			cek, err = rsa.DecryptOAEP(oaepHash(r.Algorithm), nil, key, r.Key, nil)
		default:
			err = errors.New("the key transport algorithm is not RSA")
		}
		if err != nil {
			return nil, fmt.Errorf("the content key cannot be decrypted: %w", err)
		}
		break
	}
	if cek == nil {
		return nil, errors.New("the message is not encrypted for the station's certificate")
	}
	alg := ad.Content.Algorithm.Algorithm
	if !alg.Equal(pkcs7.OIDEncryptionAlgorithmAES128GCM) && !alg.Equal(pkcs7.OIDEncryptionAlgorithmAES256GCM) {
		return nil, fmt.Errorf("the content is encrypted with %v, not AES-GCM", alg)
	}
	var params gcmParameters
	if _, err := asn1.Unmarshal(ad.Content.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, fmt.Errorf("the GCM parameters are malformed: %w", err)
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(params.Nonce))
	if err != nil || params.ICVLen != len(ad.MAC) || len(ad.MAC) != gcm.Overhead() {
		return nil, errors.New("the GCM nonce or tag length is not one Depot takes (16-byte tags)")
	}
	encrypted := ad.Content.Encrypted.Bytes
	if ad.Content.Encrypted.IsCompound {
		if encrypted, err = concatOctets(ad.Content.Encrypted.Bytes); err != nil {
			return nil, fmt.Errorf("the encrypted content is malformed: %w", err)
		}
	}
	var aad []byte
	if len(ad.AuthAttrs.FullBytes) > 0 {
		// The MAC covers the attributes' DER with the SET OF tag.
		aad = append([]byte{0x31}, ad.AuthAttrs.FullBytes[1:]...)
	}
	out, err := gcm.Open(nil, params.Nonce, append(encrypted, ad.MAC...), aad)
	if err != nil {
		return nil, errors.New("the message does not decrypt: its GCM tag does not match")
	}
	return out, nil
}

func oaepHash(alg pkix.AlgorithmIdentifier) hash.Hash {
	var params struct {
		Hash pkix.AlgorithmIdentifier `asn1:"explicit,tag:0,optional"`
	}
	if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &params); err == nil && params.Hash.Algorithm.Equal(oidSHA256) {
		return sha256.New()
	}
	return sha1.New()
}

// recipientIs reports whether r names cert (issuer and serial, or the
// subject key identifier).
func recipientIs(r keyTransRecipient, cert *x509.Certificate) bool {
	if r.Recipient.Class == asn1.ClassContextSpecific && r.Recipient.Tag == 0 {
		return len(cert.SubjectKeyId) > 0 && bytes.Equal(r.Recipient.Bytes, cert.SubjectKeyId)
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(r.Recipient.FullBytes, &ias); err != nil || ias.Serial == nil {
		return false
	}
	return bytes.Equal(ias.Issuer.FullBytes, cert.RawIssuer) && ias.Serial.Cmp(cert.SerialNumber) == 0
}

// sealAuthEnveloped encrypts content with AES-GCM for the recipient's
// certificate (RSA PKCS #1 v1.5 key transport, as OpenSSL writes).
func sealAuthEnveloped(content []byte, cert *x509.Certificate, keyLen int) ([]byte, error) {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("the partner's certificate is not RSA")
	}
	cek := make([]byte, keyLen)
	nonce := make([]byte, 12)
	rand.Read(cek)
	rand.Read(nonce)
	encKey, err := rsa.EncryptPKCS1v15(rand.Reader, pub, cek)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sealed := gcm.Seal(nil, nonce, content, nil)
	ct, tag := sealed[:len(sealed)-gcm.Overhead()], sealed[len(sealed)-gcm.Overhead():]
	oid := pkcs7.OIDEncryptionAlgorithmAES128GCM
	if keyLen == 32 {
		oid = pkcs7.OIDEncryptionAlgorithmAES256GCM
	}
	params, err := asn1.Marshal(gcmParameters{Nonce: nonce, ICVLen: gcm.Overhead()})
	if err != nil {
		return nil, err
	}
	recipient, err := asn1.Marshal(keyTransRecipient{
		Recipient: asn1.RawValue{FullBytes: mustMarshal(issuerAndSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber})},
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: pkcs7.OIDEncryptionAlgorithmRSA, Parameters: asn1.NullRawValue},
		Key:       encKey,
	})
	if err != nil {
		return nil, err
	}
	var ad authEnvelopedData
	ad.Recipients = []asn1.RawValue{{FullBytes: recipient}}
	ad.Content.ContentType = oidData
	ad.Content.Algorithm = pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: params}}
	ad.Content.Encrypted = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ct}
	ad.MAC = tag
	inner, err := asn1.Marshal(ad)
	if err != nil {
		return nil, err
	}
	return wrapContent(oidAuthEnvelopedData, inner)
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
