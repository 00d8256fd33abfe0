package testpeer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// LDAP's test tree: the base, the account Depot searches with, and the
// administrator the tests change the tree as.
const (
	LDAPBase           = "dc=example,dc=com"
	LDAPReaderDN       = "cn=reader," + LDAPBase
	LDAPReaderPassword = "reader-secret-123"
	ldapAdminDN        = "cn=admin," + LDAPBase
	ldapAdminPassword  = "admin-secret-123"
)

// Slapd is OpenLDAP's slapd on a free loopback port: a tree under
// LDAPBase (ou=people, ou=groups, the reader), the memberof overlay, and
// StartTLS with a certificate for 127.0.0.1 from a test CA; simple binds
// need TLS.
type Slapd struct {
	*Process
	URL    string // ldap://127.0.0.1:port
	CAFile string // the CA's certificate, PEM
	// OtherCAFile is a CA that did not sign the server's certificate.
	OtherCAFile string
}

// StartSlapd starts slapd with the test tree.
func StartSlapd(tb testing.TB) *Slapd {
	tb.Helper()
	bin, slapadd := tool(tb, "slapd"), tool(tb, "slapadd")
	dir := tb.TempDir()
	s := &Slapd{CAFile: filepath.Join(dir, "ca.pem"), OtherCAFile: filepath.Join(dir, "other-ca.pem")}
	ca, caKey := writeCA(tb, s.CAFile)
	writeCA(tb, s.OtherCAFile)
	writeLeaf(tb, ca, caKey, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
	confDir, dbDir := filepath.Join(dir, "slapd.d"), filepath.Join(dir, "db")
	os.Mkdir(confDir, 0o700)
	os.Mkdir(dbDir, 0o700)
	conf := strings.NewReplacer("DIR", dir, "BASE", LDAPBase, "ADMINPW", ldapAdminPassword, "ADMIN", ldapAdminDN,
		"READER", LDAPReaderDN).Replace(slapdConfig)
	cmd := exec.Command(slapadd, "-n0", "-F", confDir)
	cmd.Stdin = strings.NewReader(conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("slapadd (config): %v\n%s", err, out)
	}
	port := freePort(tb)
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	s.Process = start(tb, port, nil, bin, "-F", confDir, "-h", s.URL+"/", "-d", "0")
	s.Modify(tb, "-a", strings.NewReplacer("BASE", LDAPBase, "READERPW", LDAPReaderPassword).Replace(ldapTree))
	return s
}

// Modify runs ldapmodify as the administrator, over StartTLS, with args
// (-a: add the entries) and ldif on its input.
func (s *Slapd) Modify(tb testing.TB, args ...string) {
	tb.Helper()
	ldif := args[len(args)-1]
	s.ldap(tb, "ldapmodify", ldif, args[:len(args)-1]...)
}

// Delete removes an entry.
func (s *Slapd) Delete(tb testing.TB, dn string) {
	tb.Helper()
	s.ldap(tb, "ldapdelete", "", dn)
}

func (s *Slapd) ldap(tb testing.TB, name, stdin string, args ...string) {
	tb.Helper()
	cmd := exec.Command(tool(tb, name), append([]string{"-x", "-ZZ", "-H", s.URL, "-D", ldapAdminDN, "-w", ldapAdminPassword}, args...)...)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+s.CAFile)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// writeCA writes a new CA's certificate to file and returns it and its key.
func writeCA(tb testing.TB, file string) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "Depot test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	ca, _ := x509.ParseCertificate(der)
	return ca, key
}

// writeLeaf writes a certificate for 127.0.0.1 signed by ca, and its key.
func writeLeaf(tb testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, certFile, keyFile string) {
	tb.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
}

// slapdConfig is cn=config: mdb with the memberof overlay, TLS, simple
// binds only over TLS, the reader may read everything but passwords.
const slapdConfig = `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: DIR/slapd.pid
olcTLSCACertificateFile: DIR/ca.pem
olcTLSCertificateFile: DIR/server.pem
olcTLSCertificateKeyFile: DIR/server.key
olcSecurity: simple_bind=128

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif
include: file:///etc/ldap/schema/nis.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: DIR/db
olcSuffix: BASE
olcRootDN: ADMIN
olcRootPW: ADMINPW
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by dn.exact="READER" read by self read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefint: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
`

// ldapTree is the test tree: alice in finance, bob in no group, the
// reader.
const ldapTree = `dn: BASE
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,BASE
objectClass: organizationalUnit
ou: people

dn: ou=groups,BASE
objectClass: organizationalUnit
ou: groups

dn: cn=reader,BASE
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: READERPW

dn: uid=alice,ou=people,BASE
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.com
userPassword: alice-password-1

dn: uid=bob,ou=people,BASE
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
mail: bob@example.com
userPassword: bob-password-12

dn: cn=finance,ou=groups,BASE
objectClass: groupOfNames
cn: finance
member: uid=alice,ou=people,BASE
`
