package httptool

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Hosts are compared in one canonical form on both sides, the allow-list entry and the URL, so
// that two spellings of one host match and no spelling of another host does:
//
//   - names in ASCII lower case, with one trailing dot (the DNS root) removed;
//   - IP addresses in their canonical text: IPv6 without brackets and with zeros compressed,
//     an IPv4-mapped IPv6 address as the IPv4 address it maps to;
//   - ports as decimal numbers, a URL without one having its scheme's default.
//
// Some spellings are refused outright, as entries and in URLs: a name that ends in a number
// but is not a dotted-quad IPv4 address ("127.1", "2130706433", "0x7f.1", "0177.0.0.1") is
// read by C resolvers (getaddrinfo, hence Go's cgo resolver) as an IPv4 address in another
// notation, an address the list may not name; a name outside ASCII letters, digits, '-', '_'
// and '.' (Unicode names are for the client to send in their IDNA form: case folding could
// otherwise turn U+212A KELVIN SIGN into an ASCII k); empty labels.
//
// A URL that passes is called with its host rewritten to the canonical form (see New), so
// the dialer reaches exactly what was compared.

// canonicalHost returns the canonical form of a host name or address (without brackets or
// port), whether it is an IP address, and ok false for a spelling that is refused.
func canonicalHost(h string) (host string, isIP, ok bool) {
	if strings.Contains(h, ":") { // only IPv6 addresses have colons here
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is6() {
			return "", false, false
		}
		return a.Unmap().String(), true, true
	}
	if h == "" {
		return "", false, false
	}
	b := []byte(h)
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return "", false, false
		}
	}
	h = strings.TrimSuffix(string(b), ".")
	if h == "" || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
		return "", false, false
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if !numericLabel(last) {
		return h, false, true
	}
	a, err := netip.ParseAddr(h)
	if err != nil || !a.Is4() {
		return "", false, false
	}
	return a.String(), true, true
}

// numericLabel reports whether a label reads as a number in inet_aton's notations: decimal,
// octal (leading 0) or hexadecimal (0x).
func numericLabel(s string) bool {
	if rest, ok := strings.CutPrefix(s, "0x"); ok {
		s = rest
		for _, c := range []byte(s) {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
		return true
	}
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// canonicalPort returns a port as a decimal number without leading zeros; "" is the scheme's
// default (or "" when def is ""). ok is false for anything but 1 to 65535.
func canonicalPort(p, def string) (string, bool) {
	if p == "" {
		return def, true
	}
	if len(p) > 8 {
		return "", false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || strings.ContainsAny(p, "+-") {
		return "", false
	}
	return strconv.Itoa(n), true
}

var defaultPorts = map[string]string{"http": "80", "https": "443"}

// allowEntry is a parsed --allow-tool-host entry.
type allowEntry struct {
	any      bool   // "*"
	host     string // canonical; for a wildcard, the domain whose subdomains match
	wildcard bool   // "*.example.com"
	port     string // "" for any port
}

// errBadEntry is wrapped by the errors of entries that cannot be parsed.
var errBadEntry = errors.New(`want "*", HOST, HOST:PORT, *.DOMAIN or *.DOMAIN:PORT (IPv6 in brackets with a port)`)

func parseAllowEntry(entry string) (allowEntry, error) {
	entry = strings.TrimSpace(entry)
	if entry == "*" {
		return allowEntry{any: true}, nil
	}
	host, port := entry, ""
	switch {
	case strings.HasPrefix(entry, "["):
		end := strings.IndexByte(entry, ']')
		if end < 0 {
			return allowEntry{}, fmt.Errorf("%q: unclosed [: %w", entry, errBadEntry)
		}
		host, port = entry[1:end], entry[end+1:]
		if !strings.Contains(host, ":") {
			return allowEntry{}, fmt.Errorf("%q: brackets are for IPv6 addresses: %w", entry, errBadEntry)
		}
		if port != "" {
			var ok bool
			if port, ok = strings.CutPrefix(port, ":"); !ok || port == "" {
				return allowEntry{}, fmt.Errorf("%q: %w", entry, errBadEntry)
			}
		}
	case strings.Count(entry, ":") == 1:
		var err error
		if host, port, err = net.SplitHostPort(entry); err != nil || port == "" {
			return allowEntry{}, fmt.Errorf("%q: %w", entry, errBadEntry)
		}
	}
	e := allowEntry{}
	if port != "" {
		p, ok := canonicalPort(port, "")
		if !ok {
			return allowEntry{}, fmt.Errorf("%q: port %q is not a number from 1 to 65535", entry, port)
		}
		e.port = p
	}
	if domain, ok := strings.CutPrefix(host, "*."); ok {
		h, isIP, ok := canonicalHost(domain)
		if !ok || isIP {
			return allowEntry{}, fmt.Errorf("%q: %q is not a domain name: %w", entry, domain, errBadEntry)
		}
		e.host, e.wildcard = h, true
		return e, nil
	}
	h, _, ok := canonicalHost(host)
	if !ok {
		return allowEntry{}, fmt.Errorf("%q: %q is not a host name in ASCII or an IP address in its usual notation: %w",
			entry, host, errBadEntry)
	}
	e.host = h
	return e, nil
}

// CheckAllowHost reports whether entry is a usable AllowHosts entry; the server's flag
// parsing calls it so that a mistyped entry fails at start-up instead of matching nothing.
func CheckAllowHost(entry string) error {
	_, err := parseAllowEntry(entry)
	return err
}

// urlTarget is the canonical host and port a URL reaches; ok is false for a URL no entry may
// match (not http or https, no host, a refused spelling of the host, a bad port).
func urlTarget(u *url.URL) (host, port string, isIP, ok bool) {
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", "", false, false
	}
	host, isIP, ok = canonicalHost(u.Hostname())
	if !ok {
		return "", "", false, false
	}
	port, ok = canonicalPort(u.Port(), defaultPorts[u.Scheme])
	return host, port, isIP, ok
}

// canonicalURLHost is u's Host in the canonical form the allow-list compared (a port only if u
// gave one), for the request to dial; "" if u has no canonical form.
func canonicalURLHost(u *url.URL) string {
	host, _, _, ok := urlTarget(u)
	if !ok {
		return ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if u.Port() == "" {
		return host
	}
	port, _ := canonicalPort(u.Port(), "")
	return host + ":" + port
}
