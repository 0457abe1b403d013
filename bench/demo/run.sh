#!/usr/bin/env bash
# The demo model's figures (README, "The demo model"): the shipped model served by `arbor
# serve` (tree mode and the calculator by default) and measured with `arbor eval run`, greedy.
#
#   bench/demo/run.sh [N] [OUT]     N problems per run (500), results in OUT (bench/demo/out)
#
# Two sets of N problems: "heldout" (templates, names and seeds never trained on) and
# "unseen" (the training templates and names, evaluation seeds). On the held-out set: tree mode
# with pruning buffers 2 (the default), 0, 1 and none; the agent loop (OpenAI tool calls, the
# harness runs the calculator); no tool at all. On the unseen set: tree mode, the agent loop,
# no tool. Each run's wall time is printed; `arbor eval compare` tabulates the rest.
set -euo pipefail
N=${1:-500}
OUT=${2:-bench/demo/out}
ADDR=127.0.0.1:18191
cd "$(dirname "$0")/../.."
mkdir -p "$OUT"
go build -o "$OUT/arbor" ./cmd/arbor
A="$OUT/arbor"
"$A" serve --addr $ADDR --memory off --ctx 2048 --max-seqs 16 2>"$OUT/serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -fs "http://$ADDR/health" >/dev/null 2>&1 && break; sleep 0.2; done
common=(--task arith --count "$N" --seed 1000000 --temperature 0 --base-url "http://$ADDR/v1"
	--model arbor-demo --concurrency 16 --quiet)
text='{"reasoning_format":"text"}'
buf() { echo "{\"reasoning_format\":{\"type\":\"tree\",\"pruning_buffer\":$1}}"; }
run() { # name split args...
	local name=$1 split=$2
	shift 2
	rm -rf "${OUT:?}/$name"
	local t0 t1
	t0=$(date +%s.%N)
	"$A" eval run "${common[@]}" --split "$split" --out "$OUT/$name" "$@"
	t1=$(date +%s.%N)
	printf '%-22s %8.1f s\n' "$name" "$(echo "$t1 - $t0" | bc)" | tee -a "$OUT/walltime.txt"
}
: >"$OUT/walltime.txt"
run heldout-tree heldout --tree --max-tokens 700
run heldout-tree-buf0 heldout --tree --max-tokens 700 --extra-body "$(buf 0)"
run heldout-tree-buf1 heldout --tree --max-tokens 700 --extra-body "$(buf 1)"
run heldout-tree-noprune heldout --tree --max-tokens 700 --extra-body "$(buf 1000)"
run heldout-agent heldout --tools calculator --max-turns 8 --max-tokens 200 --extra-body "$text"
run heldout-notool heldout --max-tokens 64 --extra-body "$text"
run unseen-tree unseen --tree --max-tokens 700
run unseen-agent unseen --tools calculator --max-turns 8 --max-tokens 200 --extra-body "$text"
run unseen-notool unseen --max-tokens 64 --extra-body "$text"
"$A" eval compare "$OUT"/heldout-tree "$OUT"/heldout-tree-buf0 "$OUT"/heldout-tree-buf1 "$OUT"/heldout-tree-noprune \
	"$OUT"/heldout-agent "$OUT"/heldout-notool >"$OUT/compare-heldout.md"
"$A" eval compare "$OUT"/unseen-tree "$OUT"/unseen-agent "$OUT"/unseen-notool >"$OUT/compare-unseen.md"
# One line per run: accuracy, valid trees, mean tokens (prompt and completion, all turns),
# mean KV peak, wall time.
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
wall = dict(l.split()[:2] for l in open(os.path.join(out, "walltime.txt")))
print(f"{'run':22} {'accuracy':>8} {'valid':>6} {'prompt':>7} {'compl.':>7} {'KV peak':>7} {'wall s':>7}")
for name in wall:
    s = json.load(open(os.path.join(out, name, "summary.json")))
    kv = s.get("kv_peak_tokens")
    valid = s.get("tree_valid_share")
    print(f"{name:22} {100*s['accuracy']:7.1f}% {'' if valid is None else f'{100*valid:5.1f}%':>6} "
          f"{s['prompt_tokens_mean']:7.1f} {s['tokens']['mean']:7.1f} {kv['mean'] if kv else '-':>7} {float(wall[name]):7.1f}")
PY
echo "tables: $OUT/compare-heldout.md $OUT/compare-unseen.md; wall times: $OUT/walltime.txt"
