// Package toolconfig reads the operator's tool configuration file, which declares HTTP tools and
// MCP servers, and builds its tools. It sits apart from package tools because it uses both
// implementations, httptool and mcp, which themselves depend on tools.
package toolconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tools/httptool"
	"github.com/arborlabs/arbor/tools/mcp"
)

// Config is the operator's tool configuration:
//
//	{
//	  "tools": [<HTTP tool specs, flat or nested, each with a url>],
//	  "mcp":   [{"name":"fs","command":["prog","arg"],"env":{"K":"v"}},
//	            {"name":"x","url":"http://host/mcp","prefix":"x_","timeout":20}]
//	}
//
// An MCP entry has a name and exactly one of command (a stdio server, started by Arbor) and url (a
// streamable HTTP server). prefix is prepended to its tools' names; timeout is seconds per call.
type Config struct {
	HTTP []httptool.Spec
	MCP  []MCP

	source string // the file name, for errors

	mu      sync.Mutex
	servers []*mcp.Server
	tools   []tools.Tool
}

// MCP is one entry of the config's "mcp" array.
type MCP struct {
	Name    string            `json:"name"`
	Command []string          `json:"command,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	URL     string            `json:"url,omitempty"`
	Prefix  string            `json:"prefix,omitempty"`
	Timeout float64           `json:"timeout,omitempty"`
}

// Load reads and checks a tool config file. Errors name the file and the entry, e.g.
// "tools.json: tools[2]: missing url". Nothing is connected until Tools.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tool config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load on data already read; source names it in errors.
func Parse(source string, data []byte) (*Config, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", source, fmt.Sprintf(format, args...))
	}
	var doc struct {
		Tools []json.RawMessage `json:"tools"`
		MCP   []json.RawMessage `json:"mcp"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// A misspelt top-level key ("tool") would otherwise be a config that silently declares nothing.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fail("%s", jsonErr(data, err))
	}
	if dec.More() {
		return nil, fail("data after the top-level object")
	}
	c := &Config{source: source}
	names := map[string]string{} // tool name -> entry that declared it
	for i, raw := range doc.Tools {
		at := fmt.Sprintf("tools[%d]", i)
		spec, err := httptool.ParseSpec(raw)
		if err != nil {
			return nil, fail("%s: %v", at, err)
		}
		if !spec.HasURL() {
			return nil, fail("%s (%s): missing url", at, spec.Name)
		}
		if _, err := httptool.New(spec, nil); err != nil {
			return nil, fail("%s: %v", at, err)
		}
		if _, err := tools.CompileSchema(spec.Parameters); err != nil {
			return nil, fail("%s (%s): parameters: %v", at, spec.Name, err)
		}
		if prev, dup := names[spec.Name]; dup {
			return nil, fail("%s: tool name %q already declared by %s", at, spec.Name, prev)
		}
		names[spec.Name] = at
		c.HTTP = append(c.HTTP, spec)
	}
	servers := map[string]string{}
	for i, raw := range doc.MCP {
		at := fmt.Sprintf("mcp[%d]", i)
		var m MCP
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&m); err != nil {
			return nil, fail("%s: %v", at, err)
		}
		if m.Name == "" {
			return nil, fail("%s: missing name", at)
		}
		at = fmt.Sprintf("%s (%s)", at, m.Name)
		if prev, dup := servers[m.Name]; dup {
			return nil, fail("%s: server name already used by %s", at, prev)
		}
		servers[m.Name] = at
		switch {
		case len(m.Command) > 0 && m.URL != "":
			return nil, fail("%s: both command and url; give one", at)
		case len(m.Command) > 0:
			if m.Command[0] == "" {
				return nil, fail("%s: empty command", at)
			}
		case m.URL != "":
			u, err := url.Parse(m.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fail("%s: url %q: must be an absolute http or https URL", at, m.URL)
			}
		default:
			return nil, fail("%s: missing command or url", at)
		}
		if m.Timeout < 0 {
			return nil, fail("%s: negative timeout", at)
		}
		c.MCP = append(c.MCP, m)
	}
	return c, nil
}

// jsonErr adds the line and column to a syntax error: an operator edits the file by lines.
func jsonErr(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return err.Error()
	}
	line, col := 1, 1
	for _, b := range data[:min(int(off), len(data))] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// Tools builds the HTTP tools (trusted: any host) and connects the MCP servers, returning all
// their tools, HTTP tools first. A failed connection closes the servers already connected. Later
// calls return the same tools; Close ends the sessions.
func (c *Config) Tools(ctx context.Context) ([]tools.Tool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tools != nil {
		return append([]tools.Tool(nil), c.tools...), nil
	}
	var out []tools.Tool
	names := map[string]string{}
	add := func(t tools.Tool, at string) error {
		if prev, dup := names[t.Name()]; dup {
			return fmt.Errorf("%s: %s: tool name %q already declared by %s", c.source, at, t.Name(), prev)
		}
		names[t.Name()] = at
		out = append(out, t)
		return nil
	}
	for i, spec := range c.HTTP {
		at := fmt.Sprintf("tools[%d]", i)
		t, err := httptool.New(spec, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", c.source, at, err)
		}
		if err := add(t, at); err != nil {
			return nil, err
		}
	}
	var servers []*mcp.Server
	closeAll := func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}
	for i, m := range c.MCP {
		at := fmt.Sprintf("mcp[%d] (%s)", i, m.Name)
		t := mcp.HTTPTransport(m.URL, nil)
		if len(m.Command) > 0 {
			t = mcp.CommandTransport(m.Command, m.Env)
		}
		s, err := mcp.Connect(ctx, m.Name, t, &mcp.Options{Prefix: m.Prefix,
			Timeout: time.Duration(m.Timeout * float64(time.Second))})
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%s: %s: %w", c.source, at, err)
		}
		servers = append(servers, s)
		for _, t := range s.Tools() {
			if err := add(t, at); err != nil {
				closeAll()
				return nil, err
			}
		}
	}
	c.servers, c.tools = servers, out
	if c.tools == nil {
		c.tools = []tools.Tool{} // connected, with no tools: still "done"
	}
	return append([]tools.Tool(nil), out...), nil
}

// Close ends the MCP sessions (stopping command servers). Tools connects again afterwards.
func (c *Config) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, s := range c.servers {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.servers, c.tools = nil, nil
	return errors.Join(errs...)
}
