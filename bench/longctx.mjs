#!/usr/bin/env node
// longctx.mjs: decode speed at long contexts, printed as Markdown tables.
//
//   1. DELTA sparse attention against full attention (`arbor bench --context C --batch B
//      --sparse delta|none`, f16 KV cache): tokens/s of each, their ratio, the share of the
//      context the sparse decode attended to, and the attention time per layer pass.
//   2. f16 against f32 KV cache, full attention, same contexts and sequences.
//   3. one sequence after a real prompt (English prose tokenized by `arbor tokenize`, repeated
//      and cut to --real-tokens ids): llama.cpp (node-llama-cpp defaults: f16 cache, flash
//      attention auto) and `arbor generate` with full and DELTA attention, prefill and decode.
//
// In tables 1 and 2 the context is written straight into the KV cache (random keys and values:
// attention costs the same as over a real prompt's, no prefill); table 3 prefills a real prompt.
// All configurations of one cell (or the three engines of table 3) alternate, --runs times,
// and the tables show medians.

import fs from "node:fs";
import path from "node:path";
import {
    arborJson, arborModelNew, arborTokenize, checkInstalled, cores, cpuBusy, cpuModel, die, findArbor, fmt,
    ggufAttention, gitDescribe, humanBytes, kvCacheBytes, llamacpp, log, maxArgBytes, median, memAvailable,
    nodeLlamaCppVersion, outDir, parseFlags, tokenizerFamily, tokenizers
} from "./lib.mjs";

const usage = `usage: node bench/longctx.mjs [--shape qwen2.5-0.5b] [--dtype q8_0] [--threads N] [--runs 1]
                               [--contexts 1024,4096,16384,32768] [--batches 1,8] [--new-tokens 32]
                               [--real-tokens 16384] [--gen-tokens 32] [--tables 1,2,3]
                               [--sparse-budget P] [--sparse-recent P] [--sparse-config F]
                               [--llama-batch 512] [--arbor PATH] [--reuse] [--keep] [--force] [--json FILE]
  --contexts L    context lengths for tables 1 and 2 (written straight into the KV cache)
  --batches L     sequences decoding together for tables 1 and 2
  --new-tokens N  tokens each sequence decodes in tables 1 and 2 (default 32)
  --real-tokens N table 3: the real prompt's length in ids (default 16384; 0 skips table 3)
  --gen-tokens N  table 3: tokens generated after it (default 32)
  --tables L      which tables to run (default 1,2,3)
  --runs N        runs per configuration, alternating within a cell; medians (default 1)
  --threads N     threads for every engine (default: the number of cores, here ${cores()})
  --sparse-budget P, --sparse-recent P, --sparse-config F
                  passed to every --sparse delta run (default: Arbor's own: 64 best pages + 8 recent
                  of 16 tokens, about 1.1k tokens)
  --llama-batch N llama.cpp's batch (= ubatch) for the prompt in table 3 (default 512, node-llama-cpp's
                  own default; Arbor's engine also prefills in steps of 512 tokens)
  --reuse         reuse bench/out/models/longctx-<shape>-<dtype>.gguf if it exists (implies --keep)
  --keep          keep the generated GGUF file
  --force         run cells whose KV cache looks larger than the memory available (default: skip them)
  --json FILE     also write every run's raw results as JSON
`;

const prose =
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined " +
    "movable metal type, oil-based inks and a wooden press adapted from those used for wine and olive oil. " +
    "Before his work, books in Europe were copied by hand or printed from carved wooden blocks, which made " +
    "them rare and expensive. Within fifty years, presses operated in more than two hundred cities, and " +
    "millions of volumes had been produced. The consequences reached far beyond the workshop: literacy " +
    "spread, scholars could compare identical copies of a text, and ideas travelled faster than any " +
    "authority could control them. Historians still argue about which of these effects mattered most, " +
    "but few doubt that the press changed how knowledge was made, stored and shared. ";

// The three `arbor bench` configurations of a cell; table 1 uses the first two, table 2 the
// first and the third.
const configs = {
    full16: { kv: "f16", sparse: "none", label: "full attention, f16 cache" },
    delta16: { kv: "f16", sparse: "delta", label: "DELTA, f16 cache" },
    full32: { kv: "f32", sparse: "none", label: "full attention, f32 cache" }
};

async function main() {
    const o = parseFlags(process.argv.slice(2), {
        "--shape": "string", "--dtype": "string", "--threads": "int", "--runs": "int", "--contexts": "list",
        "--batches": "list", "--new-tokens": "int", "--real-tokens": "int", "--gen-tokens": "int", "--tables": "list",
        "--sparse-budget": "int", "--sparse-recent": "int", "--sparse-config": "string", "--llama-batch": "int",
        "--arbor": "string", "--reuse": "bool", "--keep": "bool", "--force": "bool", "--json": "string"
    }, usage);
    const ints = (xs, name) => xs.map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 1) die(`${name} wants positive integers, got ${s}`, 2);
        return n;
    });
    const shape = o.shape ?? "qwen2.5-0.5b";
    const dtype = o.dtype ?? "q8_0";
    const threads = o.threads || cores();
    const runs = o.runs || 1;
    const contexts = ints(o.contexts ?? ["1024", "4096", "16384", "32768"], "--contexts");
    const batches = ints(o.batches ?? ["1", "8"], "--batches");
    const newTokens = o.newTokens || 32;
    const realTokens = o.realTokens ?? 16384;
    const genTokens = o.genTokens || 32;
    const tables = new Set(o.tables ?? ["1", "2", "3"]);
    for (const t of tables) if (!["1", "2", "3"].includes(t)) die(`--tables: 1, 2 or 3, got ${t}`, 2);
    if (realTokens === 0) tables.delete("3");
    const llamaBatch = o.llamaBatch || 512;
    const keep = o.keep || o.reuse;
    const timeoutMs = 2 * 60 * 60 * 1000;
    const sparseArgs = [
        ...(o.sparseBudget ? ["--sparse-budget", String(o.sparseBudget)] : []),
        ...(o.sparseRecent ? ["--sparse-recent", String(o.sparseRecent)] : []),
        ...(o.sparseConfig ? ["--sparse-config", path.resolve(o.sparseConfig)] : [])
    ];
    if (tables.has("3")) checkInstalled();

    const arbor = await findArbor(o.arbor);
    const cpu = cpuModel();
    log(`arbor: ${arbor}; llama.cpp via node-llama-cpp ${nodeLlamaCppVersion()}; ${threads} threads; ${cpu.name}`);

    const family = tokenizerFamily(shape);
    const file = path.join(outDir, "models", o.reuse ? `longctx-${shape}-${dtype}.gguf` : `longctx-${shape}-${dtype}-${process.pid}.gguf`);
    const notes = [];
    let failures = 0;
    const results = { cells: [], real: null };
    let startBusy = null;
    const busy = [];
    const startedAt = new Date();

    try {
        if (o.reuse && fs.existsSync(file)) {
            log(`reusing ${path.relative(process.cwd(), file)}`);
        } else {
            log(`arbor model new --shape ${shape} --dtype ${dtype}`);
            const made = await arborModelNew(arbor, { shape, dtype, tokenizer: tokenizers[family], out: file, seed: 1 });
            if (!made.ok) die(made.error, 1);
        }
        const geo = await ggufAttention(file);
        if (!geo) notes.push("could not read the model's attention geometry from its GGUF metadata: no memory check, no cache sizes");

        // Let the new file's writeback finish (up to 20 s), then sample what other work uses.
        for (let i = 0; i < 20 && ((await cpuBusy(1000)) ?? 0) > 0.05; i++);
        startBusy = await cpuBusy(2000);
        log(`other work was using ${startBusy == null ? "?" : Math.round(startBusy * 100)}% of the CPUs before the start`);

        // Tables 1 and 2: arbor bench on a context written straight into the cache.
        const want = [];
        if (tables.has("1") || tables.has("2")) want.push("full16");
        if (tables.has("1")) want.push("delta16");
        if (tables.has("2")) want.push("full32");
        for (const context of want.length ? contexts : []) {
            for (const batch of batches) {
                const cell = { context, batch, runs: Object.fromEntries(want.map((k) => [k, []])), skipped: {} };
                results.cells.push(cell);
                // arbor bench allocates pages for batch + 1 sequences of context + new tokens + 1.
                const avail = memAvailable();
                const active = want.filter((k) => {
                    if (!geo || avail == null || o.force) return true;
                    const need = kvCacheBytes(geo, { dtype: configs[k].kv, tokens: context + newTokens + 1, seqs: batch + 1 });
                    if (need <= 0.85 * avail) return true;
                    cell.skipped[k] = `needs a ${humanBytes(need)} KV cache, ${humanBytes(avail)} available (--force runs it anyway)`;
                    notes.push(`context ${context} x ${batch}: ${configs[k].label} skipped: ${cell.skipped[k]}`);
                    return false;
                });
                for (let r = 0; r < runs; r++) {
                    // Rotate the order each run so that no configuration always goes first.
                    const order = active.map((_, i) => active[(i + r) % active.length]);
                    for (const k of order) {
                        const c = configs[k];
                        const b = await cpuBusy(1000);
                        busy.push(b);
                        log(`[context ${context} x ${batch}] run ${r + 1}/${runs}: ${c.label}` +
                            (b != null ? ` (other work was using ${Math.round(b * 100)}% of the CPUs just before)` : ""));
                        const args = [
                            "bench", "--model", file, "--context", String(context), "--new-tokens", String(newTokens),
                            "--batch", String(batch), "--threads", String(threads), "--bandwidth-mb", "0",
                            "--kv-dtype", c.kv, "--sparse", c.sparse, ...(c.sparse === "delta" ? sparseArgs : [])
                        ];
                        const res = await arborJson(arbor, args, { timeoutMs, check: (j) => typeof j.decode_tokens_per_s === "number", what: `arbor ${args.join(" ")}` });
                        if (!res.ok) {
                            failures++;
                            cell.error = res.error;
                            notes.push(`context ${context} x ${batch}, ${c.label}: ${res.error}`);
                            continue;
                        }
                        delete res.stderr;
                        delete res.ok;
                        if (!res.context_written) notes.push(`context ${context} x ${batch}, ${c.label}: the backend prefilled the context instead of writing it into the cache`);
                        cell.runs[k].push(res);
                    }
                }
            }
        }

        // Table 3: a real prompt through llama.cpp and arbor generate.
        if (tables.has("3")) {
            const real = { prompt_tokens: realTokens, gen_tokens: genTokens, runs: { llama: [], full: [], delta: [] } };
            results.real = real;
            try {
                const one = await arborTokenize(arbor, file, prose);
                let k = Math.ceil(realTokens / Math.max(1, one.length)) + 1;
                let long = await arborTokenize(arbor, file, prose.repeat(k));
                while (long.length < realTokens) {
                    k *= 2;
                    long = await arborTokenize(arbor, file, prose.repeat(k));
                }
                const ids = long.slice(0, realTokens);
                // Long prompts go through a file (--prompt-ids @FILE): one command-line argument
                // is limited to 128 KiB (maxArgBytes), about 27k ids.
                const idsJson = JSON.stringify(ids);
                const idsFile = path.join(outDir, `longctx-ids-${process.pid}.json`);
                fs.mkdirSync(outDir, { recursive: true });
                fs.writeFileSync(idsFile, idsJson);
                const idsArg = Buffer.byteLength(idsJson) > maxArgBytes / 2 ? `@${idsFile}` : idsJson;
                const ctx = Math.ceil((realTokens + genTokens + 1) / 256) * 256;
                const engines = ["llama", "full", "delta"];
                for (let r = 0; r < runs; r++) {
                    const order = engines.map((_, i) => engines[(i + r) % engines.length]);
                    for (const eng of order) {
                        const b = await cpuBusy(1000);
                        busy.push(b);
                        log(`[real prompt ${realTokens}] run ${r + 1}/${runs}: ${eng === "llama" ? "llama.cpp" : `arbor generate, ${eng === "full" ? "full attention" : "DELTA"}`}` +
                            (b != null ? ` (other work was using ${Math.round(b * 100)}% of the CPUs just before)` : ""));
                        if (eng === "llama") {
                            const ll = await llamacpp({
                                model: file, prompts: [ids], maxTokens: genTokens, threads, timeoutMs,
                                extra: ["--ignore-eos", "--context", String(ctx), "--batch", String(llamaBatch)]
                            });
                            if (!ll.ok) throw new Error(`llama.cpp failed:\n${ll.error}`);
                            const { ids: gen, ...rest } = ll.results[0];
                            real.runs.llama.push({ ...rest, generated: gen.length });
                            continue;
                        }
                        const args = [
                            "generate", "--model", file, "--prompt-ids", idsArg, "--max-tokens", String(genTokens),
                            "--temperature", "0", "--threads", String(threads), "--ctx", String(ctx), "--json",
                            "--kv-dtype", "f16", "--sparse", eng === "full" ? "none" : "delta", ...(eng === "delta" ? sparseArgs : [])
                        ];
                        const what = `arbor generate --sparse ${eng === "full" ? "none" : "delta"} (${realTokens}-id prompt)`;
                        const res = await arborJson(arbor, args, { timeoutMs, check: (j) => Array.isArray(j.ids), what });
                        if (!res.ok) throw new Error(res.error);
                        const { ids: gen, text, stderr, ok, ...rest } = res;
                        rest.generated = gen.length;
                        if (rest.context_tokens > 0) rest.attended_share = rest.attended_tokens / rest.context_tokens;
                        real.runs[eng].push(rest);
                        if (gen.length !== genTokens)
                            notes.push(`table 3: arbor generate (${eng}) generated ${gen.length} tokens instead of ${genTokens} (an end-of-generation token: it has no --ignore-eos)`);
                        if (rest.prompt_tokens !== realTokens) notes.push(`table 3: arbor reported ${rest.prompt_tokens} prompt tokens, given ${realTokens}`);
                    }
                }
                fs.rmSync(idsFile, { force: true });
            } catch (e) {
                failures++;
                real.error = String(e.message ?? e);
                notes.push(`table 3: ${real.error}`);
            }
        }

        printTables({ o, cpu, threads, runs, shape, dtype, file, geo, contexts, batches, newTokens, realTokens, genTokens, tables, llamaBatch, sparseArgs, startBusy, busy, startedAt, results, notes });
    } finally {
        if (!keep) fs.rmSync(file, { force: true });
    }

    if (o.json) {
        fs.writeFileSync(o.json, JSON.stringify({
            cpu, threads, cores: cores(), git: gitDescribe(), node_llama_cpp: nodeLlamaCppVersion(), date: startedAt.toISOString(),
            busy_before_start: startBusy, shape, dtype, runs, new_tokens: newTokens, sparse_args: sparseArgs, ...results, notes
        }, null, 1));
    }
    if (failures) process.exit(1);
}

function printTables({ cpu, threads, runs, shape, dtype, geo, contexts, batches, newTokens, realTokens, genTokens, tables, llamaBatch, sparseArgs, startBusy, busy, startedAt, results, notes }) {
    const med = (xs, f) => median(xs.map(f));
    const ratio = (a, b) => (a != null && b != null && b > 0 ? a / b : null);
    const pct = (x) => (x == null ? "n/a" : `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%`);
    const us = (x) => (x == null ? "n/a" : x >= 100 ? x.toFixed(0) : x.toFixed(1));
    const medianOf = runs === 1 ? "one run each" : `medians of ${runs} runs`;
    const sparseDesc = sparseArgs.length ? `DELTA with ${sparseArgs.join(" ")}` : "DELTA with Arbor's default placement and budget (64 best pages + 8 recent, 16 tokens a page)";
    const L = [];
    L.push(`CPU: ${cpu.name}${cpu.simd.length ? ` (${cpu.simd.join(", ")})` : ""}, ${cores()} cores/threads available; ${threads} thread${threads === 1 ? "" : "s"} for every engine. ` +
        `Arbor ${gitDescribe()}; llama.cpp via node-llama-cpp ${nodeLlamaCppVersion()}; ${startedAt.toISOString().replace(/\.\d+Z$/, "Z")}. ` +
        `Model: ${shape} ${dtype}, random weights${geo ? ` (${geo.layers} layers, ${geo.kvHeads} KV heads of ${geo.headDim})` : ""}; ${medianOf}.`);
    L.push(`Machine before the start: other work used ${startBusy == null ? "?" : Math.round(startBusy * 100)}% of the CPUs` +
        `${startBusy != null && startBusy > 0.1 ? " (BUSY: these figures are not fit to publish)" : startBusy != null ? " (idle)" : ""}.`);

    const cellRuns = (cell, k) => cell.runs[k] ?? [];
    if (tables.has("1")) {
        L.push("");
        L.push(`### DELTA sparse against full attention`);
        L.push("");
        L.push(`\`arbor bench --context C --batch B --kv-dtype f16 --sparse none|delta\`: C tokens of context per sequence written straight into the KV cache (random keys and values), ` +
            `then ${newTokens} tokens decoded per sequence; ${sparseDesc}. A sequence whose context fits in the selection's pages attends densely (DELTA/full ~1).`);
        L.push("");
        L.push("| context | seqs | full tok/s | DELTA tok/s | DELTA/full | attended share | attention share of decode, full / DELTA | attention µs/layer pass: full layers (full run) | sparse layers (DELTA run) | select layers (DELTA run) | sparse/full per pass |");
        L.push("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (const cell of results.cells) {
            const f = cellRuns(cell, "full16"), d = cellRuns(cell, "delta16");
            if (!f.length && !d.length) {
                L.push(`| ${cell.context} | ${cell.batch} | ${cell.skipped.full16 ? "skipped" : "failed"} | | | | | | | | |`);
                continue;
            }
            const ft = med(f, (x) => x.decode_tokens_per_s), dt = med(d, (x) => x.decode_tokens_per_s);
            const fu = med(f, (x) => x.attention_us_per_layer?.full), su = med(d, (x) => x.attention_us_per_layer?.sparse);
            const selu = med(d, (x) => x.attention_us_per_layer?.select);
            L.push(`| ${cell.context} | ${cell.batch} | ${fmt(ft)} | ${fmt(dt)} | ${fmt(ratio(dt, ft), 2)} | ${pct(med(d, (x) => x.attended_share))} | ` +
                `${pct(med(f, (x) => x.attention_share))} / ${pct(med(d, (x) => x.attention_share))} | ${us(fu)} | ${us(su)} | ${us(selu)} | ${fmt(ratio(su, fu), 2)} |`);
        }
    }
    if (tables.has("2")) {
        L.push("");
        L.push(`### f16 against f32 KV cache`);
        L.push("");
        L.push(`\`arbor bench --context C --batch B --sparse none --kv-dtype f32|f16\`: full attention, the context written straight into the cache as above, ${newTokens} tokens decoded per sequence. ` +
            `Cache: the context's keys and values for all sequences (layers × 2 × KV heads × head dim × bytes × context × sequences).`);
        L.push("");
        L.push("| context | seqs | cache f32 | cache f16 | f32 tok/s | f16 tok/s | f16/f32 |");
        L.push("|---:|---:|---:|---:|---:|---:|---:|");
        for (const cell of results.cells) {
            const a = cellRuns(cell, "full32"), h = cellRuns(cell, "full16");
            const size = (dt) => (geo ? humanBytes(kvCacheBytes(geo, { dtype: dt, tokens: cell.context, seqs: cell.batch })) : "?");
            const at = med(a, (x) => x.decode_tokens_per_s), ht = med(h, (x) => x.decode_tokens_per_s);
            L.push(`| ${cell.context} | ${cell.batch} | ${size("f32")} | ${size("f16")} | ${a.length ? fmt(at) : cell.skipped.full32 ? "skipped" : "failed"} | ` +
                `${h.length ? fmt(ht) : cell.skipped.full16 ? "skipped" : "failed"} | ${fmt(ratio(ht, at), 2)} |`);
        }
    }
    if (tables.has("3") && results.real) {
        const R = results.real.runs;
        L.push("");
        L.push(`### Against llama.cpp after a real prompt`);
        L.push("");
        const llFa = R.llama[0]?.flash_attention;
        L.push(`One sequence: a ${realTokens}-token prompt (English prose tokenized by \`arbor tokenize\`, repeated and cut to length), prefilled, then ${genTokens} tokens generated greedily. ` +
            `llama.cpp: node-llama-cpp's defaults (f16 KV cache, flash attention auto${llFa != null ? `: ${llFa ? "on" : "off"}` : ""}), batch ${llamaBatch}, --ignore-eos; ` +
            `Arbor: \`arbor generate --prompt-ids … --kv-dtype f16 --sparse none|delta --json\`. ` +
            `llama.cpp's figures and the first-token column are wall clock; Arbor's prefill and decode tok/s are its engine's forward-pass time (see bench/README.md).`);
        L.push("");
        L.push("| engine | prefill tok/s | first token s (wall) | decode tok/s | prefill /llama.cpp | decode /llama.cpp | attended share | generated |");
        L.push("|---|---:|---:|---:|---:|---:|---:|---:|");
        const lp = med(R.llama, (x) => x.prefill_tokens_per_s), ld = med(R.llama, (x) => x.decode_tokens_per_s);
        const row = (name, xs, ttft, isLlama) => {
            if (!xs.length) return `| ${name} | failed | | | | | | |`;
            const p = med(xs, (x) => x.prefill_tokens_per_s), d = med(xs, (x) => x.decode_tokens_per_s);
            const t = med(xs, ttft);
            return `| ${name} | ${fmt(p)} | ${fmt(t, t != null && t < 1 ? 3 : 2)} | ${fmt(d)} | ${isLlama ? "1" : fmt(ratio(p, lp), 2)} | ${isLlama ? "1" : fmt(ratio(d, ld), 2)} | ` +
                `${isLlama ? "100%" : pct(med(xs, (x) => x.attended_share))} | ${xs.map((x) => x.generated).join(", ")} |`;
        };
        L.push(row("llama.cpp", R.llama, (x) => x.prefill_s, true));
        L.push(row("Arbor, full attention", R.full, (x) => x.time_to_first_token_ms / 1000));
        L.push(row("Arbor, DELTA", R.delta, (x) => x.time_to_first_token_ms / 1000));
    }
    L.push("");
    const busiest = Math.max(0, ...busy.filter((b) => b != null));
    L.push(`Other work used up to ${Math.round(busiest * 100)}% of the CPUs just before a run.` +
        (busiest > 0.1 ? " WARNING: the machine was busy; these figures are not fit to publish (llama.cpp's spin-waiting thread pool suffers most)." : ""));
    if (notes.length) {
        L.push("");
        L.push("Notes:");
        for (const n of notes) L.push(`- ${n.replace(/\n/g, "\n  ")}`);
    }
    process.stdout.write(L.join("\n") + "\n");
}

main().catch((e) => die(e.stack ?? String(e), 1));
