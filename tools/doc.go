// Package tools is the tool side of task-tree decoding: the tools a model may call inside the
// decode, and the registry that calls them.
//
// When the model has written a tool's "parameters" object, the runtime calls Set.Call and writes
// the Result's JSON into the sequence. That JSON is always valid and compact, because the grammar
// that constrains the rest of the tree accepts nothing else: every failure (unknown tool, arguments
// that are not JSON or do not match the tool's schema, timeout, HTTP error status, a panic in a Go
// tool, an oversized or invalid result) becomes {"error":"<message for the model>"}, with the cause
// in Result.Err for the server's logs and metrics.
//
// Tools come from three places (the HTTP and MCP tools and the calculator in packages of their
// own under tools/):
//
//   - Go: Func for typed Go tools whose parameters schema is reflected from a struct
//     (SchemaFor), and the built-in exact calculator (package calc, math/big rationals).
//   - HTTP, in TIMRUN's form (package httptool): a spec with a url, declared by the operator
//     (any host) or by a chat request (ParseSpec, then New with a Policy whose AllowHosts the URL
//     must match).
//   - MCP servers (package mcp): each server tool is a Tool whose call goes to the server.
//
// Package toolconfig reads the operator's file of HTTP tools and MCP servers and builds them.
//
// A Set holds one request's tools: Clone a Set of the operator's tools per request and Add the
// request's own. Arguments are validated against each tool's schema (compiled once, when added)
// before the call. Successful results are cached in the Set by tool name and canonical arguments,
// and across requests in a shared Cache for tools that say what they are (CacheKeyer): HTTP tools
// by endpoint, the calculator, read-only MCP tools.
//
// The package depends on no other Arbor package; its implementation packages, runtime/ and
// server/ depend on it.
package tools
