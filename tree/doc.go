// Package tree will hold the task-tree schema (TIM's Response/Task/ToolUse), the tracker that
// follows decoded tokens through it, and the subtask pruning policy (issue 5). Nothing is
// implemented yet; see shared/design/architecture.md for its place in the map.
package tree
