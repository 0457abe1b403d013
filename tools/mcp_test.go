package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpServerEnv makes the test binary an MCP stdio server (see TestMain), so that the command
// transport is tested against a real process without anything outside the repository.
const mcpServerEnv = "ARBOR_TOOLS_TEST_MCP_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(mcpServerEnv) == "1" {
		if err := testMCPServer(1).Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, "test MCP server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type addIn struct {
	A int `json:"a" jsonschema:"the first addend"`
	B int `json:"b" jsonschema:"the second addend"`
}

type addOut struct {
	Sum int `json:"sum"`
}

// testMCPServer has four tools: add (typed, structured result, read-only), fail (a tool error),
// echo (raw handler, text content) and mixed (several kinds of content). With pageSize 1 listing
// takes four pages.
func testMCPServer(pageSize int) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1"}, &mcp.ServerOptions{PageSize: pageSize})
	mcp.AddTool(s, &mcp.Tool{Name: "add", Description: "Adds two integers.", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(_ context.Context, _ *mcp.CallToolRequest, in addIn) (*mcp.CallToolResult, addOut, error) {
			return nil, addOut{Sum: in.A + in.B}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "fail", Description: "Always fails."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return nil, nil, errors.New("disk on fire")
		})
	s.AddTool(&mcp.Tool{Name: "echo", Description: "Echoes text.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var in struct{ Text string }
			if err := json.Unmarshal(req.Params.Arguments, &in); err != nil {
				return nil, err
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil
		})
	s.AddTool(&mcp.Tool{Name: "mixed", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{
				&mcp.TextContent{Text: "one"},
				&mcp.ImageContent{MIMEType: "image/png", Data: []byte{1, 2, 3}},
				&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "file:///a.txt", Text: "inside"}},
			}}, nil
		})
	return s
}

// connectInMemory runs a test server on in-memory transports and connects to it.
func connectInMemory(t *testing.T, opts *MCPOptions) *MCPServer {
	t.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := testMCPServer(1).Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	srv, err := ConnectMCP(ctx, "mem", ct, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func TestMCPListAndCall(t *testing.T) {
	srv := connectInMemory(t, &MCPOptions{Prefix: "m_"})
	if srv.Name() != "mem" {
		t.Errorf("name %q", srv.Name())
	}
	tools := srv.Tools()
	var names []string
	for _, tool := range tools {
		names = append(names, tool.Name())
	}
	// Four tools one per page: every page was read.
	if strings.Join(names, ",") != "m_add,m_echo,m_fail,m_mixed" {
		t.Fatalf("tools %v", names)
	}
	add := tools[0]
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
	if schema.Type != "object" || schema.Properties["a"].Type != "integer" || schema.Properties["a"].Description != "the first addend" {
		t.Errorf("add's input schema %s", add.Parameters())
	}
	if k := add.(CacheKeyer).CacheKey(); k != "mcp mem add" {
		t.Errorf("read-only tool's cache key %q", k)
	}
	if k := tools[2].(CacheKeyer).CacheKey(); k != "" {
		t.Errorf("a tool that may write has cache key %q", k)
	}

	set := mustSet(t, tools...)
	ctx := context.Background()
	for _, c := range []struct{ name, args, want string }{
		{"m_add", `{"a":2,"b":40}`, `{"sum":42}`}, // structured content
		{"m_echo", `{"text":"héllo <b>"}`, `"héllo <b>"`},
		{"m_mixed", `{}`, `["one",{"bytes":3,"mimeType":"image/png","type":"image"},{"text":"inside","type":"resource","uri":"file:///a.txt"}]`},
		{"m_fail", `{}`, `{"error":"tool \"m_fail\": disk on fire"}`},
		{"m_add", `{"a":"2","b":40}`, `{"error":"tool \"m_add\": invalid arguments: at /a: got string, want integer"}`}, // checked before the server sees it
	} {
		res := set.Call(ctx, c.name, json.RawMessage(c.args))
		if string(res.JSON) != c.want {
			t.Errorf("%s %s: got %s, want %s (%v)", c.name, c.args, res.JSON, c.want, res.Err)
		}
	}
}

func TestMCPClosedSession(t *testing.T) {
	srv := connectInMemory(t, nil)
	set := mustSet(t, srv.Tools()...)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	res := set.Call(context.Background(), "echo", json.RawMessage(`{"text":"x"}`))
	checkErrorJSON(t, res, `tool "echo": mcp mem: `)
}
