package mft_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"depot/mft"
)

// All walks every page, each after the last id of the one before, and
// stops at the first error with what it had.
func TestAll(t *testing.T) {
	var ids []string
	for i := range 2500 {
		ids = append(ids, fmt.Sprintf("id%05d", i))
	}
	var asked []string
	fetch := func(p mft.Page) ([]string, bool, error) {
		asked = append(asked, p.After)
		i, _ := slices.BinarySearch(ids, p.After)
		if i < len(ids) && ids[i] == p.After {
			i++
		}
		end := min(i+p.Limit, len(ids))
		return ids[i:end], end < len(ids), nil
	}
	got, err := mft.All(fetch, func(s string) string { return s })
	if err != nil || !slices.Equal(got, ids) || !slices.Equal(asked, []string{"", "id00999", "id01999"}) {
		t.Fatalf("got %d entries (%v), pages after %v", len(got), err, asked)
	}
	boom := errors.New("boom")
	got, err = mft.All(func(p mft.Page) ([]string, bool, error) {
		if p.After != "" {
			return nil, false, boom
		}
		return ids[:mft.MaxLimit], true, nil
	}, func(s string) string { return s })
	if !errors.Is(err, boom) || len(got) != mft.MaxLimit {
		t.Fatalf("after an error: %d entries, %v", len(got), err)
	}
}
