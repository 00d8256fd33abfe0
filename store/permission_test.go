package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"depot/mft"
	"depot/store"
)

// Regression: rules for a user were once read through the paged list and
// silently stopped at 1,000.
func TestPermissionStore_FindForSubjectsIsNotPaged(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		if err := store.NewUserStore(db).CreateUser(ctx, newUser("p@example.com")); err != nil {
			t.Fatal(err)
		}
		perms := store.NewPermissionStore(db)
		const n = 1001
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				errs <- perms.CreatePermission(ctx, &mft.Permission{Subject: "user:p-example-com",
					Path: fmt.Sprintf("/shared/%04d", i), Permissions: []string{"list"}})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := perms.FindPermissionsForSubjects(ctx, []string{"user:p-example-com", "group:none"})
		if err != nil || len(got) != n {
			t.Fatalf("found %d rules (%v), want %d", len(got), err, n)
		}
		if other, _ := perms.FindPermissionsForSubjects(ctx, []string{"user:someone-else"}); len(other) != 0 {
			t.Fatalf("found %d rules of another subject", len(other))
		}
	})
}
