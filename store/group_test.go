package store_test

import (
	"context"
	"slices"
	"testing"

	"depot/mft"
	"depot/store"
)

func TestGroupService(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		groups := store.NewGroupStore(db)
		users := store.NewUserStore(db)

		t.Run("OK", func(t *testing.T) {
			g := &mft.Group{ID: "sales-team", Name: "Sales Team", Description: "EMEA"}
			if err := groups.CreateGroup(ctx, g); err != nil {
				t.Fatal(err)
			}
			got, err := groups.FindGroupByID(ctx, "sales-team")
			if err != nil || got.Name != "Sales Team" || got.Description != "EMEA" || !got.CreatedAt.Equal(now) {
				t.Fatalf("round trip: %+v %v", got, err)
			}
			name := "Sales"
			if got, err = groups.UpdateGroup(ctx, "sales-team", mft.GroupUpdate{Name: &name}); err != nil || got.Name != "Sales" || got.Description != "EMEA" {
				t.Fatalf("update: %+v %v", got, err)
			}
		})
		t.Run("ErrDuplicate", func(t *testing.T) {
			if err := groups.CreateGroup(ctx, &mft.Group{ID: "sales-team", Name: "Sales team"}); mft.ErrorCode(err) != mft.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			for _, g := range []*mft.Group{{ID: "", Name: ""}, {ID: "", Name: "!!!"}, {ID: "x", Name: "x\x00"}} {
				if err := groups.CreateGroup(ctx, g); mft.ErrorCode(err) != mft.EINVALID {
					t.Errorf("%+v: err = %v, want EINVALID", g, err)
				}
			}
		})
		t.Run("DeleteRemovesMembership", func(t *testing.T) {
			if err := groups.CreateGroup(ctx, &mft.Group{ID: "ops", Name: "Ops"}); err != nil {
				t.Fatal(err)
			}
			u := newUser("m@example.com")
			u.Groups = []string{"ops", "sales-team"}
			if err := users.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			perms := store.NewPermissionStore(db)
			rule := &mft.Permission{Subject: "group:ops", Path: "/teams/ops", Permissions: []string{"list"}}
			if err := perms.CreatePermission(ctx, rule); err != nil {
				t.Fatal(err)
			}
			if err := groups.DeleteGroup(ctx, "ops"); err != nil {
				t.Fatal(err)
			}
			if _, err := perms.FindPermissionByID(ctx, rule.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
				t.Fatalf("the deleted group's rule survives: %v", err)
			}
			got, _ := users.FindUserByID(ctx, u.ID)
			if !slices.Equal(got.Groups, []string{"sales-team"}) {
				t.Fatalf("member's groups after delete = %v", got.Groups)
			}
			if _, err := groups.FindGroupByID(ctx, "ops"); mft.ErrorCode(err) != mft.ENOTFOUND {
				t.Fatalf("deleted group still found: %v", err)
			}
			if err := groups.DeleteGroup(ctx, "ops"); mft.ErrorCode(err) != mft.ENOTFOUND {
				t.Fatalf("second delete: %v", err)
			}
		})
		t.Run("List", func(t *testing.T) {
			if err := groups.CreateGroup(ctx, &mft.Group{ID: "zeta", Name: "Zeta"}); err != nil {
				t.Fatal(err)
			}
			list, more, err := groups.FindGroups(ctx, mft.Page{Limit: 1})
			if err != nil || !more || len(list) != 1 {
				t.Fatalf("page of 1: %d more=%v err=%v", len(list), more, err)
			}
			rest, more, err := groups.FindGroups(ctx, mft.Page{After: list[0].ID})
			if err != nil || more || len(rest) != 1 || rest[0].ID != "zeta" {
				t.Fatalf("second page: %v more=%v err=%v", rest, more, err)
			}
		})
	})
}
