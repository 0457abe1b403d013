// Package toolstest holds what the tests of tools and its implementation packages share: Set
// helpers and a small MCP server.
package toolstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/arborlabs/arbor/tools"
)

// MustSet is tools.NewSet, failing the test on an error.
func MustSet(t *testing.T, ts ...tools.Tool) *tools.Set {
	t.Helper()
	s, err := tools.NewSet(ts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// CheckErrorJSON asserts the model-facing form of a failure: exactly {"error":"..."}, compact,
// holding want.
func CheckErrorJSON(t *testing.T, res tools.Result, want string) {
	t.Helper()
	if res.Err == nil {
		t.Fatalf("no error; JSON %s", res.JSON)
	}
	var m map[string]string
	if err := json.Unmarshal(res.JSON, &m); err != nil || len(m) != 1 {
		t.Fatalf("error JSON %s is not {\"error\":...}: %v", res.JSON, err)
	}
	if m["error"] != res.Err.Error() {
		t.Errorf("error JSON %q differs from Err %q", m["error"], res.Err)
	}
	if !strings.Contains(m["error"], want) {
		t.Errorf("error %q does not contain %q", m["error"], want)
	}
	if strings.ContainsAny(string(res.JSON), "\n\t") {
		t.Errorf("error JSON not compact: %q", res.JSON)
	}
}

// MCPServerEnv, set to "1" in a test binary's environment, makes ServeMCPChild run MCPServer on
// stdio: a test starts its own binary as a stdio MCP server, so that the command transport is
// tested against a real process without anything outside the repository.
const MCPServerEnv = "ARBOR_TOOLS_TEST_MCP_SERVER"

// ServeMCPChild, called first in TestMain, serves MCPServer on stdio and exits when MCPServerEnv
// is set; otherwise it returns at once.
func ServeMCPChild() {
	if os.Getenv(MCPServerEnv) != "1" {
		return
	}
	if err := MCPServer(1).Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		fmt.Fprintln(os.Stderr, "test MCP server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

type addIn struct {
	A int `json:"a" jsonschema:"the first addend"`
	B int `json:"b" jsonschema:"the second addend"`
}

type addOut struct {
	Sum int `json:"sum"`
}

// MCPServer is a test MCP server with four tools: add (typed, structured result, read-only),
// fail (a tool error), echo (raw handler, text content) and mixed (several kinds of content).
// With pageSize 1 listing takes four pages.
func MCPServer(pageSize int) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1"}, &mcp.ServerOptions{PageSize: pageSize})
	mcp.AddTool(s, &mcp.Tool{Name: "add", Description: "Adds two integers.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
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
