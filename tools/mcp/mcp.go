// Package mcp makes the tools of an MCP (Model Context Protocol) server Arbor tools: Connect lists
// a server's tools, and each one's calls go to the server.
package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/arborlabs/arbor/tools"
)

const (
	// DefaultTimeout is an MCP tool's per-call timeout when Options names none.
	DefaultTimeout = 30 * time.Second
	// connectTimeout bounds connecting and listing tools when the caller's context has no
	// deadline: a server that never answers initialize must not hang start-up.
	connectTimeout = 30 * time.Second
)

// Options tune Connect.
type Options struct {
	// Prefix is prepended to each tool's name ("fs_" makes "read_file" "fs_read_file"), to keep
	// the tools of several servers apart. The server is still called with its own names.
	Prefix string
	// Timeout bounds each call (default DefaultTimeout).
	Timeout time.Duration
}

// Server is a connected MCP server and its tools.
type Server struct {
	name    string
	session *sdk.ClientSession
	tools   []tools.Tool
}

// Connect connects to an MCP server over t (an *sdk.CommandTransport for a stdio server, an
// *sdk.StreamableClientTransport for a URL, in-memory transports in tests), and lists its tools,
// all pages. name identifies the server in errors and cache keys. Close the server when done.
func Connect(ctx context.Context, name string, t sdk.Transport, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	// Empty capabilities: Arbor offers the server no roots, sampling or elicitation.
	client := sdk.NewClient(&sdk.Implementation{Name: "arbor", Version: "1"},
		&sdk.ClientOptions{Capabilities: &sdk.ClientCapabilities{}})
	session, err := client.Connect(ctx, t, nil)
	if err != nil {
		return nil, fmt.Errorf("mcp %s: connect: %w", name, err)
	}
	s := &Server{name: name, session: session}
	if init := session.InitializeResult(); init != nil && init.Capabilities != nil && init.Capabilities.Tools == nil {
		return s, nil // a server of prompts or resources only: listing tools would be an error
	}
	for tool, err := range session.Tools(ctx, nil) {
		if err != nil {
			_ = session.Close()
			return nil, fmt.Errorf("mcp %s: listing tools: %w", name, err)
		}
		params := json.RawMessage(tools.EmptyObjectSchema)
		if tool.InputSchema != nil {
			if params, err = json.Marshal(tool.InputSchema); err != nil {
				_ = session.Close()
				return nil, fmt.Errorf("mcp %s: tool %q: input schema: %w", name, tool.Name, err)
			}
		}
		if _, err := tools.CompileSchema(params); err != nil {
			_ = session.Close()
			return nil, fmt.Errorf("mcp %s: tool %q: input schema: %w", name, tool.Name, err)
		}
		mt := &mcpTool{
			server:  name,
			name:    opts.Prefix + tool.Name,
			remote:  tool.Name,
			desc:    tool.Description,
			params:  params,
			session: session,
			timeout: timeout,
		}
		// Only tools that declare themselves read-only are shared across requests: calling a
		// tool that writes must not be skipped because another request called it before.
		if tool.Annotations != nil && tool.Annotations.ReadOnlyHint {
			mt.key = "mcp " + name + " " + tool.Name
		}
		s.tools = append(s.tools, mt)
	}
	return s, nil
}

// Name is the server's name as given to Connect.
func (s *Server) Name() string { return s.name }

// Tools returns the server's tools, in the order the server listed them.
func (s *Server) Tools() []tools.Tool { return append([]tools.Tool(nil), s.tools...) }

// Close ends the session (and stops a command server).
func (s *Server) Close() error {
	if err := s.session.Close(); err != nil {
		return fmt.Errorf("mcp %s: close: %w", s.name, err)
	}
	return nil
}

// CommandTransport runs argv as a stdio MCP server, with env added to Arbor's environment. Its
// stderr is Arbor's, where the operator looks for a server that fails to start.
func CommandTransport(argv []string, env map[string]string) sdk.Transport {
	cmd := exec.Command(argv[0], argv[1:]...)
	if len(env) > 0 {
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Stderr = os.Stderr
	return &sdk.CommandTransport{Command: cmd}
}

// HTTPTransport speaks MCP's streamable HTTP transport to url. Without the standalone SSE stream:
// Arbor only calls tools and needs no messages the server starts.
func HTTPTransport(url string, client *http.Client) sdk.Transport {
	return &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: client, DisableStandaloneSSE: true}
}

type mcpTool struct {
	server, name, remote, desc string
	params                     json.RawMessage
	session                    *sdk.ClientSession
	timeout                    time.Duration
	key                        string
}

func (t *mcpTool) Name() string                { return t.name }
func (t *mcpTool) Description() string         { return t.desc }
func (t *mcpTool) Parameters() json.RawMessage { return bytes.Clone(t.params) }
func (t *mcpTool) CacheKey() string            { return t.key }

// Call calls the tool on the server. The result is the structured content when the server gives
// one; otherwise the content: a lone text as a JSON string, several items as an array (texts as
// strings, other kinds as small objects describing them; binary data is left out, a language model
// cannot read base64).
func (t *mcpTool) Call(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
	callCtx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	res, err := t.session.CallTool(callCtx, &sdk.CallToolParams{Name: t.remote, Arguments: json.RawMessage(args)})
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(callCtx.Err(), context.DeadlineExceeded):
			return nil, fmt.Errorf("mcp %s: %w after %s", t.server, tools.ErrTimeout, t.timeout)
		}
		return nil, fmt.Errorf("mcp %s: %w", t.server, err)
	}
	if res.IsError {
		msg := strings.TrimSpace(contentText(res.Content))
		if msg == "" {
			msg = "the tool reported an error"
		}
		return nil, errors.New(msg)
	}
	if res.NeedsInput() {
		return nil, errors.New("the tool asked for user input, which a call inside the decode cannot give")
	}
	if res.StructuredContent != nil {
		out, err := tools.Marshal(res.StructuredContent)
		if err != nil {
			return nil, fmt.Errorf("mcp %s: structured content: %w", t.server, err)
		}
		return out, nil
	}
	var v any
	switch items := contentValues(res.Content); len(items) {
	case 1:
		v = items[0]
	default:
		v = items // [] for no content: a valid, empty answer
	}
	out, err := tools.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("mcp %s: content: %w", t.server, err)
	}
	return out, nil
}

func contentValues(cs []sdk.Content) []any {
	out := make([]any, 0, len(cs))
	for _, c := range cs {
		switch c := c.(type) {
		case *sdk.TextContent:
			out = append(out, c.Text)
		case *sdk.ImageContent:
			out = append(out, map[string]any{"type": "image", "mimeType": c.MIMEType, "bytes": len(c.Data)})
		case *sdk.AudioContent:
			out = append(out, map[string]any{"type": "audio", "mimeType": c.MIMEType, "bytes": len(c.Data)})
		case *sdk.ResourceLink:
			out = append(out, map[string]any{"type": "resource_link", "uri": c.URI, "name": c.Name})
		case *sdk.EmbeddedResource:
			r := map[string]any{"type": "resource"}
			if c.Resource != nil {
				r["uri"] = c.Resource.URI
				if c.Resource.MIMEType != "" {
					r["mimeType"] = c.Resource.MIMEType
				}
				if c.Resource.Text != "" {
					r["text"] = c.Resource.Text
				} else if len(c.Resource.Blob) > 0 {
					r["bytes"] = len(c.Resource.Blob)
				}
			}
			out = append(out, r)
		default:
			out = append(out, map[string]any{"type": "unsupported"})
		}
	}
	return out
}

// contentText joins the texts of an error result: what the tool said went wrong.
func contentText(cs []sdk.Content) string {
	var parts []string
	for _, c := range cs {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}
