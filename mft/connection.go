package mft

import (
	"context"
	"encoding/json"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"
)

// Connection types.
const (
	ConnSFTP = "sftp"
	ConnFTP  = "ftp"  // plain, or explicit TLS (AUTH TLS) when TLS is "explicit"
	ConnFTPS = "ftps" // implicit TLS
	ConnS3   = "s3"
	// ConnAzure is a container of Azure Blob Storage.
	ConnAzure = "azblob"
	// ConnGCS is a bucket of Google Cloud Storage.
	ConnGCS = "gcs"
	// ConnAS2 sends files to an AS2 partner (as2_partner): the upload
	// action and the test only.
	ConnAS2 = "as2"
)

// ConnectionTypes lists every connection type.
var ConnectionTypes = []string{ConnSFTP, ConnFTP, ConnFTPS, ConnS3, ConnAzure, ConnGCS, ConnAS2}

// Connection is a partner's server or an object store that automations
// push files to and pull files from. Password, PrivateKey and SecretKey
// are stored sealed (secret.key) and never shown.
type Connection struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Host     string `json:"host,omitempty"`
	Port     int    `json:"port,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// PrivateKey is an OpenSSH or PEM private key for sftp.
	PrivateKey string `json:"private_key,omitempty"`
	// HostKey is the SFTP server's key as its SHA256 fingerprint
	// ("SHA256:…", as ssh-keygen -l prints it); required for sftp.
	HostKey string `json:"host_key,omitempty"`
	// TLS is "explicit" (AUTH TLS) for ftp; ftps is always implicit TLS.
	TLS string `json:"tls,omitempty"`
	// TLSFingerprint pins an FTPS server's certificate by the SHA-256 of
	// its DER ("SHA256:…" or hex); CACert is a PEM CA to verify it against
	// instead. Without either the system's CAs verify it.
	TLSFingerprint string `json:"tls_fingerprint,omitempty"`
	CACert         string `json:"ca_cert,omitempty"`
	// BasePath is the remote folder every path is relative to.
	BasePath string `json:"base_path,omitempty"`

	// S3: endpoint URL (http:// or https://), region, bucket, key prefix.
	Endpoint  string `json:"endpoint,omitempty"`
	Region    string `json:"region,omitempty"`
	Bucket    string `json:"bucket,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	PathStyle bool   `json:"path_style,omitempty"`
	AccessKey string `json:"access_key,omitempty"`
	SecretKey string `json:"secret_key,omitempty"`

	// Azure Blob (azblob): the container, and one way in: the account's
	// name and key, a SAS token, or a connection string. Endpoint is the
	// account's URL (default https://<account>.blob.core.windows.net;
	// Azurite's is http://127.0.0.1:10000/devstoreaccount1).
	Container        string `json:"container,omitempty"`
	Account          string `json:"account,omitempty"`
	AccountKey       string `json:"account_key,omitempty"`
	SASToken         string `json:"sas_token,omitempty"`
	ConnectionString string `json:"connection_string,omitempty"`

	// Google Cloud Storage (gcs): Bucket, Prefix, and a service account's
	// JSON key; Endpoint only for an emulator (fake-gcs-server), which
	// takes no key.
	CredentialsJSON string `json:"credentials_json,omitempty"`

	// AS2Partner is the id of the AS2 partner an as2 connection sends to
	// (its URL, certificates and algorithms are the partner's).
	AS2Partner string `json:"as2_partner,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var fingerprintSHA256 = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}=?$`)

// Validate reports the first problem, naming the field.
func (c *Connection) Validate() error {
	switch {
	case strings.TrimSpace(c.Name) == "" || len(c.Name) > 200:
		return Errorf(EINVALID, "name is required (at most 200 characters)")
	case c.Port < 0 || c.Port > 65535:
		return Errorf(EINVALID, "port must be 1 to 65535 (0 for the type's default)")
	}
	for _, f := range []struct{ name, v string }{{"base_path", c.BasePath}, {"prefix", c.Prefix}} {
		if strings.Contains(f.v, "..") || strings.ContainsAny(f.v, "\x00\\") {
			return Errorf(EINVALID, "%s may not contain \"..\", a backslash or NUL", f.name)
		}
	}
	switch c.Type {
	case ConnSFTP:
		switch {
		case c.Host == "" || c.Username == "":
			return Errorf(EINVALID, "host and username are required for sftp")
		case c.Password == "" && c.PrivateKey == "":
			return Errorf(EINVALID, "password or private_key is required for sftp")
		case !fingerprintSHA256.MatchString(c.HostKey):
			return Errorf(EINVALID, "host_key is required for sftp: the server's SHA256 fingerprint as ssh-keygen -lf prints it, such as SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s")
		}
	case ConnFTP, ConnFTPS:
		switch {
		case c.Host == "" || c.Username == "":
			return Errorf(EINVALID, "host and username are required for %s", c.Type)
		case c.Type == ConnFTP && c.TLS != "" && c.TLS != "explicit":
			return Errorf(EINVALID, "tls must be \"explicit\" (AUTH TLS) or empty for plain ftp; use type ftps for implicit TLS")
		case c.Type == ConnFTPS && c.TLS != "" && c.TLS != "implicit":
			return Errorf(EINVALID, "tls is implicit for ftps; leave it out")
		}
	case ConnS3:
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/"):
			return Errorf(EINVALID, "endpoint must be an http or https URL without a path, such as https://s3.eu-west-1.amazonaws.com")
		case c.Bucket == "":
			return Errorf(EINVALID, "bucket is required for s3")
		case c.AccessKey == "" || c.SecretKey == "":
			return Errorf(EINVALID, "access_key and secret_key are required for s3")
		}
	case ConnAzure:
		if err := c.validateAzure(); err != nil {
			return err
		}
	case ConnGCS:
		if err := c.validateGCS(); err != nil {
			return err
		}
	case ConnAS2:
		if c.AS2Partner == "" {
			return Errorf(EINVALID, "as2_partner is required for as2: the id of an AS2 partner (/admin/as2/partners)")
		}
		if c.Host != "" || c.Username != "" || c.Password != "" || c.BasePath != "" {
			return Errorf(EINVALID, "an as2 connection takes as2_partner only; the URL and certificates are the partner's")
		}
	default:
		return Errorf(EINVALID, "type must be one of %s", strings.Join(ConnectionTypes, ", "))
	}
	if c.Type != ConnSFTP && (c.HostKey != "" || c.PrivateKey != "") {
		return Errorf(EINVALID, "host_key and private_key are for sftp")
	}
	if c.Type != ConnS3 && (c.AccessKey != "" || c.SecretKey != "") {
		return Errorf(EINVALID, "access_key and secret_key are for s3")
	}
	if c.Type != ConnS3 && c.Type != ConnGCS && c.Bucket != "" {
		return Errorf(EINVALID, "bucket is for s3 and gcs")
	}
	if c.Type != ConnS3 && c.Type != ConnAzure && c.Type != ConnGCS && c.Endpoint != "" {
		return Errorf(EINVALID, "endpoint is for s3, azblob and gcs")
	}
	if c.Type != ConnGCS && c.CredentialsJSON != "" {
		return Errorf(EINVALID, "credentials_json is for gcs")
	}
	if c.Type != ConnAzure && (c.Container != "" || c.Account != "" || c.AccountKey != "" || c.SASToken != "" || c.ConnectionString != "") {
		return Errorf(EINVALID, "container, account, account_key, sas_token and connection_string are for azblob")
	}
	if c.Type != ConnAS2 && c.AS2Partner != "" {
		return Errorf(EINVALID, "as2_partner is for as2")
	}
	if c.BasePath != "" {
		c.BasePath = path.Clean("/" + c.BasePath)
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	return nil
}

var azureContainerName = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)

// validateAzure checks an azblob connection: a container named as Azure
// allows, and exactly one way in.
func (c *Connection) validateAzure() error {
	ways := 0
	for _, set := range []bool{c.AccountKey != "", c.SASToken != "", c.ConnectionString != ""} {
		if set {
			ways++
		}
	}
	u, err := url.Parse(c.Endpoint)
	switch {
	case !azureContainerName.MatchString(c.Container):
		return Errorf(EINVALID, "container is required for azblob: 3 to 63 lowercase letters, digits and single hyphens, such as partner-archive")
	case ways != 1:
		return Errorf(EINVALID, "azblob needs exactly one of account_key (with account), sas_token or connection_string")
	case c.AccountKey != "" && c.Account == "":
		return Errorf(EINVALID, "account is required with account_key")
	case c.Endpoint != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != ""):
		return Errorf(EINVALID, "endpoint must be the account's http or https URL, such as https://acme.blob.core.windows.net or http://127.0.0.1:10000/devstoreaccount1")
	case c.Endpoint == "" && c.ConnectionString == "" && c.Account == "":
		return Errorf(EINVALID, "account or endpoint is required for azblob")
	case c.ConnectionString != "" && c.Endpoint != "":
		return Errorf(EINVALID, "a connection string names its endpoint; leave endpoint out")
	}
	return nil
}

// validateGCS checks a gcs connection: a bucket, and a service account's
// key unless an emulator's endpoint is given.
func (c *Connection) validateGCS() error {
	u, err := url.Parse(c.Endpoint)
	switch {
	case c.Bucket == "" || len(c.Bucket) > 222:
		return Errorf(EINVALID, "bucket is required for gcs")
	case c.Endpoint != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/")):
		return Errorf(EINVALID, "endpoint must be an http or https URL without a path, such as http://127.0.0.1:4443 (an emulator); leave it out for Google Cloud Storage")
	case c.CredentialsJSON == "" && c.Endpoint == "":
		return Errorf(EINVALID, "credentials_json is required for gcs: the service account's JSON key")
	}
	return nil
}

// CheckServiceAccountKey checks that v, sent in clear, is a service
// account's JSON key (Validate sees it sealed).
func CheckServiceAccountKey(v string) error {
	var key struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if json.Unmarshal([]byte(v), &key) != nil || key.Type != "service_account" || key.ClientEmail == "" || key.PrivateKey == "" {
		return Errorf(EINVALID, "credentials_json must be a service account's JSON key (\"type\": \"service_account\", with client_email and private_key)")
	}
	return nil
}

// ConnectionStore stores connections.
type ConnectionStore interface {
	FindConnection(ctx context.Context, id string) (*Connection, error)
	FindConnections(ctx context.Context, page Page) ([]*Connection, bool, error)
	CreateConnection(ctx context.Context, c *Connection) error
	PutConnection(ctx context.Context, c *Connection) error
	DeleteConnection(ctx context.Context, id string) error
}
