package automation

// Knows reports whether the engine has automation id loaded (for tests
// of what another node changed).
func (e *Engine) Knows(id string) bool { return e.automation(id) != nil }
