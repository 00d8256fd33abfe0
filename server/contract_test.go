package server_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"depot/server"
)

// The contract: every request a test sends through a test server and
// every answer it gets is checked against openapi.yaml.
//   - A request on a path the document lacks must be answered 404 or 405;
//     anything else means a route is missing from the document.
//   - A request the document refuses (a wrong type, a missing field) must
//     be answered with a 4xx: the hostile-input tests send many.
//   - Every answer, errors included, must have a documented status,
//     content type and body; JSON bodies are checked in strict mode, so a
//     property the document does not name fails too.
//
// Bodies are checked when JSON and under bodyCap; uploads and downloads
// stream past unread.

const bodyCap = 1 << 20

var contract struct {
	once sync.Once
	v    validator.Validator
	doc  *v3.Document
	err  error
}

// loadContract parses openapi.yaml once for the whole package.
func loadContract(tb testing.TB) (validator.Validator, *v3.Document) {
	tb.Helper()
	contract.once.Do(func() {
		doc, err := libopenapi.NewDocument(server.OpenAPI())
		if err != nil {
			contract.err = err
			return
		}
		model, err := doc.BuildV3Model()
		if err != nil {
			contract.err = fmt.Errorf("build model: %w", err)
			return
		}
		contract.doc = &model.Model
		contract.v = validator.NewValidatorFromV3Model(&model.Model, config.WithStrictMode(), config.WithoutSecurityValidation(),
			// Clients send many headers the API never reads (browsers above
			// all); the ones it reads are documented as parameters.
			config.WithStrictIgnorePaths("$.headers.*", "$.cookies.*"))
	})
	if contract.err != nil {
		tb.Fatalf("openapi.yaml: %v", contract.err)
	}
	return contract.v, contract.doc
}

// checkContract returns the Wrap of a test server: it lets each exchange
// through untouched and reports what breaks the contract when the test
// ends. Call it before the server starts, so that the report comes after
// the server has closed and no handler is still running.
func checkContract(tb testing.TB) func(http.Handler) http.Handler {
	v, doc := loadContract(tb)
	var mu sync.Mutex
	var broken []string
	tb.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range broken {
			tb.Errorf("openapi.yaml: %s", b)
		}
	})
	report := func(format string, args ...any) {
		mu.Lock()
		broken = append(broken, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			in := &teeBody{ReadCloser: r.Body, keep: isJSON(r.Header.Get("Content-Type"))}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = in
			}
			out := &teeWriter{ResponseWriter: w}
			req := r.Clone(r.Context()) // the handler may change r
			next.ServeHTTP(out, r)
			if out.status == 0 {
				out.status = http.StatusOK
			}
			if msg := judge(v, doc, req, in, out); msg != "" {
				report("%s %s → %d: %s", req.Method, req.URL.RequestURI(), out.status, msg)
			}
		})
	}
}

// judge returns what breaks the contract in one exchange, or "".
func judge(v validator.Validator, doc *v3.Document, r *http.Request, in *teeBody, out *teeWriter) string {
	item, errs, _ := paths.FindPath(r, doc, nil)
	if len(errs) > 0 {
		if out.status == http.StatusNotFound || out.status == http.StatusMethodNotAllowed {
			return ""
		}
		return "the route is not in the document: " + errs[0].Message
	}
	r.Body, r.Header = http.NoBody, r.Header.Clone()
	switch raw := rawBody(item, r.Method); {
	case raw != "":
		// Uploads take the bytes whatever their label (the tests' client
		// labels every body JSON); judge the rest of the request.
		r.Header.Set("Content-Type", raw)
	case in.keep && in.done && !in.over:
		r.Body = io.NopCloser(bytes.NewReader(in.buf.Bytes()))
	default:
		r.Header.Del("Content-Type") // a body not read in full is not judged
		r.ContentLength = 0
	}
	if ok, errs := v.ValidateHttpRequestSync(r); !ok && out.status < 400 {
		return "answered a request the document refuses: " + joinErrors(errs)
	}
	resp := &http.Response{StatusCode: out.status, Header: out.Header(), Request: r, Body: http.NoBody}
	if out.keep && !out.over && r.Method != http.MethodHead {
		resp.Body = io.NopCloser(bytes.NewReader(out.buf.Bytes()))
	} else {
		resp.Header = resp.Header.Clone()
		if r.Method == http.MethodHead {
			resp.Header.Del("Content-Type")
		}
	}
	if ok, errs := v.ValidateHttpResponse(r, resp); !ok {
		return "the answer is not as documented: " + joinErrors(errs) + " body: " + clip(out.buf.String())
	}
	return ""
}

// rawBody returns the media type of the operation's body when it is not
// JSON (an upload), or "".
func rawBody(item *v3.PathItem, method string) string {
	op := map[string]*v3.Operation{http.MethodPost: item.Post, http.MethodPut: item.Put, http.MethodPatch: item.Patch}[method]
	if op == nil || op.RequestBody == nil || op.RequestBody.Content == nil {
		return ""
	}
	if _, ok := op.RequestBody.Content.Get("application/json"); ok {
		return ""
	}
	for name := range op.RequestBody.Content.KeysFromOldest() {
		return name
	}
	return ""
}

func joinErrors(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" {
			b.WriteString(" (" + e.Reason + ")")
		}
		for _, s := range e.SchemaValidationErrors {
			b.WriteString(" [" + s.FieldPath + ": " + s.Reason + "]")
		}
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func isJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// teeBody keeps a copy of a JSON request body as the handler reads it.
type teeBody struct {
	io.ReadCloser
	keep, done, over bool
	buf              bytes.Buffer
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if t.keep && !t.over {
		if t.buf.Len()+n > bodyCap {
			t.over = true
		} else {
			t.buf.Write(p[:n])
		}
	}
	if err == io.EOF {
		t.done = true
	}
	return n, err
}

// teeWriter keeps the status and a copy of a JSON answer.
type teeWriter struct {
	http.ResponseWriter
	status     int
	keep, over bool
	buf        bytes.Buffer
}

func (t *teeWriter) WriteHeader(code int) {
	if t.status == 0 {
		t.status = code
		t.keep = isJSON(t.Header().Get("Content-Type"))
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(p []byte) (int, error) {
	if t.status == 0 {
		t.WriteHeader(http.StatusOK)
	}
	if t.keep && !t.over {
		if t.buf.Len()+len(p) > bodyCap {
			t.over = true
		} else {
			t.buf.Write(p)
		}
	}
	return t.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines) as it would without the check.
func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func (t *teeWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
