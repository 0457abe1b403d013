package toolconfig

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/arborlabs/arbor/tools/internal/toolstest"
)

func TestMain(m *testing.M) {
	toolstest.ServeMCPChild()
	os.Exit(m.Run())
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tools.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadErrors(t *testing.T) {
	cases := []struct{ body, want string }{
		{`{"tools":[{"name":"a","url":"http://a"},{"name":"b","url":"http://b"},{"name":"c"}]}`,
			"tools[2] (c): missing url"},
		{`{"tools":[{"url":"http://a"}]}`, "tools[0]: tool spec: missing name"},
		{`{"tools":[{"name":"a","url":"http://a","method":"PATCH"}]}`, `tools[0]: tool "a": method "PATCH"`},
		{`{"tools":[{"name":"a","url":"ftp://a"}]}`,
			"tools[0]: tool \"a\": url \"ftp://a\": must be an absolute http or https URL"},
		{`{"tools":[{"name":"a","url":"http://a","parameters":{"type":12}}]}`, "tools[0] (a): parameters: schema"},
		{`{"tools":[{"name":"a","url":"http://a"},{"type":"function","function":{"name":"a"},"url":"http://b"}]}`,
			`tools[1]: tool name "a" already declared by tools[0]`},
		{`{"tool":[]}`, `unknown field "tool"`},
		{"{\n  \"tools\": [\n    {\"name\": \"a\",}\n  ]\n}", "line 3, column 19: invalid character '}'"},
		{`{"tools":{}}`, "cannot unmarshal object"},
		{`{} {}`, "data after the top-level object"},
		{`{"mcp":[{"command":["x"]}]}`, "mcp[0]: missing name"},
		{`{"mcp":[{"name":"fs"}]}`, "mcp[0] (fs): missing command or url"},
		{`{"mcp":[{"name":"fs","command":["x"],"url":"http://a"}]}`, "mcp[0] (fs): both command and url"},
		{`{"mcp":[{"name":"fs","command":[""]}]}`, "mcp[0] (fs): empty command"},
		{`{"mcp":[{"name":"fs","url":"localhost:80"}]}`,
			`mcp[0] (fs): url "localhost:80": must be an absolute http or https URL`},
		{`{"mcp":[{"name":"fs","command":["x"]},{"name":"fs","url":"http://a"}]}`,
			"mcp[1] (fs): server name already used by mcp[0] (fs)"},
		{`{"mcp":[{"name":"fs","command":["x"],"args":["y"]}]}`, `mcp[0]: json: unknown field "args"`},
		{`{"mcp":[{"name":"fs","command":["x"],"timeout":-1}]}`, "negative timeout"},
	}
	for _, c := range cases {
		path := writeConfig(t, c.body)
		_, err := Load(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %s: ...%s...", c.body, err, path, c.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.json")); err == nil ||
		!strings.Contains(err.Error(), "none.json") {
		t.Errorf("missing file: %v", err)
	}
}

// TestConfigTools loads a config with an HTTP tool, a streamable-HTTP MCP server and a stdio MCP
// server (this test binary, see TestMain and toolstest.ServeMCPChild), and calls one tool of each.
func TestConfigTools(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Write([]byte(`{"echo":` + string(body) + `}`))
	}))
	defer api.Close()
	mcpServer := toolstest.MCPServer(0)
	mcpHTTP := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return mcpServer },
		nil))
	defer mcpHTTP.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	cfg := map[string]any{
		"tools": []any{
			map[string]any{"type": "function", "name": "Echo", "description": "echoes", "url": api.URL, "timeout": 5,
				"parameters": map[string]any{"type": "object",
					"properties": map[string]any{"x": map[string]any{"type": "integer"}}}},
		},
		"mcp": []any{
			map[string]any{"name": "web", "url": mcpHTTP.URL, "prefix": "web_"},
			map[string]any{"name": "proc", "command": []string{exe, "-test.run=^$"},
				"env": map[string]string{toolstest.MCPServerEnv: "1"}, "prefix": "proc_", "timeout": 10},
		},
	}
	data, _ := json.Marshal(cfg)
	c, err := Load(writeConfig(t, string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.HTTP) != 1 || len(c.MCP) != 2 || c.MCP[1].Env[toolstest.MCPServerEnv] != "1" {
		t.Fatalf("config %+v", c)
	}
	ctx := context.Background()
	tools, err := c.Tools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	var names []string
	for _, tool := range tools {
		names = append(names, tool.Name())
	}
	want := "Echo,web_add,web_echo,web_fail,web_mixed,proc_add,proc_echo,proc_fail,proc_mixed"
	if strings.Join(names, ",") != want {
		t.Errorf("tools %v, want %s", names, want)
	}
	again, err := c.Tools(ctx)
	if err != nil || len(again) != len(tools) || again[1] != tools[1] {
		t.Errorf("second Tools call did not return the same tools: %v", err)
	}

	set := toolstest.MustSet(t, tools...)
	for _, call := range []struct{ name, args, want string }{
		{"Echo", `{"x":1}`, `{"echo":{"x":1}}`},
		{"web_add", `{"a":1,"b":2}`, `{"sum":3}`},
		{"proc_add", `{"a":20,"b":22}`, `{"sum":42}`},
		{"proc_fail", `{}`, `{"error":"tool \"proc_fail\": disk on fire"}`},
	} {
		res := set.Call(ctx, call.name, json.RawMessage(call.args))
		if string(res.JSON) != call.want {
			t.Errorf("%s: %s, want %s (%v)", call.name, res.JSON, call.want, res.Err)
		}
	}
}

func TestConfigToolsErrors(t *testing.T) {
	// A name clash between an HTTP tool and an MCP server's tool is found when the server lists.
	mcpServer := toolstest.MCPServer(0)
	mcpHTTP := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return mcpServer },
		nil))
	defer mcpHTTP.Close()
	c, err := Parse("ops.json",
		[]byte(`{"tools":[{"name":"add","url":"http://a"}],"mcp":[{"name":"m","url":"`+mcpHTTP.URL+`"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tools(context.Background()); err == nil ||
		err.Error() != `ops.json: mcp[0] (m): tool name "add" already declared by tools[0]` {
		t.Errorf("clash: %v", err)
	}

	// A server that is not there: the error names the entry.
	c, err = Parse("ops.json", []byte(`{"mcp":[{"name":"gone","command":["/nonexistent/arbor-mcp-server"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tools(context.Background()); err == nil ||
		!strings.HasPrefix(err.Error(), "ops.json: mcp[0] (gone): mcp gone: connect: ") {
		t.Errorf("missing command: %v", err)
	}
}
