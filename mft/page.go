package mft

// Pagination defaults for every list.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page selects one page of a list ordered by id: at most Limit entries whose
// id sorts after After.
type Page struct {
	After string
	Limit int
}

// Normalize fills in the default limit and caps it at MaxLimit.
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = DefaultLimit
	}
	if p.Limit > MaxLimit {
		p.Limit = MaxLimit
	}
	return p
}

// All collects every entry of a paged list: fetch is asked for pages of
// MaxLimit, each after the id of the last entry of the one before, until
// it says no more follow.
func All[T any](fetch func(Page) ([]T, bool, error), id func(T) string) ([]T, error) {
	var all []T
	p := Page{Limit: MaxLimit}
	for {
		list, more, err := fetch(p)
		if err != nil {
			return all, err
		}
		all = append(all, list...)
		if !more || len(list) == 0 {
			return all, nil
		}
		p.After = id(list[len(list)-1])
	}
}
