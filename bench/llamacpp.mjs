#!/usr/bin/env node
// llamacpp.mjs: run llama.cpp (through node-llama-cpp, CPU only, prebuilt
// binaries only) greedily on a GGUF file from given prompt token ids, and print
// one JSON object with the generated ids and prefill/decode speeds.
//
//   node bench/llamacpp.mjs --model F.gguf --prompt-ids '[1,2,3]' \
//        [--max-tokens 32] [--threads N] [--context N] [--batch N] \
//        [--top-logits K] [--kv-type f16|f32|q8_0] [--flash-attn auto|on|off] \
//        [--exact] [--ignore-eos] [--no-warmup] [--timings]
//
// --prompt-ids may also be an array of arrays: the model is loaded once and
// each prompt is run in turn from an empty cache, one JSON line per prompt.
// Prompt ids are used as given: nothing is tokenized and no BOS is added.
// Sampling is plain argmax: temperature 0 selects llama.cpp's greedy sampler,
// and no repetition penalty, DRY, XTC, token bias, grammar or token predictor is
// configured, so nothing in the chain can change the argmax.
//
// Timing:
//   prefill = the prompt evaluated in one call that also samples the first new
//             token (one decode of all prompt tokens, logits for the last one).
//             prefill_tokens_per_s = prompt_tokens / that time.
//   decode  = the remaining max_tokens - 1 tokens, each one a single-token
//             decode + greedy sample. decode_tokens_per_s = (generated - 1) /
//             that time. The last generated token is not fed back.
// A warm-up (one single-token decode, then the cache is cleared) runs first so
// the weights are paged in and the compute graphs are allocated.

import os from "node:os";
import process from "node:process";
import { performance } from "node:perf_hooks";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

function usage(msg) {
    if (msg) process.stderr.write(`llamacpp.mjs: ${msg}\n`);
    process.stderr.write(
        "usage: node bench/llamacpp.mjs --model F.gguf --prompt-ids '[...]' [--max-tokens N] [--threads N]\n" +
        "       [--context N] [--batch N] [--top-logits K] [--kv-type f16|f32|q8_0] [--flash-attn auto|on|off]\n" +
        "       [--exact] [--ignore-eos] [--no-warmup] [--timings]\n" +
        "  --prompt-ids also accepts @FILE (JSON in a file) or - (stdin); an array of arrays runs each prompt\n" +
        "               in turn on one loaded model and prints one JSON line per prompt\n" +
        "  --exact       = --kv-type f32 --flash-attn off (closest to plain f32 math; for agreement checks)\n" +
        "  --ignore-eos  keep generating past end-of-generation tokens (default: stop after emitting one)\n" +
        "  --timings     also report llama.cpp's own perf counters (llama_perf_context) as llama_perf\n");
    process.exit(2);
}

function parseArgs(argv) {
    const o = {
        model: null, promptIds: null, maxTokens: 32, threads: 0, context: 0, batch: 0, topLogits: 0,
        kvType: null, flashAttn: "auto", ignoreEos: false, warmup: true, timings: false
    };
    const flags = new Set(["--exact", "--ignore-eos", "--no-warmup", "--timings", "--help", "-h"]);
    for (let i = 2; i < argv.length; i++) {
        let a = argv[i];
        let v;
        const eq = a.indexOf("=");
        if (a.startsWith("--") && eq > 0) {
            v = a.slice(eq + 1);
            a = a.slice(0, eq);
        } else if (!flags.has(a)) {
            if (i + 1 >= argv.length) usage(`${a} needs a value`);
            v = argv[++i];
        }
        const int = (name) => {
            const n = Number(v);
            if (!Number.isInteger(n) || n < 0) usage(`${name} wants a non-negative integer, got ${v}`);
            return n;
        };
        switch (a) {
            case "--model": o.model = v; break;
            case "--prompt-ids": o.promptIds = v; break;
            case "--max-tokens": o.maxTokens = int(a); break;
            case "--threads": o.threads = int(a); break;
            case "--context": o.context = int(a); break;
            case "--batch": o.batch = int(a); break;
            case "--top-logits": o.topLogits = int(a); break;
            case "--kv-type": o.kvType = v.toLowerCase(); break;
            case "--flash-attn": o.flashAttn = v; break;
            case "--exact": o.kvType = "f32"; o.flashAttn = "off"; break;
            case "--ignore-eos": o.ignoreEos = true; break;
            case "--no-warmup": o.warmup = false; break;
            case "--timings": o.timings = true; break;
            case "--help": case "-h": usage(); break;
            default: usage(`unknown argument ${a}`);
        }
    }
    if (!o.model) usage("--model is required");
    if (o.promptIds == null) usage("--prompt-ids is required");
    if (!["auto", "on", "off"].includes(o.flashAttn)) usage("--flash-attn is auto, on or off");
    return o;
}

async function readPromptIds(spec) {
    let text = spec;
    if (spec === "-") {
        const chunks = [];
        for await (const c of process.stdin) chunks.push(c);
        text = Buffer.concat(chunks).toString("utf8");
    } else if (spec.startsWith("@")) {
        const fs = await import("node:fs");
        text = fs.readFileSync(spec.slice(1), "utf8");
    }
    let ids;
    try {
        ids = JSON.parse(text);
    } catch (e) {
        usage(`--prompt-ids is not JSON: ${e.message}`);
    }
    const ok = (a) => Array.isArray(a) && a.length > 0 && a.every((x) => Number.isInteger(x) && x >= 0);
    if (ok(ids)) return [ids];
    if (Array.isArray(ids) && ids.length > 0 && ids.every(ok)) return ids;
    usage("--prompt-ids must be a non-empty JSON array of non-negative integers, or an array of such arrays");
}

const kvTypes = { f32: "F32", f16: "F16", bf16: "BF16", q8_0: "Q8_0", q4_0: "Q4_0" };

async function main() {
    const o = parseArgs(process.argv);
    const prompts = await readPromptIds(o.promptIds);
    const threads = o.threads > 0 ? o.threads : (os.availableParallelism?.() ?? os.cpus().length);

    // llama.cpp's log lines go to stderr (only warnings and errors unless
    // --timings asked for the perf report, which is logged at info level).
    const perfLines = [];
    const llama = await getLlama({
        gpu: false,
        build: "never",
        usePrebuiltBinaries: true,
        skipDownload: true,
        progressLogs: false,
        maxThreads: 0, // no cap: --threads is used as given
        logLevel: o.timings ? LlamaLogLevel.info : LlamaLogLevel.warn,
        logger(level, message) {
            if (o.timings && /llama_perf_context_print/.test(message)) {
                perfLines.push(message.trim());
                return;
            }
            if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal || level === LlamaLogLevel.warn)
                process.stderr.write(`[llama.cpp ${level}] ${message}${message.endsWith("\n") ? "" : "\n"}`);
        }
    });

    const model = await llama.loadModel({ modelPath: o.model, gpuLayers: 0 });
    // llama.cpp answers an out-of-range id with a bare "Eval has failed"; check first.
    const embd = model.fileInfo.tensorInfo?.find((t) => t.name === "token_embd.weight");
    const nVocab = embd ? Number(embd.dimensions[embd.dimensions.length - 1]) : null;
    if (nVocab != null) {
        const bad = prompts.flat().find((t) => t >= nVocab);
        if (bad != null) usage(`prompt id ${bad} is outside the model's vocabulary (${nVocab} tokens)`);
    }

    const longest = Math.max(...prompts.map((p) => p.length));
    const needed = longest + o.maxTokens + 1;
    const contextSize = o.context > 0 ? o.context : Math.max(256, Math.ceil(needed / 256) * 256);
    if (needed > contextSize) usage(`prompt (${longest}) + max tokens (${o.maxTokens}) does not fit --context ${contextSize}`);
    const batchSize = o.batch > 0 ? o.batch : Math.min(contextSize, Math.max(512, longest));

    const ctxOptions = {
        contextSize,
        batchSize,
        threads: { ideal: threads, min: threads },
        // Hand each decode to llama.cpp at once instead of on the next event-loop turn.
        batching: { dispatchSchedule: (dispatch) => dispatch() },
        performanceTracking: o.timings,
        flashAttention: o.flashAttn === "auto" ? "auto" : o.flashAttn === "on"
    };
    if (o.kvType) {
        const t = kvTypes[o.kvType];
        if (!t) usage(`--kv-type: one of ${Object.keys(kvTypes).join(", ")}`);
        ctxOptions.experimentalKvCacheKeyType = t;
        ctxOptions.experimentalKvCacheValueType = t;
    }
    const context = await model.createContext(ctxOptions);
    const seq = context.getSequence();

    const greedy = { temperature: 0 };
    const sampleLast = (ids, extra = {}) =>
        ids.map((t, i) => (i === ids.length - 1 ? [t, { generateNext: { token: true, options: greedy, ...extra } }] : t));
    const isEog = (t) => model.isEogToken(t);

    if (o.warmup) {
        await seq.controlledEvaluate(sampleLast([prompts[0][0]]));
        await seq.clearHistory();
    }

    const common = {
        engine: "llama.cpp",
        llama_cpp_release: llama.llamaCppRelease?.release ?? null,
        threads: context.currentThreads ?? threads,
        context_size: context.contextSize,
        batch_size: context.batchSize,
        flash_attention: context.flashAttention,
        kv_type: o.kvType ?? "f16 (llama.cpp default)"
    };

    for (const promptIds of prompts) {
        await seq.clearHistory();

        // Prefill: the whole prompt, greedy-sampling the first new token.
        const t0 = performance.now();
        const pre = await seq.controlledEvaluate(sampleLast(promptIds));
        const t1 = performance.now();
        const first = pre[promptIds.length - 1]?.next?.token;
        if (first == null) throw new Error("llama.cpp produced no token after the prompt");

        const ids = [first];
        let stopped = "length";
        if (!o.ignoreEos && isEog(first)) stopped = "eog";

        // Decode: feed each new token back, one at a time.
        let t2 = performance.now();
        let t3 = t2;
        if (stopped === "length" && o.maxTokens > 1) {
            t2 = performance.now();
            const gen = seq.evaluate([first], { ...greedy, yieldEogToken: true });
            for await (const tok of gen) {
                ids.push(tok);
                if (!o.ignoreEos && isEog(tok)) { stopped = "eog"; break; }
                if (ids.length >= o.maxTokens) break;
            }
            t3 = performance.now();
            await gen.return?.();
        }

        const prefillS = (t1 - t0) / 1000;
        const decodeS = (t3 - t2) / 1000;
        const result = {
            ...common,
            ids,
            prompt_tokens: promptIds.length,
            generated_tokens: ids.length,
            stopped,
            prefill_s: round(prefillS, 6),
            decode_s: round(decodeS, 6),
            prefill_tokens_per_s: prefillS > 0 ? round(promptIds.length / prefillS, 3) : null,
            decode_tokens_per_s: ids.length > 1 && decodeS > 0 ? round((ids.length - 1) / decodeS, 3) : null
        };

        if (o.timings && prompts.length === 1) {
            await context.printTimings();
            result.llama_perf = perfLines;
        }

        if (o.topLogits > 0) {
            // Distribution at the first generated position, in a separate pass
            // so the prefill timing above is not affected. llama.cpp hands back
            // softmax probabilities over the full vocabulary (the greedy chain
            // does not truncate them); their logs are the logits minus the
            // log-sum-exp, directly comparable with another engine's.
            await seq.clearHistory();
            const res = await seq.controlledEvaluate(sampleLast(promptIds, { probabilities: true }));
            const probs = res[promptIds.length - 1]?.next?.probabilities;
            const top = [];
            if (probs) {
                for (const [id, p] of probs) {
                    top.push({ id, prob: p, logprob: p > 0 ? Math.log(p) : null });
                    if (top.length >= o.topLogits) break;
                }
            }
            result.top_logits = top;
            result.top_logits_note = "log-softmax of the logits at the first generated position, highest first";
        }

        process.stdout.write(JSON.stringify(result) + "\n");
    }

    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

function round(x, digits) {
    const f = 10 ** digits;
    return Math.round(x * f) / f;
}

main().catch((err) => {
    process.stderr.write(`llamacpp.mjs: error: ${err?.stack ?? err}\n`);
    process.exit(1);
});
