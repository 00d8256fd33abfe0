package mft

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// AuditAS2 is the protocol of what arrives and leaves by AS2.
const AuditAS2 = "as2"

// AS2 events: a message received or sent (ok, or denied/error with the
// reason), a station or partner changed, a certificate about to expire.
const (
	EventAS2Received           = "as2.received"
	EventAS2Sent               = "as2.sent"
	EventAS2StationUpdated     = "as2.station.updated"
	EventAS2PartnerCreated     = "as2.partner.created"
	EventAS2PartnerUpdated     = "as2.partner.updated"
	EventAS2PartnerDeleted     = "as2.partner.deleted"
	EventAS2CertificateExpires = "as2.certificate.expiring"
)

// Encryption algorithms of AS2 messages, and the MIC (digest) algorithms.
const (
	AS2AES128CBC = "aes128-cbc"
	AS2AES256CBC = "aes256-cbc"
	AS2AES128GCM = "aes128-gcm"
	AS2AES256GCM = "aes256-gcm"
	AS2SHA256    = "sha256"
	AS2SHA384    = "sha384"
	AS2SHA512    = "sha512"
	AS2SHA1      = "sha1"
)

// AS2 MDN modes: the receipt in the HTTP answer, posted back later, or
// none asked.
const (
	AS2MDNSync  = "sync"
	AS2MDNAsync = "async"
	AS2MDNNone  = "none"
)

// AS2Station is Depot's own AS2 identity: its AS2 id and the key and
// certificate it signs and decrypts with. PrivateKey is PEM, sealed.
type AS2Station struct {
	AS2ID       string    `json:"as2_id"`
	Certificate string    `json:"certificate"`
	PrivateKey  string    `json:"private_key,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// AS2StationChange is what an administrator changes of the station: the
// AS2 id, and a new key and certificate, uploaded (PEM) or generated.
type AS2StationChange struct {
	AS2ID       *string
	Certificate *string
	PrivateKey  *string
	Generate    bool
	// Days is a generated certificate's validity (default 730).
	Days int
}

// CertificateInfo is what an administrator checks of a certificate.
type CertificateInfo struct {
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	Fingerprint string    `json:"fingerprint_sha256"`
	Expired     bool      `json:"expired"`
}

// AS2Partner is a trading partner: who it is (AS2 id and certificates),
// where its messages go (User's Folder, through the file service), and
// how Depot sends to it (URL, algorithms, the receipt it asks for).
type AS2Partner struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	AS2ID string `json:"as2_id"`
	// Certificate verifies the partner's signatures (PEM);
	// EncryptionCertificate is the one Depot encrypts to (default: the same).
	Certificate           string `json:"certificate"`
	EncryptionCertificate string `json:"encryption_certificate,omitempty"`
	// User receives the partner's files in Folder (a path as that user
	// sees it), with the user's permissions, quotas and folder rules.
	User   string `json:"user"`
	Folder string `json:"folder"`
	// RequireSigned and RequireEncrypted refuse inbound messages that are
	// not; Sign, Encrypt and Compress shape outbound ones.
	RequireSigned    bool   `json:"require_signed"`
	RequireEncrypted bool   `json:"require_encrypted"`
	URL              string `json:"url,omitempty"`
	Sign             bool   `json:"sign"`
	Encrypt          bool   `json:"encrypt"`
	Compress         bool   `json:"compress"`
	Encryption       string `json:"encryption"`
	MIC              string `json:"mic"`
	// MDN is the receipt Depot asks for when it sends (sync, async, none);
	// SignedMDN asks for it signed and refuses one that is not.
	MDN       string    `json:"mdn"`
	SignedMDN bool      `json:"signed_mdn"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// as2ID is what RFC 4130 allows in AS2-From and AS2-To: printable ASCII,
// 1 to 128 characters (quoted when it holds spaces).
var as2ID = regexp.MustCompile(`^[!-~][ -~]{0,127}$`)

// ValidAS2ID reports whether id can be an AS2 identifier.
func ValidAS2ID(id string) bool { return as2ID.MatchString(id) && !strings.ContainsAny(id, `"\`) }

// Validate reports the first problem, naming the field. Certificates
// are parsed by the as2 package.
func (p *AS2Partner) Validate() error {
	switch {
	case strings.TrimSpace(p.Name) == "" || len(p.Name) > 200:
		return Errorf(EINVALID, "name is required (at most 200 characters)")
	case !ValidAS2ID(p.AS2ID):
		return Errorf(EINVALID, "as2_id is required: 1 to 128 printable ASCII characters, no quote or backslash")
	case p.Certificate == "":
		return Errorf(EINVALID, "certificate is required: the partner's X.509 certificate in PEM")
	case p.User == "":
		return Errorf(EINVALID, "user is required: the Depot user whose folder receives the partner's files")
	case p.Folder == "" || p.Folder[0] != '/':
		return Errorf(EINVALID, "folder is required: an absolute path as the user sees it, such as /as2/in")
	}
	switch p.Encryption {
	case AS2AES128CBC, AS2AES256CBC, AS2AES128GCM, AS2AES256GCM:
	default:
		return Errorf(EINVALID, "encryption must be aes128-cbc, aes256-cbc, aes128-gcm or aes256-gcm")
	}
	switch p.MIC {
	case AS2SHA256, AS2SHA384, AS2SHA512, AS2SHA1:
	default:
		return Errorf(EINVALID, "mic must be sha256, sha384, sha512 or sha1")
	}
	switch p.MDN {
	case AS2MDNSync, AS2MDNAsync, AS2MDNNone:
	default:
		return Errorf(EINVALID, "mdn must be sync, async or none")
	}
	if p.URL != "" {
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return Errorf(EINVALID, "url must be the partner's http or https AS2 address, such as https://as2.example.com/as2")
		}
	}
	return nil
}

// AS2 message directions and states.
const (
	AS2In  = "in"
	AS2Out = "out"
	// AS2Processed: stored (in) or acknowledged by a good MDN (out);
	// AS2Failed: refused (in) or failed (out), Error says why; AS2Pending:
	// sent, its asynchronous MDN not yet back.
	AS2Processed = "processed"
	AS2Failed    = "failed"
	AS2Pending   = "pending"
)

// AS2Message is one message received or sent and its receipt, kept as a
// trading partner's auditors ask.
type AS2Message struct {
	ID         string `json:"id"`
	Partner    string `json:"partner,omitempty"`
	Direction  string `json:"direction"`
	MessageID  string `json:"message_id"`
	From       string `json:"as2_from"`
	To         string `json:"as2_to"`
	File       string `json:"file,omitempty"`
	Size       int64  `json:"size"`
	Signed     bool   `json:"signed"`
	Encrypted  bool   `json:"encrypted"`
	Compressed bool   `json:"compressed"`
	// MIC is the Received-Content-MIC ("base64, sha-256") computed here;
	// for outbound, the MDN's must match it.
	MIC         string            `json:"mic,omitempty"`
	MDN         string            `json:"mdn"`
	MDNSigned   bool              `json:"mdn_signed"`
	Disposition string            `json:"disposition,omitempty"`
	Status      string            `json:"status"`
	Error       string            `json:"error,omitempty"`
	IP          string            `json:"ip,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	MDNAt       *time.Time        `json:"mdn_at,omitempty"`
}

// AS2Filter selects messages; zero fields match all.
type AS2Filter struct {
	Page
	Partner   string
	Direction string
}

// AS2Store keeps the station, the partners and the messages. A message
// id is unique per direction and partner: RecordAS2Message refuses a
// second inbound one with ECONFLICT.
type AS2Store interface {
	FindAS2Station(ctx context.Context) (*AS2Station, error)
	PutAS2Station(ctx context.Context, st *AS2Station) error

	FindAS2Partner(ctx context.Context, id string) (*AS2Partner, error)
	FindAS2PartnerByAS2ID(ctx context.Context, as2ID string) (*AS2Partner, error)
	FindAS2Partners(ctx context.Context, page Page) ([]*AS2Partner, bool, error)
	CreateAS2Partner(ctx context.Context, p *AS2Partner) error
	PutAS2Partner(ctx context.Context, p *AS2Partner) error
	DeleteAS2Partner(ctx context.Context, id string) error

	RecordAS2Message(ctx context.Context, m *AS2Message) error
	PutAS2Message(ctx context.Context, m *AS2Message) error
	FindAS2Message(ctx context.Context, direction, partner, messageID string) (*AS2Message, error)
	FindAS2Messages(ctx context.Context, f AS2Filter) ([]*AS2Message, bool, error)
	// DeleteAS2MessagesBefore removes the messages recorded before t (and
	// the Message-IDs they claimed) and returns how many.
	DeleteAS2MessagesBefore(ctx context.Context, t time.Time) (int, error)
}

// AS2Request is an HTTP request to the AS2 station as the protocol layer
// read it; AS2Answer is what to answer.
type AS2Request struct {
	Header http.Header
	Body   []byte
	IP     string
}

// AS2Answer is an HTTP answer: status, headers, body.
type AS2Answer struct {
	Status int
	Header http.Header
	Body   []byte
}
