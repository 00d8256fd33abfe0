package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// group registers routes under a prefix with middleware. Unlike echo's
// Group it adds no catch-all routes, so a wrong method on a known path
// reaches echo's router as one and answers 405 with Allow, not 404.
type group struct {
	e      *echo.Echo
	prefix string
	mw     []echo.MiddlewareFunc
}

func (g group) add(method, path string, h echo.HandlerFunc) {
	g.e.Add(method, g.prefix+path, h, g.mw...)
}
func (g group) GET(path string, h echo.HandlerFunc)    { g.add(http.MethodGet, path, h) }
func (g group) HEAD(path string, h echo.HandlerFunc)   { g.add(http.MethodHead, path, h) }
func (g group) POST(path string, h echo.HandlerFunc)   { g.add(http.MethodPost, path, h) }
func (g group) PUT(path string, h echo.HandlerFunc)    { g.add(http.MethodPut, path, h) }
func (g group) PATCH(path string, h echo.HandlerFunc)  { g.add(http.MethodPatch, path, h) }
func (g group) DELETE(path string, h echo.HandlerFunc) { g.add(http.MethodDelete, path, h) }

// routes is every endpoint of the HTTP API and pages, grouped by who may
// call it. Handlers authorize further where a route says so.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = s.ipExtractor()
	e.Use(s.recoverPanics, s.requestLog, s.rateLimit)

	// Anyone: health, the password login, the pages' assets.
	e.GET("/healthz", s.handleHealth)
	e.HEAD("/healthz", s.handleHealth) // load balancers' probes
	e.GET("/api/openapi.yaml", s.handleOpenAPI)
	e.POST("/api/login", s.handleLogin)
	e.GET("/assets/*", s.handleAssets)

	// A credential of the route's own, checked by the handler (and counted
	// by the defender when wrong).
	e.POST("/api/automations/:id/trigger", s.handleTrigger) // the trigger URL's token
	// Filedrop pages: the page and a fresh upload key (with the filedrop's
	// password if it has one), then the upload key.
	e.GET("/filedrop/:name", s.handleFiledropPage)
	e.POST("/filedrop/:name/attachments/upload", s.oneAnonymousUpload(s.handleFiledropUpload))
	e.POST("/filedrop/:name", s.handleFiledropDeliver)
	e.POST("/filedrop/:name/validation", s.handleFiledropValidation)
	// Dropzones: the dropzone's token (the Dropzone API's x-api-key) …
	e.GET("/api/dropzones/:id", s.handleDropzoneView)
	e.GET("/api/dropzones/:id/files", s.handleDropzoneFiles)
	e.POST("/api/dropzones/:id/files", s.handleDropzoneReserve)
	e.GET("/api/dropzones/:id/files/:file", s.handleDropzoneFile)
	e.POST("/api/dropzones/:id/files/:file/confirm", s.handleDropzoneConfirm)
	e.GET("/api/dropzones/:id/files/:file/download", s.downloadDropzoneFile(s.tokenFile))
	e.DELETE("/api/dropzones/:id/files/:file", s.deleteDropzoneFile(s.tokenFile))
	// … and the signed upload URL alone.
	e.PUT("/api/dropzones/:id/files/:file/upload", s.oneAnonymousUpload(s.handleDropzoneUpload))
	// The Dropzone API as its SDK calls it: a user's API key or a
	// dropzone's token in x-api-key (dropzone_api.go).
	dz := group{e, dzPrefix, nil}
	dz.POST("/dropzones", s.handleDzCreate)
	dz.GET("/dropzones/:id", s.handleDzView)
	dz.PUT("/dropzones/:id", s.handleDzUpdate)
	dz.PATCH("/dropzones/:id", s.handleDzUpdate)
	dz.GET("/dropzones/:id/files", s.handleDzFiles)
	dz.POST("/dropzones/:id/files", s.handleDzReserve)
	dz.GET("/files/:file", s.handleDzFile)
	dz.POST("/files/:file/confirm", s.handleDzConfirm)
	dz.GET("/files/:file/download", s.downloadDropzoneFile(s.dzFileOf))
	dz.DELETE("/files/:file", s.deleteDropzoneFile(s.dzFileOf))
	// AS2: partners post messages and asynchronous receipts; who sent
	// one is checked by its signature (as2).
	e.POST("/as2", s.needAS2(s.oneAnonymousUpload(s.handleAS2)))
	e.POST("/as2/mdn", s.needAS2(s.oneAnonymousUpload(s.handleAS2MDN)))
	// Shared links: the link's id, and its password if it has one.
	e.GET("/s/:id", s.handleLinkPage)
	e.GET("/s/:id/download", s.handleLinkDownload)
	e.POST("/s/:id/download", s.handleLinkDownload)
	e.POST("/s/:id/upload", s.oneAnonymousUpload(s.handleLinkUpload))

	// The web client: the sign-in page, then pages behind a session cookie
	// (forms carry its CSRF token). Its scripts call the user routes
	// below with the same cookie and the token in X-CSRF-Token.
	e.GET("/", s.handleHome)
	e.POST("/web/login", s.handleSignin)
	e.POST("/web/login/code", s.handleSigninCode)
	e.POST("/web/login/enrol", s.handleSigninEnrol)
	e.GET("/web/oidc/login", s.handleSSOBegin)
	e.GET("/web/oidc/callback", s.handleSSOCallback)
	e.POST("/web/oidc/backchannel-logout", s.handleSSOLogout)
	page := group{e, "/web", []echo.MiddlewareFunc{s.webPage}}
	page.POST("/logout", s.handleSignout)
	page.GET("/files", s.handleWebFiles)
	page.POST("/files/folder", s.handleWebMkdir)
	page.GET("/files/rename", s.handleWebRenameForm)
	page.POST("/files/rename", s.handleWebRename)
	page.GET("/files/delete", s.handleWebDeleteForm)
	page.POST("/files/delete", s.handleWebDelete)
	page.GET("/files/zip", s.handleWebZip)
	page.GET("/share", s.handleWebShareForm)
	page.POST("/share", s.handleWebShare)
	page.GET("/links", s.handleWebLinks)
	page.POST("/links/delete", s.handleWebLinkRevoke)
	page.GET("/messages", s.handleWebMessages)
	page.GET("/messages/:id", s.handleWebMessage)
	page.GET("/account", s.handleWebAccount)
	page.POST("/account/password", s.handleWebPassword)
	page.POST("/account/keys", s.handleWebKeyAdd)
	page.POST("/account/keys/delete", s.handleWebKeyRemove)
	page.POST("/account/totp", s.handleWebTOTPBegin)
	page.POST("/account/totp/confirm", s.handleWebTOTPConfirm)
	page.GET("/admin", s.handleWebAdmin)

	// Any user's key (API key or temporary key), or the web client's session.
	user := group{e, "", []echo.MiddlewareFunc{s.authenticate}}
	user.GET("/account", s.handleAccount)
	user.GET("/api/files", s.handleFileList)
	user.GET("/api/files/stat", s.handleFileStat)
	user.GET("/api/files/content", s.handleFileDownload)
	user.HEAD("/api/files/content", s.handleFileDownload)
	user.PUT("/api/files/content", s.oneUpload(s.handleFileUpload))
	user.POST("/api/files/rename", s.handleFileRename)
	user.DELETE("/api/files", s.handleFileDelete)
	user.POST("/api/folders", s.handleFolderCreate)
	user.GET("/api/links", s.handleLinkList) // one's own links
	user.POST("/api/links", s.handleLinkCreate)
	user.DELETE("/api/links/:id", s.handleLinkDelete)
	user.GET("/api/messages", s.handleMessageList) // filedrop deliveries to the caller
	user.GET("/api/messages/:id", s.handleMessageView)
	user.GET("/api/messages/:id/files/:file", s.handleMessageDownload)
	// Dropzones live under /admin as the Dropzone API has them, but any user
	// may create one and becomes its owner; the handlers show others only
	// their own, administrators all of them.
	user.GET("/admin/dropzones", s.handleDropzoneList)
	user.POST("/admin/dropzones", s.handleDropzoneCreate)
	user.GET("/admin/dropzones/:id", s.handleDropzoneAdminView)
	user.PUT("/admin/dropzones/:id", s.handleDropzoneExtend)
	user.PATCH("/admin/dropzones/:id", s.handleDropzoneExtend)
	user.DELETE("/admin/dropzones/:id", s.handleDropzoneRemove)

	// An administrator's key. PUT and PATCH both change only the fields
	// sent, except automations, whose PUT replaces the whole object (and
	// PATCH merges). Every update takes back an object read with GET.
	admin := group{e, "/admin", []echo.MiddlewareFunc{s.authenticate, s.requireAdmin}}
	if s.Metrics != nil { // Prometheus, with an administrator's key as any admin call
		group{e, "", admin.mw}.GET("/metrics", echo.WrapHandler(s.Metrics))
	}
	admin.GET("/users", s.handleUserList)
	admin.POST("/users", s.handleUserCreate)
	admin.GET("/users/:id", s.handleUserView)
	admin.PUT("/users/:id", s.handleUserUpdate)
	admin.PATCH("/users/:id", s.handleUserUpdate)
	admin.DELETE("/users/:id", s.handleUserDelete)
	admin.POST("/users/:id/api_key", s.handleUserAPIKey)
	admin.DELETE("/users/:id/totp", s.handleUserTOTPReset)

	admin.GET("/groups", s.handleGroupList)
	admin.POST("/groups", s.handleGroupCreate)
	admin.GET("/groups/:id", s.handleGroupView)
	admin.PUT("/groups/:id", s.handleGroupUpdate)
	admin.PATCH("/groups/:id", s.handleGroupUpdate)
	admin.DELETE("/groups/:id", s.handleGroupDelete)

	admin.GET("/permissions", s.handlePermissionList)
	admin.POST("/permissions", s.handlePermissionCreate)
	admin.GET("/permissions/:id", s.handlePermissionView)
	admin.PUT("/permissions/:id", s.handlePermissionUpdate)
	admin.PATCH("/permissions/:id", s.handlePermissionUpdate)
	admin.DELETE("/permissions/:id", s.handlePermissionDelete)

	admin.GET("/folders", s.handleFolderRuleList)
	admin.POST("/folders", s.handleFolderRuleCreate)
	admin.GET("/folders/:id", s.handleFolderRuleView)
	admin.PUT("/folders/:id", s.handleFolderRuleUpdate)
	admin.PATCH("/folders/:id", s.handleFolderRuleUpdate)
	admin.DELETE("/folders/:id", s.handleFolderRuleDelete)

	admin.GET("/buckets", s.handleBucketList)
	admin.POST("/buckets", s.handleBucketCreate)
	admin.GET("/buckets/:id", s.handleBucketView)
	admin.PUT("/buckets/:id", s.handleBucketUpdate)
	admin.PATCH("/buckets/:id", s.handleBucketUpdate) // the Buckets API's verb
	admin.DELETE("/buckets/:id", s.handleBucketDelete)
	// The same buckets in the Buckets API's dialect (seed 003).
	v1 := group{e, "/v1", []echo.MiddlewareFunc{s.authenticate, s.requireAdmin}}
	v1.GET("/buckets", s.handleV1BucketList)
	v1.POST("/buckets", s.handleV1BucketCreate)
	v1.GET("/buckets/:id", s.handleV1BucketView)
	v1.PATCH("/buckets/:id", s.handleV1BucketUpdate)
	v1.DELETE("/buckets/:id", s.handleV1BucketDelete)
	admin.GET("/buckets/:id/users", s.handleBucketUserList)
	admin.POST("/buckets/:id/users", s.handleBucketUserCreate)
	admin.GET("/settings", s.handleSettingsView)
	admin.PUT("/settings", s.handleSettingsUpdate)
	admin.PATCH("/settings", s.handleSettingsUpdate)

	admin.GET("/filedrops", s.handleFiledropList)
	admin.POST("/filedrops", s.handleFiledropCreate)
	admin.GET("/filedrops/:name", s.handleFiledropView)
	admin.PUT("/filedrops/:name", s.handleFiledropUpdate)
	admin.PATCH("/filedrops/:name", s.handleFiledropUpdate)
	admin.DELETE("/filedrops/:name", s.handleFiledropDelete)

	admin.GET("/links", s.handleLinkList) // everyone's links
	admin.DELETE("/links/:id", s.handleLinkDelete)

	admin.GET("/automations", s.handleAutomationList)
	admin.POST("/automations", s.handleAutomationCreate)
	admin.GET("/automations/:id", s.handleAutomationView)
	admin.PUT("/automations/:id", s.handleAutomationUpdate)
	admin.PATCH("/automations/:id", s.handleAutomationPatch)
	admin.DELETE("/automations/:id", s.handleAutomationDelete)
	admin.POST("/automations/:id/run", s.handleAutomationRun)
	admin.POST("/automations/:id/dry_run", s.handleAutomationDryRun)
	admin.POST("/automations/:id/trigger_token", s.handleTriggerToken)
	admin.DELETE("/automations/:id/trigger_token", s.handleTriggerTokenDelete)
	admin.GET("/automations/:id/runs", s.handleRunList)
	admin.GET("/automations/:id/runs/:run", s.handleRunView)

	admin.GET("/expectations", s.handleExpectationList)
	admin.POST("/expectations", s.handleExpectationCreate)
	admin.GET("/expectations/:id", s.handleExpectationView)
	admin.PUT("/expectations/:id", s.handleExpectationUpdate)
	admin.PATCH("/expectations/:id", s.handleExpectationUpdate)
	admin.DELETE("/expectations/:id", s.handleExpectationDelete)

	admin.GET("/connections", s.handleConnectionList)
	admin.POST("/connections", s.handleConnectionCreate)
	admin.GET("/connections/:id", s.handleConnectionView)
	admin.PUT("/connections/:id", s.handleConnectionUpdate)
	admin.PATCH("/connections/:id", s.handleConnectionUpdate)
	admin.DELETE("/connections/:id", s.handleConnectionDelete)
	admin.POST("/connections/:id/test", s.handleConnectionTest)
	admin.GET("/mounts", s.handleMountList)
	admin.POST("/mounts", s.handleMountCreate)
	admin.GET("/mounts/:id", s.handleMountView)
	admin.DELETE("/mounts/:id", s.handleMountDelete)

	admin.GET("/quarantine", s.handleQuarantineList)
	admin.GET("/quarantine/:id/download", s.handleQuarantineDownload)
	admin.POST("/quarantine/:id/release", s.handleQuarantineRelease)
	admin.DELETE("/quarantine/:id", s.handleQuarantineDelete)

	admin.GET("/as2/station", s.needAS2(s.handleAS2StationView))
	admin.PUT("/as2/station", s.needAS2(s.handleAS2StationUpdate))
	admin.GET("/as2/partners", s.needAS2(s.handleAS2PartnerList))
	admin.POST("/as2/partners", s.needAS2(s.handleAS2PartnerCreate))
	admin.GET("/as2/partners/:id", s.needAS2(s.handleAS2PartnerView))
	admin.PUT("/as2/partners/:id", s.needAS2(s.handleAS2PartnerUpdate))
	admin.PATCH("/as2/partners/:id", s.needAS2(s.handleAS2PartnerUpdate))
	admin.DELETE("/as2/partners/:id", s.needAS2(s.handleAS2PartnerDelete))
	admin.GET("/as2/messages", s.needAS2(s.handleAS2Messages))

	admin.GET("/webhooks", s.handleWebhookList)
	admin.POST("/webhooks", s.handleWebhookCreate)
	admin.GET("/webhooks/:id", s.handleWebhookView)
	admin.PUT("/webhooks/:id", s.handleWebhookUpdate)
	admin.PATCH("/webhooks/:id", s.handleWebhookUpdate)
	admin.DELETE("/webhooks/:id", s.handleWebhookDelete)
	admin.GET("/webhooks/:id/deliveries", s.handleDeliveryList)
	admin.POST("/webhooks/:id/deliveries/:delivery/redeliver", s.handleRedeliver)

	admin.GET("/sessions", s.handleSessionList) // live SFTP and FTPS sessions
	admin.DELETE("/sessions/:id", s.handleSessionEnd)
	admin.GET("/audit", s.handleAudit)
	admin.GET("/bans", s.handleBanList)
	admin.DELETE("/bans/:ip", s.handleBanDelete)
	admin.GET("/backup", s.handleBackup)
	return e
}
