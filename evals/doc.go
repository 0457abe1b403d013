// Package evals is the eval harness for reasoning benchmarks (AIME, GPQA, MATH-500, GSM8K, and a
// generated arithmetic task) against any OpenAI-compatible endpoint: the problems (Problem), the
// per-sample results a run writes (Record), and the task names. The parts live in subpackages:
// evals/data reads the files users have, evals/arith generates problems, evals/grade extracts
// and checks answers, evals/metrics scores runs, evals/report writes reports, and evals/run
// drives a run against an endpoint (cmd/arbor's `arbor eval` is its command line).
package evals
