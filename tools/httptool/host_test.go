package httptool

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestPolicyBypasses: spellings of a host that the list does not name do not match, and other
// spellings of a listed host do, as the dialer would reach the same address.
func TestPolicyBypasses(t *testing.T) {
	p := &Policy{AllowHosts: []string{"127.0.0.1:8080", "LOCALHOST.", "example.com", "*.corp.example", "[::1]",
		"10.0.0.1", "kiwi.example", "[::FFFF:192.168.0.1]:9000", "api.example:0443"}}
	cases := []struct {
		url  string
		want bool
	}{
		// Trailing dots, case, port spellings of listed hosts: the same host.
		{"http://127.0.0.1:8080/", true},
		{"http://127.0.0.1.:8080/", true},
		{"http://127.0.0.1:08080/", true},
		{"http://127.0.0.1:80/", false},
		{"http://127.0.0.1/", false}, // 80 is not 8080
		{"http://localhost/", true},
		{"http://LocalHost.:1234/", true},
		{"http://localhost../", false},
		{"http://.localhost/", false},
		{"http://EXAMPLE.COM./x", true},
		{"https://api.example/", true}, // 443 as the entry's 0443
		{"http://api.example/", false},
		// Other notations of IPv4 addresses, which C resolvers read as 127.0.0.1 or 10.0.0.1:
		// never a match, even where they name a listed address.
		{"http://127.1:8080/", false},
		{"http://2130706433:8080/", false},
		{"http://0x7f.1:8080/", false},
		{"http://0x7f000001:8080/", false},
		{"http://0177.0.0.1:8080/", false},
		{"http://127.0.0.01:8080/", false},
		{"http://127.000.000.001:8080/", false},
		{"http://10.1/", false},
		{"http://167772161/", false},
		{"http://0/", false},
		{"http://0x/", false},
		{"http://1.2.3.4.5/", false},
		{"http://10.0.0.1/", true},
		{"http://10.0.0.1./", true},
		// IPv6: canonical text, and an IPv4-mapped address is the IPv4 address.
		{"http://[::1]/", true},
		{"http://[0:0:0:0:0:0:0:1]:99/", true},
		{"http://[::1%25eth0]/", false},
		{"http://[::ffff:127.0.0.1]:8080/", true},
		{"http://[::ffff:7f00:1]:8080/", true},
		{"http://[::127.0.0.1]:8080/", false}, // IPv4-compatible: another address
		{"http://192.168.0.1:9000/", true},
		{"http://192.168.0.1:9001/", false},
		// Userinfo, fragments and queries are not the host.
		{"http://example.com@evil.example/", false},
		{"http://example.com:80@evil.example/", false},
		{"http://evil.example#@example.com/", false},
		{"http://evil.example/?@example.com", false},
		{"http://evil.example/example.com", false},
		{"http://user:pass@example.com/", true},
		// Names around the listed ones.
		{"http://example.com.evil.example/", false},
		{"http://evilexample.com/", false},
		{"http://a.corp.example./", true},
		{"http://A.B.CORP.example/", true},
		{"http://corp.example./", false},
		{"http://a.corp.example.evil/", false},
		{"http://xcorp.example/", false},
		// Unicode that folds onto an ASCII name (U+212A KELVIN SIGN lowers to k).
		{"http://\u212aiwi.example/", false},
		{"http://kiwi.example/", true},
		{"ftp://example.com/", false},
	}
	for _, c := range cases {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if got := p.Allowed(u); got != c.want {
			t.Errorf("Allowed(%s) = %v, want %v", c.url, got, c.want)
		}
	}
	// A wildcard never matches an IP address, nor a "*" that is not the whole entry.
	for _, entry := range []string{"*.0.0.1", "*.1", "*ample.com"} {
		u, _ := url.Parse("http://127.0.0.1/")
		v, _ := url.Parse("http://example.com/")
		if (&Policy{AllowHosts: []string{entry}}).Allowed(u) || (&Policy{AllowHosts: []string{entry}}).Allowed(v) {
			t.Errorf("entry %q matched", entry)
		}
	}
}

// TestCheckAllowHost: entries the server refuses at start-up, and ones it takes.
func TestCheckAllowHost(t *testing.T) {
	for _, e := range []string{"*", "example.com", "Example.COM.", "example.com:8080", "*.corp.example",
		"*.corp.example:443",
		"127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:9000", "::1", "[fe80::1%eth0]:80", "my_host", " localhost "} {
		if err := CheckAllowHost(e); err != nil {
			t.Errorf("CheckAllowHost(%q): %v", e, err)
		}
	}
	for _, e := range []string{"", "127.1", "2130706433", "0x7f.1", "0177.0.0.1", "*.0.0.1", "*.", "*.*.example",
		"exa mple.com", "\u212aiwi.example", "host:99999", "host:0", "host:", "host:x", "[::1", "[::1]x", "[::1]:",
		"http://example.com", "a..b", "example.com/path", "user@example.com", "[127.0.0.1]"} {
		if err := CheckAllowHost(e); err == nil {
			t.Errorf("CheckAllowHost(%q) accepted it", e)
		}
	}
}

// TestHTTPToolDialsCanonicalHost: a URL with a trailing dot reaches the listed address itself
// (Go's resolver would otherwise look "127.0.0.1." up as a name), and so does a redirect.
func TestHTTPToolDialsCanonicalHost(t *testing.T) {
	hosts := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts <- r.Host
		if r.URL.Path == "/hop" {
			u, _ := url.Parse("http://" + r.Host)
			http.Redirect(w, r, "http://"+u.Hostname()+".:"+u.Port()+"/done", http.StatusFound)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	addr := hostOf(t, srv) // 127.0.0.1:PORT
	ip, port, _ := strings.Cut(addr, ":")
	tool, err := New(Spec{Name: "t", URL: "http://" + ip + ".:0" + port + "/hop", Method: "GET"},
		&Policy{AllowHosts: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	if key := tool.(*httpTool).CacheKey(); key != "http GET http://"+addr+"/hop" {
		t.Errorf("CacheKey %q", key)
	}
	res, err := tool.Call(context.Background(), json.RawMessage(`{}`))
	if err != nil || string(res) != `{"ok":true}` {
		t.Fatalf("call: %s, %v", res, err)
	}
	for _, want := range []string{"/hop", "/done"} {
		if h := <-hosts; h != addr {
			t.Errorf("%s: the server saw Host %q, want %q", want, h, addr)
		}
	}
	// A spelling the list refuses is refused when the tool is declared.
	if _, err := New(Spec{Name: "t", URL: "http://127.1:" + port + "/"},
		&Policy{AllowHosts: []string{addr}}); !errors.Is(err, ErrHostNotAllowed) {
		t.Errorf("127.1: %v, want ErrHostNotAllowed", err)
	}
}
