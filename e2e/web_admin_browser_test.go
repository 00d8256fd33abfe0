package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The overview's audit table in Chromium, with 120 events of long paths:
// 50 a page with links to older and newer pages, a login shown by its
// method, times with their zone, and no horizontal overflow at 1280 and
// 390 px (measured in the page, besides the screenshots).
func TestWeb_AdminOverviewFits(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"boss@example.com","password":"correct-horse","role":"admin"}}`)
	deep := "/shared/" + strings.Repeat("a-rather-long-folder-name/", 6)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"`+deep+`"}`), 201)
	for i := range 118 {
		want(t, ts.do(t, "PUT", fmt.Sprintf("/api/files/content?path=%sreport-%03d-with-a-long-name.csv", deep, i), adminKey, "x"), 201)
	}
	pc := newPageCheck(t)
	ctx := chromiumTab(t, t.TempDir())
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("sign in", chromedp.Navigate(ts.URL()+"/"), chromedp.WaitVisible(chromedp.CSS("#signin-form")),
		chromedp.SendKeys(chromedp.CSS("#login"), "boss@example.com"), chromedp.SendKeys(chromedp.CSS("#password"), "correct-horse"),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#uploader")),
		chromedp.Navigate(ts.URL()+"/web/admin?since=all"), chromedp.WaitVisible(chromedp.CSS("#audit")))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#audit tbody tr").length`))
	if err != nil || rows != 50 {
		t.Fatalf("%d rows on the first page (%v), want 50", rows, err)
	}
	login, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#audit tbody tr")].map(r => r.innerText).find(t => t.includes("user.login")) || ""`))
	if err != nil || !strings.Contains(login, "signed in with password") || !strings.Contains(login, "UTC") {
		t.Fatalf("the login row reads %q (%v)", login, err)
	}
	for _, w := range []int64{1280, 390} {
		run("resize", chromedp.EmulateViewport(w, 900))
		// Neither the page nor the table inside its card is wider than
		// the room it has (a table in a scrolling box would hide it).
		over, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => { const t = document.querySelector("#audit");
			return Math.max(document.documentElement.scrollWidth - window.innerWidth,
				Math.ceil(t.getBoundingClientRect().width) - t.parentElement.clientWidth) })()`))
		if err != nil || over > 0 {
			t.Errorf("at %d px the page is %d px wider than the window (%v)", w, over, err)
		}
	}
	run("back to 1280", chromedp.EmulateViewport(1280, 900))
	pc.check(ctx, "admin-audit")
	run("older", chromedp.Click(chromedp.CSS("#audit-older")), chromedp.WaitVisible(chromedp.CSS("#audit-newest")))
	second, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#audit tbody tr").length`))
	run("older again", chromedp.Click(chromedp.CSS("#audit-older")), chromedp.WaitVisible(chromedp.CSS("#audit-newest")))
	third, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#audit tbody tr").length`))
	last, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#audit-older") === null`))
	if second != 50 || third < 20 || !last {
		t.Fatalf("pages of %d and %d rows, the last without an older link: %v", second, third, last)
	}
}
