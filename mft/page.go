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
