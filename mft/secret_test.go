package mft

import "testing"

func TestHiddenAndKeptURLSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:pw@h.test/x": "https://u:(set)@h.test/x",
		"https://u@h.test/x":    "https://u@h.test/x",
		"https://h.test/x":      "https://h.test/x",
		"::not a url":           "::not a url",
	} {
		if got := HiddenURL(in); got != want {
			t.Errorf("HiddenURL(%q) = %q, want %q", in, got, want)
		}
	}
	prev := "https://u:pw@h.test/x"
	for in, want := range map[string]string{
		"https://u:(set)@h.test/y": "https://u:pw@h.test/y", // the marker keeps the password
		"https://u:new@h.test/y":   "https://u:new@h.test/y",
		"https://h.test/y":         "https://h.test/y",
	} {
		if got := KeepURLSecret(in, prev); got != want {
			t.Errorf("KeepURLSecret(%q) = %q, want %q", in, got, want)
		}
	}
	if got := KeepURLSecret("https://u:(set)@h.test/", "https://h.test/"); got != "https://u:(set)@h.test/" {
		t.Errorf("marker with nothing to keep = %q, want it as sent", got)
	}
	if Hidden("") != "" || Hidden("x") != SecretMarker {
		t.Error("Hidden")
	}
}
