// Package tools will hold the tool registry, the built-in tools, HTTP and MCP tools, and the
// result cache that task-tree decoding calls inside the decode (issue 5). Nothing is
// implemented yet; see shared/design/architecture.md for its place in the map.
package tools
