package testpeer

import (
	"context"
	"strconv"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// The account Azurite serves (its documented development account) and
// the container the peer makes.
const (
	AzureAccount   = "devstoreaccount1"
	AzureKey       = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	AzureContainer = "depot-test"
)

// Azurite is Microsoft's Blob Storage emulator, in memory, with one
// container.
type Azurite struct {
	*Process
	// Endpoint is the account's URL, path-style as Azurite serves it.
	Endpoint string
}

// StartAzurite starts azurite-blob on a free loopback port, in memory,
// and creates the container AzureContainer.
func StartAzurite(tb testing.TB) *Azurite { return StartAzuriteAt(tb, "") }

// StartAzuriteAt is StartAzurite keeping the blobs in dir (for more than
// memory holds); "" keeps them in memory.
func StartAzuriteAt(tb testing.TB, dir string) *Azurite {
	tb.Helper()
	bin := tool(tb, "azurite-blob")
	port := freePort(tb)
	where := []string{"--inMemoryPersistence"}
	if dir != "" {
		where = []string{"--location", dir}
	}
	p := start(tb, port, nil, bin, append([]string{"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
		"--skipApiVersionCheck", "--loose", "--silent"}, where...)...)
	a := &Azurite{Process: p, Endpoint: "http://127.0.0.1:" + strconv.Itoa(port) + "/" + AzureAccount}
	if _, err := a.Container(tb).Create(context.Background(), nil); err != nil {
		tb.Fatalf("creating the container: %v\n%s", err, p.Output())
	}
	return a
}

// Container is a client of the container with the account's key: the
// emulator's own view, to check what Depot wrote.
func (a *Azurite) Container(tb testing.TB) *container.Client {
	tb.Helper()
	cred, err := container.NewSharedKeyCredential(AzureAccount, AzureKey)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := container.NewClientWithSharedKeyCredential(a.Endpoint+"/"+AzureContainer, cred, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
