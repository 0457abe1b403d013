// Package evals will hold the eval harness for reasoning benchmarks (datasets, graders, runner,
// reports) against any OpenAI-compatible endpoint. Nothing is implemented yet.
package evals
