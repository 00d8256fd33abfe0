package mft

import (
	"context"
	"time"
)

// Origin is who asked for a change, over what and from where. A protocol
// puts it in the context it passes down, and the service that makes the
// change stamps the change's event with it.
type Origin struct {
	Actor    string // user id; "" for the system
	Bucket   string // the actor's bucket
	Protocol string // AuditAPI, AuditWeb, …
	IP       string
	// Changes are the fields the request sent, with secrets as "(set)".
	Changes map[string]any
}

type originKey struct{}

// WithOrigin returns ctx carrying o.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginOf returns the origin ctx carries, or the zero Origin (the system).
func OriginOf(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}

// ChangeEvent returns the event of a change to target (an id) made for the
// origin ctx carries.
func ChangeEvent(ctx context.Context, event, target string, now time.Time) Event {
	o := OriginOf(ctx)
	return Event{Event: event, Time: now.UTC(), Actor: o.Actor, Bucket: o.Bucket, Protocol: o.Protocol,
		IP: o.IP, Status: StatusOK, Target: target, Changes: o.Changes}
}

// PublishChange publishes the event of a change to target made for the
// origin ctx carries; a nil sink drops it.
func PublishChange(ctx context.Context, sink EventSink, event, target string) {
	if sink != nil {
		sink.Publish(ChangeEvent(ctx, event, target, time.Now()))
	}
}
