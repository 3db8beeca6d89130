package main

// Per-user visibility, which the simulator lacks: extra users (-users "alice:pw:DC0;bob:pw:DC1,DC2") log in
// as the simulator's own user, and their sessions see only the listed datacenters and what is inside them.
// A view or a retrieval that starts at a hidden object answers ManagedObjectNotFound (as a vCenter answers for
// an object the user has no permission on), and retrieval answers drop every hidden object.

import (
	"bytes"
	stdxml "encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type fixtureUser struct {
	password    string
	datacenters map[string]bool // visible datacenter names
}

type visibility struct {
	owner         string // the simulator's own login
	ownerPassword string
	users         map[string]fixtureUser

	mu       sync.Mutex
	sessions map[string]string // session cookie → extra user
}

// parseUsers reads "name:password:DC0,DC1;name2:password2:DC1".
func parseUsers(spec, owner, ownerPassword string) (*visibility, error) {
	v := &visibility{owner: owner, ownerPassword: ownerPassword, users: map[string]fixtureUser{}, sessions: map[string]string{}}
	for _, entry := range strings.Split(spec, ";") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		parts := strings.SplitN(entry, ":", 3)
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("want name:password:DC[,DC…], got %q", entry)
		}
		dcs := map[string]bool{}
		for _, dc := range strings.Split(parts[2], ",") {
			if dc != "" {
				dcs[dc] = true
			}
		}
		v.users[parts[0]] = fixtureUser{password: parts[1], datacenters: dcs}
	}
	return v, nil
}

var (
	loginUser     = regexp.MustCompile(`<userName>([^<]*)</userName>`)
	loginPassword = regexp.MustCompile(`<password>([^<]*)</password>`)
	containerRef  = regexp.MustCompile(`<container[^>]*>([^<]*)</container>`)
	objRef        = regexp.MustCompile(`<obj[^>]*>([^<]*)</obj>`)
	objectsBlock  = regexp.MustCompile(`(?s)<objects>.*?</objects>`)
)

func unescape(text string) string {
	var out string
	if err := stdxml.Unmarshal([]byte("<t>"+text+"</t>"), &out); err != nil {
		return text
	}
	return out
}

func escape(text string) string {
	var b bytes.Buffer
	_ = stdxml.EscapeText(&b, []byte(text))
	return b.String()
}

// login lets an extra user in as the owner and remembers whose session it is; answers false when the
// request is not an extra user's login (the simulator handles it).
func (v *visibility) login(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) bool {
	user := loginUser.FindSubmatch(body)
	password := loginPassword.FindSubmatch(body)
	if user == nil || password == nil {
		return false
	}
	name := unescape(string(user[1]))
	extra, ok := v.users[name]
	if !ok || unescape(string(password[1])) != extra.password {
		return false
	}
	rewritten := loginUser.ReplaceAll(body, []byte("<userName>"+escape(v.owner)+"</userName>"))
	rewritten = loginPassword.ReplaceAll(rewritten, []byte("<password>"+escape(v.ownerPassword)+"</password>"))
	rec := httptest.NewRecorder()
	r.Body = nopCloser(rewritten)
	r.ContentLength = int64(len(rewritten))
	next.ServeHTTP(rec, r)
	for _, cookie := range rec.Result().Cookies() {
		if cookie.Name == soap.SessionCookieName {
			v.mu.Lock()
			v.sessions[cookie.Value] = name
			v.mu.Unlock()
		}
	}
	copyResponse(w, rec)
	return true
}

// userOf answers the extra user whose session the request carries, if any.
func (v *visibility) userOf(r *http.Request) (fixtureUser, bool) {
	cookie, err := r.Cookie(soap.SessionCookieName)
	if err != nil {
		return fixtureUser{}, false
	}
	v.mu.Lock()
	name, ok := v.sessions[cookie.Value]
	v.mu.Unlock()
	if !ok {
		return fixtureUser{}, false
	}
	return v.users[name], true
}

// hidden lists the moids of the datacenters the user may not see and of everything inside them.
func hidden(user fixtureUser) map[string]bool {
	hiddenDCs := map[types.ManagedObjectReference]bool{}
	for _, e := range simulator.Map.All("Datacenter") {
		if dc, ok := e.(*simulator.Datacenter); ok && !user.datacenters[dc.Name] {
			hiddenDCs[dc.Self] = true
		}
	}
	out := map[string]bool{}
	for _, e := range simulator.Map.All("") {
		ref := e.Reference()
		for at, depth := mo.Entity(e), 0; at != nil && depth < 64; depth++ {
			if hiddenDCs[at.Reference()] {
				out[ref.Value] = true
				break
			}
			parent := at.Entity().Parent
			if parent == nil {
				break
			}
			next, ok := simulator.Map.Get(*parent).(mo.Entity)
			if !ok {
				break
			}
			at = next
		}
	}
	return out
}

// serve handles a SOAP call of an extra user's session; answers false when the simulator may serve it as is.
func (v *visibility) serve(w http.ResponseWriter, r *http.Request, name string, body []byte, next http.Handler) bool {
	user, ok := v.userOf(r)
	if !ok {
		return false
	}
	switch name {
	case "CreateContainerView", "RetrievePropertiesEx", "ContinueRetrievePropertiesEx", "RetrieveProperties":
	default:
		return false
	}
	hide := hidden(user)
	starts := append(containerRef.FindAllSubmatch(body, -1), objRef.FindAllSubmatch(body, -1)...)
	for _, m := range starts {
		if hide[unescape(string(m[1]))] {
			writeFault(w, "The object has already been deleted or has not been completely created", &types.ManagedObjectNotFound{})
			return true
		}
	}
	if name == "CreateContainerView" {
		return false
	}
	rec := httptest.NewRecorder()
	r.Body = nopCloser(body)
	next.ServeHTTP(rec, r)
	filtered := objectsBlock.ReplaceAllFunc(rec.Body.Bytes(), func(block []byte) []byte {
		if m := objRef.FindSubmatch(block); m != nil && hide[unescape(string(m[1]))] {
			return nil
		}
		return block
	})
	rec.Body = bytes.NewBuffer(filtered)
	rec.Header().Del("Content-Length")
	copyResponse(w, rec)
	return true
}

func nopCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for key, values := range rec.Header() {
		for _, value := range values {
			w.Header().Add(key, value)
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}
