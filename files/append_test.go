package files_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"depot/files"
	"depot/internal/coretest"
)

// A reader that ends with its own io.ErrUnexpectedEOF (an HTTP body cut
// short of its Content-Length) fails the Append, which io.ReadFull would
// have taken for the end of the data.
func TestPending_AppendKeepsTheReadersUnexpectedEOF(t *testing.T) {
	a := coretest.Start(t, nil)
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	for _, size := range []int{10, 300 << 10} {
		p, err := a.Files.Create(context.Background(), joe, "/cut.bin", files.UploadOptions{Overwrite: true, Size: -1})
		if err != nil {
			t.Fatal(err)
		}
		r := io.MultiReader(strings.NewReader(strings.Repeat("x", size)), errReader{io.ErrUnexpectedEOF})
		_, err = p.Append(r, -1)
		var re *files.ReadError
		if !errors.As(err, &re) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d bytes then ErrUnexpectedEOF: Append returned %v", size, err)
		}
		p.Abort()
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
