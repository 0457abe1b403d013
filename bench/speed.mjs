#!/usr/bin/env node
// speed.mjs: prefill and decode speed of Arbor and llama.cpp on the same GGUF,
// same thread count, same prompt ids, printed as a Markdown table.
//
// For each shape and dtype, `arbor model new` writes a random-weight GGUF; a
// prompt of exactly --prompt-tokens ids (English prose, tokenized by `arbor
// tokenize`, cut to length) is continued greedily for --gen-tokens tokens by
// each engine, --runs times, alternating which engine goes first; prefill is
// timed on a separate, longer prompt (--prefill-tokens ids, one token generated);
// the table shows the medians and the ratio arbor/llama.cpp (above 1 means Arbor
// is faster).

import fs from "node:fs";
import path from "node:path";
import {
    arborBench, arborGenerate, arborModelNew, arborTokenize, checkInstalled, cores, cpuBusy, cpuModel, die, findArbor, fmt,
    gitDescribe, humanBytes, llamacpp, log, median, nodeLlamaCppVersion, outDir, parseFlags, tokenizerFamily,
    tokenizers
} from "./lib.mjs";

const usage = `usage: node bench/speed.mjs [--shapes qwen2.5-0.5b] [--dtypes f32,q8_0] [--threads N]
                             [--prompt-tokens 128] [--gen-tokens 128] [--prefill-tokens 512] [--runs 1]
                             [--arbor PATH] [--llama-exact] [--reuse] [--keep] [--json FILE] [--batch 8]
                             [--batch-dtypes q8_0]
  --prompt-tokens N, --gen-tokens N  the decode run: an N-token prompt continued for N tokens
  --prefill-tokens N  the prefill run: an N-token prompt, one token generated (default 512; 0 takes
                  the prefill figures from the decode run instead)
  --threads N     threads for both engines (default: the number of cores, here ${cores()})
  --runs N        runs per engine; the table shows medians (default 1)
  --llama-exact   run llama.cpp with an f32 KV cache and no flash attention instead of its defaults
                  (f16 KV cache, flash attention auto)
  --llama-no-warmup skip llama.cpp's warm-up decode (by default one single-token decode runs before the
                  timed prompt, paging the weights in; arbor generate does no warm-up)
  --reuse         reuse bench/out/models/speed-<shape>-<dtype>.gguf if it exists (implies --keep)
  --keep          keep the generated GGUF files
  --json FILE     also write the raw per-run results as JSON
  --batch N       also run \`arbor bench\` with 1 and N sequences decoding together on each file (--runs
                  times each, alternating; the table takes medians), and
                  print the second table: the N-sequence decode throughput over one sequence's, and
                  the share of the measured memory bandwidth each engine's decode uses (default 8;
                  0 skips it)
  --batch-dtypes L  run the N-sequence figure only for these dtypes (default: all); the one-sequence
                  bench and its bandwidth share still run for every file
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

async function main() {
    const o = parseFlags(process.argv.slice(2), {
        "--shapes": "list", "--dtypes": "list", "--threads": "int", "--prompt-tokens": "int", "--gen-tokens": "int",
        "--runs": "int", "--arbor": "string", "--llama-exact": "bool", "--llama-no-warmup": "bool", "--reuse": "bool", "--keep": "bool",
        "--json": "string", "--batch": "int", "--prefill-tokens": "int", "--batch-dtypes": "list"
    }, usage);
    checkInstalled();
    const shapes = o.shapes ?? ["qwen2.5-0.5b"];
    const dtypes = o.dtypes ?? ["f32", "q8_0"];
    const threads = o.threads || cores();
    const promptTokens = o.promptTokens || 128;
    const genTokens = o.genTokens || 128;
    const prefillTokens = o.prefillTokens ?? 512;
    const batchDtypes = o.batchDtypes ?? null;
    const runs = o.runs || 1;
    const keep = o.keep || o.reuse;
    const batch = o.batch ?? 8;
    const llamaExtra = ["--ignore-eos", ...(o.llamaExact ? ["--exact"] : []), ...(o.llamaNoWarmup ? ["--no-warmup"] : [])];
    const timeoutMs = 60 * 60 * 1000;

    const arbor = await findArbor(o.arbor);
    const cpu = cpuModel();
    log(`arbor: ${arbor}; llama.cpp via node-llama-cpp ${nodeLlamaCppVersion()}; ${threads} threads; ${cpu.name}`);

    const rows = [];
    const notes = [];
    let failures = 0;
    const promptCache = new Map();

    for (const shape of shapes) {
        const family = tokenizerFamily(shape);
        for (const dtype of dtypes) {
            const tag = `${shape} ${dtype}`;
            // Reusable files have a fixed name; fresh ones carry the process id so that
            // concurrent runs in one checkout cannot overwrite a file another one has mapped.
            const file = path.join(outDir, "models", o.reuse ? `speed-${shape}-${dtype}.gguf` : `speed-${shape}-${dtype}-${process.pid}.gguf`);
            const row = { shape, dtype, llama: [], arbor: [], busy: [] };
            rows.push(row);
            try {
                if (o.reuse && fs.existsSync(file)) {
                    log(`[${tag}] reusing ${path.relative(process.cwd(), file)}`);
                } else {
                    log(`[${tag}] arbor model new`);
                    const made = await arborModelNew(arbor, { shape, dtype, tokenizer: tokenizers[family], out: file, seed: 1 });
                    if (!made.ok) throw new Error(made.error);
                }
                row.bytes = fs.statSync(file).size;

                let long = promptCache.get(family);
                if (!long) {
                    let text = prose;
                    long = await arborTokenize(arbor, file, text);
                    while (long.length < Math.max(promptTokens, prefillTokens)) {
                        text += prose;
                        long = await arborTokenize(arbor, file, text);
                    }
                    promptCache.set(family, long);
                }
                const ids = long.slice(0, promptTokens);
                const prefillIds = long.slice(0, prefillTokens);

                // Let the new model file's writeback and the tokenizer runs finish first (up to
                // 20 s), so that the first run's busy sample measures other work, not ours.
                for (let i = 0; i < 20 && ((await cpuBusy(1000)) ?? 0) > 0.05; i++);
                for (let r = 0; r < runs; r++) {
                    const order = r % 2 === 0 ? ["llama", "arbor"] : ["arbor", "llama"];
                    for (const eng of order) {
                        const busy = await cpuBusy(1000);
                        row.busy.push(busy);
                        log(`[${tag}] run ${r + 1}/${runs}: ${eng === "llama" ? "llama.cpp" : "arbor"}` +
                            (busy != null ? ` (other work was using ${Math.round(busy * 100)}% of the CPUs just before)` : ""));
                        const one = async (prompt, maxTokens) => {
                            if (eng === "llama") {
                                const ll = await llamacpp({ model: file, prompts: [prompt], maxTokens, threads, extra: llamaExtra, timeoutMs });
                                if (!ll.ok) throw new Error(`llama.cpp failed on ${file}:\n${ll.error}`);
                                return ll.results[0];
                            }
                            const ar = await arborGenerate(arbor, { model: file, ids: prompt, maxTokens, threads, timeoutMs });
                            if (!ar.ok) throw new Error(ar.error);
                            return ar;
                        };
                        const res = await one(ids, genTokens);
                        if (prefillTokens > 0) {
                            const pf = await one(prefillIds, 1);
                            res.prefill_tokens_per_s = pf.prefill_tokens_per_s;
                            res.prefill_prompt_tokens = prefillIds.length;
                        }
                        (eng === "llama" ? row.llama : row.arbor).push(res);
                    }
                }
                if (batch > 0) {
                    // Backend figures straight from arbor bench: one sequence (with the bandwidth
                    // measurement) and batch sequences decoding together, same prompt length,
                    // --runs times in alternating order; the table takes the medians. (One
                    // sequence is bound by memory and eight by arithmetic, so a single pair's
                    // ratio moves with the machine's bandwidth of the moment.)
                    const ns = batchDtypes && !batchDtypes.includes(dtype) ? [1] : [1, batch];
                    const got = { 1: [], N: [] };
                    for (let r = 0; r < runs; r++) {
                        for (const n of r % 2 === 0 ? ns : [...ns].reverse()) {
                            log(`[${tag}] arbor bench --batch ${n} (${r + 1}/${runs})`);
                            const b = await arborBench(arbor, { model: file, promptTokens, newTokens: genTokens, batch: n, threads, bandwidthMB: n === 1 ? 1024 : 0, timeoutMs });
                            if (!b.ok) throw new Error(b.error);
                            got[n === 1 ? 1 : "N"].push(b);
                        }
                    }
                    const med = (bs) => bs.length ? { ...bs[0], decode_tokens_per_s: median(bs.map((b) => b.decode_tokens_per_s)),
                        bandwidth_gb_per_s: median(bs.map((b) => b.bandwidth_gb_per_s)),
                        decode_bandwidth_share: median(bs.map((b) => b.decode_bandwidth_share)) } : undefined;
                    row.bench1 = med(got[1]);
                    row.benchN = med(got.N);
                    // Each round's N-sequence run beside its own one-sequence run: the multiple
                    // of a pair run minutes apart at most.
                    if (got.N.length) row.pairMultiple = median(got.N.map((b, i) => b.decode_tokens_per_s / got[1][i].decode_tokens_per_s));
                }
                const short = row.arbor.filter((a) => a.ids.length !== genTokens).map((a) => a.ids.length);
                if (short.length) notes.push(`${tag}: arbor generated ${short.join(", ")} tokens instead of ${genTokens} (stopped early?)`);
                const wrongPrompt = row.arbor.filter((a) => a.prompt_tokens != null && a.prompt_tokens !== promptTokens);
                if (wrongPrompt.length) notes.push(`${tag}: arbor reported ${wrongPrompt[0].prompt_tokens} prompt tokens, given ${promptTokens}`);
            } catch (e) {
                failures++;
                row.error = String(e.message ?? e);
                notes.push(`${tag}: ${row.error}`);
            } finally {
                if (!keep) fs.rmSync(file, { force: true });
            }
        }
    }

    const m = (xs, k) => median(xs.map((x) => x[k]));
    const ratio = (a, b) => (a != null && b != null && b > 0 ? a / b : null);
    const lines = [];
    lines.push(`CPU: ${cpu.name}${cpu.simd.length ? ` (${cpu.simd.join(", ")})` : ""}, ${cores()} cores; ${threads} thread${threads === 1 ? "" : "s"} for both engines; ` +
        `decode: ${promptTokens}-token prompt, ${genTokens} generated tokens; ` +
        `prefill: ${prefillTokens > 0 ? `${prefillTokens}-token prompt` : `the decode run's ${promptTokens}-token prompt`}; greedy; random weights; ` +
        `${runs === 1 ? "one run" : `median of ${runs} runs`}; llama.cpp via node-llama-cpp ${nodeLlamaCppVersion()} ` +
        `(${o.llamaExact ? "f32 KV cache, no flash attention" : "its defaults: f16 KV cache, flash attention auto"}); Arbor ${gitDescribe()}`);
    lines.push("");
    lines.push("| shape | dtype | file | prefill tok/s llama.cpp | prefill tok/s Arbor | prefill Arbor/llama.cpp | decode tok/s llama.cpp | decode tok/s Arbor | decode Arbor/llama.cpp |");
    lines.push("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (const r of rows) {
        if (r.error && !r.llama.length && !r.arbor.length) {
            lines.push(`| ${r.shape} | ${r.dtype} | ${r.bytes ? humanBytes(r.bytes) : ""} | failed, see below | | | | | |`);
            continue;
        }
        const lp = m(r.llama, "prefill_tokens_per_s");
        const ap = m(r.arbor, "prefill_tokens_per_s");
        const ld = m(r.llama, "decode_tokens_per_s");
        const ad = m(r.arbor, "decode_tokens_per_s");
        lines.push(`| ${r.shape} | ${r.dtype} | ${humanBytes(r.bytes)} | ${fmt(lp)} | ${fmt(ap)} | ${fmt(ratio(ap, lp), 2)} | ${fmt(ld)} | ${fmt(ad)} | ${fmt(ratio(ad, ld), 2)} |`);
    }
    if (batch > 0) {
        // The physical limit of decode is the bandwidth over the weight bytes read per token;
        // the share says how close each engine's one-sequence decode comes to it.
        lines.push("");
        lines.push(`| shape | dtype | weight bytes/token | bandwidth GB/s | decode bound tok/s | llama.cpp share | Arbor share | Arbor share (bench) | Arbor 1 seq tok/s | Arbor ${batch} seqs tok/s | ${batch} seqs / 1 |`);
        lines.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (const r of rows) {
            const b1 = r.bench1, bn = r.benchN;
            if (!b1) continue;
            const bound = b1.bandwidth_gb_per_s > 0 ? b1.bandwidth_gb_per_s * 1e9 / b1.weight_bytes_per_token : null;
            const ld = m(r.llama, "decode_tokens_per_s");
            const ad = m(r.arbor, "decode_tokens_per_s");
            lines.push(`| ${r.shape} | ${r.dtype} | ${humanBytes(b1.weight_bytes_per_token)} | ${fmt(b1.bandwidth_gb_per_s, 1)} | ${fmt(bound)} | ` +
                `${fmt(ratio(ld, bound), 2)} | ${fmt(ratio(ad, bound), 2)} | ${fmt(b1.decode_bandwidth_share, 2)} | ${fmt(b1.decode_tokens_per_s)} | ${bn ? fmt(bn.decode_tokens_per_s) : "not run"} | ${bn ? fmt(r.pairMultiple, 2) : ""} |`);
        }
        lines.push("");
        lines.push(`Shares: each engine's decode tok/s (first table) x weight bytes read per token / the read bandwidth ` +
            `\`arbor bench\` measured (both threads reading a 1 GiB buffer as Arbor's one-token product reads weights, before, ` +
            `about once a second during and after each one-sequence decode; the median). "Arbor share (bench)" is \`arbor bench\`'s ` +
            `own share: its decode against the bandwidth measured around that same decode, which the machine's moving bandwidth ` +
            `leaves the least noisy of the three. The last three columns are \`arbor bench\`'s own ` +
            `backend figures (no tokenizer or sampler), ${batch} sequences of a ${promptTokens}-token prompt decoding ${genTokens} tokens together` +
            `${runs === 1 ? "" : `; bandwidth, shares and decode figures are medians of ${runs} runs, and the multiple is the median of ` +
            `each round's ${batch}-sequence figure over the same round's one-sequence figure`}.`);
    }
    lines.push("");
    const busiest = Math.max(0, ...rows.flatMap((r) => r.busy).filter((b) => b != null));
    lines.push(`Timings are noisy on a shared machine; rerun with --runs 3 or more for figures to publish. ` +
        `Other work used up to ${Math.round(busiest * 100)}% of the CPUs just before a run.`);
    if (busiest > 0.1)
        lines.push(`WARNING: the machine was busy. llama.cpp's thread pool spin-waits between steps, so when its ` +
            `threads share cores with other work its speed can collapse (10x has been seen here at 2 threads on ` +
            `2 busy cores); these figures are not fit to publish.`);
    if (notes.length) {
        lines.push("");
        lines.push("Notes:");
        for (const n of notes) lines.push(`- ${n.replace(/\n/g, "\n  ")}`);
    }
    process.stdout.write(lines.join("\n") + "\n");

    if (o.json) {
        const slim = (x) => { const { ids, text, ...rest } = x; return { ...rest, generated: ids?.length }; };
        fs.writeFileSync(o.json, JSON.stringify({
            cpu, threads, promptTokens, genTokens, prefillTokens, runs,
            rows: rows.map((r) => ({ ...r, llama: r.llama.map(slim), arbor: r.arbor.map(slim) }))
        }, null, 1));
    }
    if (failures) process.exit(1);
}

main().catch((e) => die(e.stack ?? String(e), 1));
