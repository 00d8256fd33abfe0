package mft

import (
	"strings"
	"testing"
)

// FuzzExtensionList: a filedrop extension list ("PDF, .doc,xls") is
// refused with a message naming the field, or normalized into lower-case
// extensions without dots, spaces or separators; normalizing it again
// changes nothing, and every extension in it is accepted by CheckFilename.
func FuzzExtensionList(f *testing.F) {
	for _, s := range []string{"pdf,csv", "PDF, .doc,xls ", ",,,", ".", "a/b", "tar.gz", "İ", strings.Repeat("x", 40), "pdf,pdf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		out, err := normalizeExtList("accepted_filetypes", list)
		if err != nil {
			if !strings.Contains(ErrorMessage(err), "accepted_filetypes") {
				t.Fatalf("%q: %v", list, err)
			}
			return
		}
		again, err := normalizeExtList("accepted_filetypes", out)
		if err != nil || again != out {
			t.Fatalf("%q → %q → %q %v", list, out, again, err)
		}
		d := &Filedrop{AcceptedFiletypes: out}
		for _, e := range Extensions(out) {
			if strings.ContainsAny(e, ". /\\,") || e != strings.ToLower(e) {
				t.Fatalf("%q → extension %q", list, e)
			}
			if err := d.CheckFilename("file." + e); err != nil {
				t.Fatalf("%q → %q refuses file.%s: %v", list, out, e, err)
			}
		}
	})
}
