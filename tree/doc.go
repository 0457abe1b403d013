// Package tree runs TIM-style reasoning: the model writes one JSON object, a tree of tasks,
// under a grammar; tools run inside the decode; and the insides of finished subtask lists
// leave the KV cache while the text stays in the output.
//
//	Response = {"reasoning": [Task, ...], "answer": string}
//	Task     = {"thought": string, "tooluse": ToolUse | null,
//	            "subtasks": [Task, ...] | null, "conclusion": string}
//	ToolUse  = {"tool_name": name, "parameters": {...}, "tool_result": any}
//
// The pieces:
//
//   - Schema builds the response schema (recursion unrolled to a fixed depth; the deepest
//     tasks have no "subtasks"), for runtime/grammar to compile. IsTIM tells whether a
//     user's response_format schema is a TIM response.
//   - Tracker follows the output bytes, in chunks of any size, with a streaming JSON parser
//     that knows where it is in the TIM shape, and raises events (below). Members the shape
//     does not name (a task "title", say) are parsed and ignored, so user schemas that
//     constrain or extend the tree work too.
//   - Pruner is the pruning policy: a FIFO stack of closed subtask lists (below).
//   - Run ties them to the engine as its Hook: it converts byte spans to token spans, runs
//     tools through a Caller and hands their results back as forced tokens, and asks for the
//     drops.
//
// # Events
//
// Offsets count output bytes. TaskOpened and TaskClosed come at a task's '{' and '}' (depth 1
// for the tasks of "reasoning", one more per "subtasks" level). ToolCall comes when the value
// of a ToolUse's "parameters" is complete: the runtime then writes `,"tool_result":` (less
// what the token that closed the parameters already wrote: Tracker.ResultPrefix) and the
// tool's result, as forced tokens that go through the tracker like any others; ToolResult
// comes when that value is complete. SubtasksClosed comes at the ']' of a task's "subtasks"
// list (never of "reasoning", the top-level list) with the list's inside, the bytes strictly
// between '[' and ']'. AnswerComplete comes at the closing quote of "answer", Done at the
// response's closing '}'.
//
// # Pruning
//
// Working memory is the prompt and every task not pruned: processing a task needs the
// thoughts and conclusions of earlier tasks at its level and above, not the inside of an
// earlier task's finished subtask list. When a list closes, its inside is pushed on a stack;
// while the stack holds more than the buffer (0, 1 and 2 are TIMRUN's settings; 0 drops every
// list as it closes), the oldest list is popped and dropped. A parent's list closes after its
// children's and contains them; each takes its own place on the stack, so a child popped while
// its parent is held drops its own inside only, and the parent, popped later, drops the rest.
// Empty lists are not pushed. The parent task's thought, tooluse and conclusion
// always stay.
//
// In tokens, a list's inside is the output tokens lying entirely between its brackets: a
// token that holds '[' or ']' (BPE merges such as `":[` or `]},`) stays, so a drop never cuts a
// token in half.
//
// # Forced results and the grammar
//
// runtime/grammar writes and accepts canonical compact JSON, numbers in plain decimal notation
// of at most 15 integer and 15 fraction digits, strings without surrogate \u escapes. A tool's
// result is rewritten into that form before it is forced (an exponent is expanded; a number
// that still does not fit becomes a string of its literal), so that no tool output can make
// the forced tokens fail the grammar.
package tree
