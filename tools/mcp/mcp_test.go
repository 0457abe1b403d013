package mcp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tools/internal/toolstest"
)

// connectInMemory runs a test server on in-memory transports and connects to it.
func connectInMemory(t *testing.T, opts *Options) *Server {
	t.Helper()
	ctx := context.Background()
	st, ct := sdk.NewInMemoryTransports()
	ss, err := toolstest.MCPServer(1).Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	srv, err := Connect(ctx, "mem", ct, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func TestMCPListAndCall(t *testing.T) {
	srv := connectInMemory(t, &Options{Prefix: "m_"})
	if srv.Name() != "mem" {
		t.Errorf("name %q", srv.Name())
	}
	listed := srv.Tools()
	var names []string
	for _, tool := range listed {
		names = append(names, tool.Name())
	}
	// Four tools one per page: every page was read.
	if strings.Join(names, ",") != "m_add,m_echo,m_fail,m_mixed" {
		t.Fatalf("tools %v", names)
	}
	add := listed[0]
	if add.Description() != "Adds two integers." {
		t.Errorf("description %q", add.Description())
	}
	var schema struct {
		Type       string
		Properties map[string]struct{ Type, Description string }
		Required   []string
	}
	if err := json.Unmarshal(add.Parameters(), &schema); err != nil {
		t.Fatal(err)
	}
	if schema.Type != "object" || schema.Properties["a"].Type != "integer" ||
		schema.Properties["a"].Description != "the first addend" {
		t.Errorf("add's input schema %s", add.Parameters())
	}
	if k := add.(tools.CacheKeyer).CacheKey(); k != "mcp mem add" {
		t.Errorf("read-only tool's cache key %q", k)
	}
	if k := listed[2].(tools.CacheKeyer).CacheKey(); k != "" {
		t.Errorf("a tool that may write has cache key %q", k)
	}

	set := toolstest.MustSet(t, listed...)
	ctx := context.Background()
	for _, c := range []struct{ name, args, want string }{
		{"m_add", `{"a":2,"b":40}`, `{"sum":42}`}, // structured content
		{"m_echo", `{"text":"héllo <b>"}`, `"héllo <b>"`},
		{"m_mixed", `{}`,
			`["one",{"bytes":3,"mimeType":"image/png","type":"image"},{"text":"inside","type":"resource",` +
				`"uri":"file:///a.txt"}]`},
		{"m_fail", `{}`, `{"error":"tool \"m_fail\": disk on fire"}`},
		// checked before the server sees it
		{"m_add", `{"a":"2","b":40}`, `{"error":"tool \"m_add\": invalid arguments: at /a: got string, want integer"}`},
	} {
		res := set.Call(ctx, c.name, json.RawMessage(c.args))
		if string(res.JSON) != c.want {
			t.Errorf("%s %s: got %s, want %s (%v)", c.name, c.args, res.JSON, c.want, res.Err)
		}
	}
}

func TestMCPClosedSession(t *testing.T) {
	srv := connectInMemory(t, nil)
	set := toolstest.MustSet(t, srv.Tools()...)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	res := set.Call(context.Background(), "echo", json.RawMessage(`{"text":"x"}`))
	toolstest.CheckErrorJSON(t, res, `tool "echo": mcp mem: `)
}
