#!/usr/bin/env node
// agree.mjs: greedy agreement between Arbor and llama.cpp on the same GGUF.
//
// For each shape and dtype, `arbor model new` writes a random-weight GGUF,
// a few varied prompts are tokenized with `arbor tokenize`, and both engines
// continue each prompt greedily from the same ids. Prints a table of how many
// tokens agree before the first divergence, and `N of M continuations identical`.
// At a divergence it prints both id sequences and where Arbor's token ranks in
// llama.cpp's distribution at that position (a near-tie says rounding, a wide
// gap says a bug).
//
// Exit status: 0 when it ran (whatever the agreement), 1 when an engine failed
// on a file, 2 on bad usage, 3 when the Arbor CLI is missing; --strict also
// exits 1 on any divergence.

import fs from "node:fs";
import path from "node:path";
import {
    arborGenerate, arborModelNew, arborTokenize, checkInstalled, cores, cpuModel, die, findArbor, fmt,
    gitDescribe, humanBytes, llamacpp, log, nodeLlamaCppVersion, outDir, parseFlags, tokenizerFamily, tokenizers
} from "./lib.mjs";

const usage = `usage: node bench/agree.mjs [--full] [--shapes a,b] [--dtypes a,b] [--max-tokens 32] [--threads N]
                             [--seed 1] [--arbor PATH] [--llama-defaults | --kv-f16] [--keep] [--strict] [--json FILE]
  default shapes: tiny-llama,tiny-qwen2,tiny        dtypes: f32,q8_0
  --full          also qwen2.5-0.5b,qwen3-0.6b,llama-3.2-1b, and dtypes f16,bf16
  --arbor PATH    use this arbor binary (also $ARBOR); by default ./cmd/arbor is built into bench/out/arbor-<pid>
  --llama-defaults run llama.cpp with its own defaults (f16 KV cache, flash attention auto) and Arbor
                  with its default f16 KV cache, instead of both with an f32 KV cache (and llama.cpp
                  without flash attention)
  --kv-f16        an f16 KV cache in both engines, llama.cpp without flash attention
  --keep          keep the generated GGUF files (bench/out/models/agree-<shape>-<dtype>-<pid>.gguf)
  --json FILE     also write every result as JSON
`;

const prompts = [
    { name: "greeting", text: "Hello" },
    {
        name: "code",
        text: "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\nprint("
    },
    { name: "multilingual", text: "Le café est très chaud. 今天天气很好，我们去公园散步吧。 Привет, мир! ¿Qué tal?" },
    { name: "numbers", text: "2 + 2 = 4; 3.14159 × 2 = 6.28318. {\"ids\": [1, 22, 333], \"ok\": true}\n\tEND" },
    {
        name: "long",
        text:
            "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined " +
            "movable metal type, oil-based inks and a wooden press adapted from those used for wine and olive oil. " +
            "Before his work, books in Europe were copied by hand or printed from carved wooden blocks, which made " +
            "them rare and expensive. Within fifty years, presses operated in more than two hundred cities, and " +
            "millions of volumes had been produced. The consequences reached far beyond the workshop: literacy " +
            "spread, scholars could compare identical copies of a text, and ideas travelled faster than any " +
            "authority could control them. Historians still argue about which of these effects mattered most, " +
            "but few doubt that the press changed how knowledge was made, stored and shared. In the centuries " +
            "that followed,"
    }
];

const defaultShapes = ["tiny-llama", "tiny-qwen2", "tiny"];
const fullShapes = ["qwen2.5-0.5b", "qwen3-0.6b", "llama-3.2-1b"];

async function main() {
    const o = parseFlags(process.argv.slice(2), {
        "--full": "bool", "--shapes": "list", "--dtypes": "list", "--max-tokens": "int", "--threads": "int",
        "--seed": "int", "--arbor": "string", "--llama-defaults": "bool", "--kv-f16": "bool", "--keep": "bool",
        "--strict": "bool",
        "--json": "string"
    }, usage);
    checkInstalled();
    const shapes = o.shapes ?? (o.full ? [...defaultShapes, ...fullShapes] : defaultShapes);
    const dtypes = o.dtypes ?? (o.full ? ["f32", "f16", "bf16", "q8_0"] : ["f32", "q8_0"]);
    const maxTokens = o.maxTokens ?? 32;
    const threads = o.threads || cores();
    const seed = o.seed ?? 1;
    // The same KV cache type in both engines: llama.cpp's default f16 (Arbor's default too) with
    // --llama-defaults or --kv-f16 (which keeps llama.cpp's attention unfused, so that only the
    // cache's rounding differs from the f32 run), else f32 in both.
    if (o.llamaDefaults && o.kvF16) die("--llama-defaults and --kv-f16 are exclusive", 2);
    const llamaExtra = o.llamaDefaults ? [] : o.kvF16 ? ["--kv-type", "f16", "--flash-attn", "off"] : ["--exact"];
    const arborExtra = ["--kv-dtype", o.llamaDefaults || o.kvF16 ? "f16" : "f32"];
    const timeoutMs = 60 * 60 * 1000;

    const arbor = await findArbor(o.arbor);
    const cpu = cpuModel();
    log(`arbor: ${arbor}; llama.cpp via node-llama-cpp ${nodeLlamaCppVersion()}; ${threads} threads; ${cpu.name}`);

    const rows = [];
    const details = [];
    const llamaWarnings = new Map();
    let engineFailures = 0;
    const tokCache = new Map(); // tokenizer family -> ids per prompt

    for (const shape of shapes) {
        const family = tokenizerFamily(shape);
        for (const dtype of dtypes) {
            const tag = `${shape} ${dtype}`;
            // The process id keeps concurrent runs in one checkout off each other's files.
            const file = path.join(outDir, "models", `agree-${shape}-${dtype}-${process.pid}.gguf`);
            log(`[${tag}] arbor model new`);
            const made = await arborModelNew(arbor, { shape, dtype, tokenizer: tokenizers[family], out: file, seed });
            if (!made.ok) {
                engineFailures++;
                rows.push({ shape, dtype, prompt: "*", result: "model new failed", error: made.error });
                details.push(`${tag}: ${made.error}`);
                continue;
            }
            try {
                let ids = tokCache.get(family);
                if (!ids) {
                    ids = [];
                    for (const p of prompts) ids.push(await arborTokenize(arbor, file, p.text));
                    tokCache.set(family, ids);
                }

                log(`[${tag}] llama.cpp (${humanBytes(made.bytes)})`);
                const ll = await llamacpp({ model: file, prompts: ids, maxTokens, threads, extra: [...llamaExtra, "--top-logits", "2"], timeoutMs });
                for (const w of ll.warnings ?? []) llamaWarnings.set(w, [...(llamaWarnings.get(w) ?? []), tag]);
                if (!ll.ok) {
                    engineFailures++;
                    rows.push({ shape, dtype, prompt: "*", result: "llama.cpp failed", error: ll.error });
                    details.push(`${tag}: llama.cpp refused or failed on ${file}:\n${indent(ll.error)}`);
                    continue;
                }

                const divergences = [];
                for (let i = 0; i < prompts.length; i++) {
                    log(`[${tag}] arbor generate: ${prompts[i].name}`);
                    const ar = await arborGenerate(arbor, { model: file, ids: ids[i], maxTokens, threads, timeoutMs, extra: arborExtra });
                    const lr = ll.results[i];
                    const row = { shape, dtype, prompt: prompts[i].name, prompt_tokens: ids[i].length };
                    if (!ar.ok) {
                        engineFailures++;
                        Object.assign(row, { result: "arbor failed", error: ar.error });
                        details.push(`${tag} ${prompts[i].name}: ${ar.error}`);
                        rows.push(row);
                        continue;
                    }
                    const cmp = compare(ar.ids, lr.ids, lr.stopped === "eog");
                    Object.assign(row, cmp, { arbor_ids: ar.ids, llama_ids: lr.ids, distinct: new Set(lr.ids).size });
                    const t2 = lr.top_logits ?? [];
                    if (t2.length >= 2) row.first_margin = t2[0].logprob - t2[1].logprob;
                    if (ar.prompt_tokens != null && ar.prompt_tokens !== ids[i].length)
                        row.note = `arbor saw ${ar.prompt_tokens} prompt tokens, given ${ids[i].length}`;
                    rows.push(row);
                    log(`[${tag}] ${prompts[i].name}: ${cmp.agree}/${cmp.total} ${cmp.identical ? "identical" : "DIVERGES"}`);
                    if (!cmp.identical) divergences.push({ row, i });
                }

                // Where does Arbor's token rank in llama.cpp's distribution at the divergence?
                const probe = divergences.filter(({ row }) => row.agree < row.arbor_ids.length && row.agree < row.llama_ids.length);
                if (probe.length) {
                    const pp = probe.map(({ row, i }) => [...ids[i], ...row.llama_ids.slice(0, row.agree)]);
                    const pr = await llamacpp({ model: file, prompts: pp, maxTokens: 1, threads, extra: [...llamaExtra, "--top-logits", "20"], timeoutMs });
                    if (pr.ok) {
                        probe.forEach(({ row }, k) => {
                            const top = pr.results[k].top_logits ?? [];
                            const a = row.arbor_ids[row.agree];
                            const rank = top.findIndex((t) => t.id === a);
                            row.llama_top = top.slice(0, 5);
                            row.arbor_rank = rank >= 0 ? rank + 1 : null;
                            row.gap = rank >= 0 ? top[0].logprob - top[rank].logprob : (top.length ? top[0].logprob - top[top.length - 1].logprob : null);
                        });
                    }
                }
                for (const { row } of divergences) details.push(describe(row));
            } catch (e) {
                engineFailures++;
                rows.push({ shape, dtype, prompt: "*", result: "error", error: String(e.message ?? e) });
                details.push(`${tag}: ${e.message ?? e}`);
            } finally {
                if (!o.keep) fs.rmSync(file, { force: true });
            }
        }
    }

    // Report.
    const compared = rows.filter((r) => r.identical !== undefined);
    const same = compared.filter((r) => r.identical).length;
    const lines = [];
    lines.push(`Greedy agreement, Arbor (${gitDescribe()}) vs llama.cpp ${""}(node-llama-cpp ${nodeLlamaCppVersion()}, ` +
        `${o.llamaDefaults ? "f16 KV cache, flash attention auto" : o.kvF16 ? "f16 KV cache, no flash attention" :
            "f32 KV cache, no flash attention"}; Arbor: ${arborExtra[1]} KV cache), ` +
        `${maxTokens} new tokens, random weights (seed ${seed}), ${threads} threads, ${cpu.name}`);
    lines.push("");
    lines.push("| shape | dtype | prompt | prompt tokens | identical before first divergence | distinct ids | first-token margin (nats) | result |");
    lines.push("|---|---|---|---:|---:|---:|---:|---|");
    for (const r of rows) {
        if (r.identical === undefined) {
            lines.push(`| ${r.shape} | ${r.dtype} | ${r.prompt} | | | | | ${r.result} |`);
            continue;
        }
        let res = r.identical ? "identical" : "diverges";
        if (!r.identical && r.arbor_rank != null) res += ` (arbor's pick is llama.cpp's #${r.arbor_rank}, ${fmt(r.gap, 4)} nats below)`;
        else if (!r.identical && r.gap != null) res += ` (arbor's pick not in llama.cpp's top 20, over ${fmt(r.gap, 2)} nats below)`;
        if (r.note) res += `; ${r.note}`;
        lines.push(`| ${r.shape} | ${r.dtype} | ${r.prompt} | ${r.prompt_tokens} | ${r.agree}/${r.total} | ${r.distinct} | ${fmt(r.first_margin, 3)} | ${res} |`);
    }
    lines.push("");
    if (details.length) {
        lines.push("Details:");
        for (const d of details) lines.push(d);
        lines.push("");
    }
    if (llamaWarnings.size) {
        lines.push("llama.cpp warnings while loading:");
        for (const [w, tags] of llamaWarnings) lines.push(`  ${w}  (${[...new Set(tags)].join(", ")})`);
        lines.push("");
    }
    lines.push(`${same} of ${compared.length} continuations identical` +
        (rows.length > compared.length ? ` (${rows.length - compared.length} rows could not be compared)` : ""));
    process.stdout.write(lines.join("\n") + "\n");

    if (o.json) fs.writeFileSync(o.json, JSON.stringify({ threads, cpu, maxTokens, seed, rows }, null, 1));
    if (engineFailures) process.exit(1);
    if (o.strict && same !== compared.length) process.exit(1);
}

// Compare two greedy continuations. A trailing end-of-generation token that one
// engine emits and the other stops before is not counted as a divergence.
function compare(a, b, llamaStoppedAtEog) {
    let agree = 0;
    while (agree < a.length && agree < b.length && a[agree] === b[agree]) agree++;
    const total = Math.max(a.length, b.length);
    let identical = agree === a.length && agree === b.length;
    let eogNote;
    if (!identical && llamaStoppedAtEog && agree === b.length - 1 && agree === a.length) {
        identical = true; // llama.cpp included the EOG token, arbor stopped without printing it
        eogNote = "arbor stopped where llama.cpp emitted end-of-generation";
    }
    if (!identical && llamaStoppedAtEog && agree === b.length && a.length > b.length) {
        identical = true; // arbor went on past the end-of-generation token where llama.cpp stopped
        eogNote = "arbor continued past end-of-generation; compared up to it";
    }
    const r = { agree, total: identical ? agree : total, identical };
    if (eogNote) r.note = eogNote;
    return r;
}

function describe(r) {
    const at = r.agree;
    const show = (ids) => `[${ids.slice(0, at).join(",")}${at < ids.length ? ` | ${ids.slice(at).join(",")}` : ""}]`;
    let s = `${r.shape} ${r.dtype} ${r.prompt}: first divergence at generated token ${at}` +
        ` (arbor ${r.arbor_ids.length} tokens, llama.cpp ${r.llama_ids.length}); "|" marks it\n` +
        `  arbor:     ${show(r.arbor_ids)}\n  llama.cpp: ${show(r.llama_ids)}`;
    if (r.llama_top) {
        s += `\n  llama.cpp's top-5 log-probs there: ${r.llama_top.map((t) => `${t.id}:${t.logprob.toFixed(4)}`).join(" ")}`;
        s += r.arbor_rank != null
            ? `\n  arbor's token ${r.arbor_ids[at]} is llama.cpp's #${r.arbor_rank}, ${fmt(r.gap, 4)} nats below the top`
            : `\n  arbor's token ${r.arbor_ids[at]} is not in llama.cpp's top 20`;
    }
    return s;
}

function indent(s) {
    return s.split("\n").map((l) => "    " + l).join("\n");
}

main().catch((e) => die(e.stack ?? String(e), 1));
