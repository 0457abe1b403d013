// End-to-end check of an Arbor server with the official `openai` npm package. It starts
// nothing: point ARBOR_URL at a running `arbor serve` (run.sh does that with the demo model).
// It exits non-zero on the first failure.
//
//   ARBOR_URL=http://127.0.0.1:8080 [ARBOR_API_KEY=...] node e2e.mjs
import OpenAI from "openai";
import assert from "node:assert/strict";

const base = process.env.ARBOR_URL;
if (!base) {
  console.error("e2e: set ARBOR_URL to the server's address, e.g. http://127.0.0.1:8080");
  process.exit(2);
}
const client = new OpenAI({ baseURL: base.replace(/\/$/, "") + "/v1", apiKey: process.env.ARBOR_API_KEY || "none", maxRetries: 0 });

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${err?.stack || err}`);
  }
}

const models = await client.models.list();
const model = models.data[0]?.id;
const messages = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Say hello." },
];

await check("models lists the served model", async () => {
  assert.equal(models.data.length, 1);
  assert.equal(typeof model, "string");
});

let greedy;
await check("chat, not streamed", async () => {
  greedy = await client.chat.completions.create({ model, messages, max_tokens: 10, temperature: 0 });
  assert.match(greedy.id, /^chatcmpl-/);
  assert.equal(greedy.object, "chat.completion");
  const c = greedy.choices[0];
  assert.equal(c.message.role, "assistant");
  assert.ok(["stop", "length"].includes(c.finish_reason), c.finish_reason);
  assert.equal(typeof c.message.content, "string");
  const u = greedy.usage;
  assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0 && u.completion_tokens <= 10);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
});

await check("chat, streamed, with usage in a last chunk", async () => {
  const stream = await client.chat.completions.create({
    model, messages, max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = "";
  let finish = null;
  let last = null;
  let first = true;
  for await (const chunk of stream) {
    if (first) {
      assert.equal(chunk.choices[0].delta.role, "assistant");
      first = false;
    }
    for (const c of chunk.choices) {
      text += c.delta.content ?? "";
      finish = c.finish_reason ?? finish;
    }
    last = chunk;
  }
  assert.deepEqual(last.choices, []);
  // Same token counts (cached_tokens may differ: the second request hits the prefix cache).
  for (const k of ["prompt_tokens", "completion_tokens", "total_tokens"]) assert.equal(last.usage[k], greedy.usage[k], k);
  assert.equal(finish, greedy.choices[0].finish_reason);
  assert.equal(text, greedy.choices[0].message.content); // greedy: the same text either way
});

await check("chat logprobs and top_logprobs", async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 2 });
  const lps = r.choices[0].logprobs.content;
  assert.equal(lps.length, r.usage.completion_tokens);
  for (const lp of lps) {
    assert.equal(typeof lp.token, "string");
    assert.ok(lp.logprob <= 0);
    assert.ok(Array.isArray(lp.bytes));
    assert.equal(lp.top_logprobs.length, 2);
    assert.ok(lp.top_logprobs[0].logprob >= lp.top_logprobs[1].logprob);
  }
});

await check("completions, streamed and not", async () => {
  const r = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 8, temperature: 0, logprobs: 1 });
  assert.equal(r.object, "text_completion");
  const c = r.choices[0];
  assert.equal(c.logprobs.tokens.length, r.usage.completion_tokens);
  assert.equal(c.logprobs.text_offset[0], 0);
  const stream = await client.completions.create({
    model, prompt: "Once upon a time", max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = "";
  let usage = null;
  for await (const chunk of stream) {
    for (const ch of chunk.choices) text += ch.text;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, c.text);
  for (const k of ["prompt_tokens", "completion_tokens", "total_tokens"]) assert.equal(usage[k], r.usage[k], k);
});

await check("n=2 and seeds", async () => {
  const req = { model, messages, max_tokens: 6, temperature: 1, seed: 7, n: 2 };
  const a = await client.chat.completions.create(req);
  const b = await client.chat.completions.create(req);
  assert.equal(a.choices.length, 2);
  assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
});

await check("errors in OpenAI's shape", async () => {
  await assert.rejects(client.chat.completions.create({ model: "no-such-model", messages }), (err) => {
    assert.equal(err.status, 400);
    assert.equal(err.param, "model");
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model, messages, temperature: 9 }), (err) => {
    assert.equal(err.status, 400);
    assert.equal(err.param, "temperature");
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model, messages, max_tokens: 1e9 }), (err) => {
    assert.equal(err.status, 400);
    assert.equal(err.code, "context_length_exceeded");
    return true;
  });
});

await check("task tree: a tool call inside the decode, extra fields through the client", async () => {
  // reasoning_format is Arbor's (and TIMRUN's) field; the client sends it through unchanged. The
  // schema forces one task that calls the server's built-in calculator.
  const str = { type: "string", maxLength: 10 };
  const schema = {
    type: "object",
    properties: {
      reasoning: {
        type: "array", minItems: 1, maxItems: 1,
        items: {
          type: "object",
          properties: {
            thought: str,
            tooluse: {
              type: "object",
              properties: {
                tool_name: { const: "calculator" },
                parameters: { type: "object", properties: { expression: str }, required: ["expression"], additionalProperties: false },
                tool_result: {},
              },
              required: ["tool_name", "parameters", "tool_result"], additionalProperties: false,
            },
            conclusion: str,
          },
          required: ["thought", "tooluse", "conclusion"], additionalProperties: false,
        },
      },
      answer: str,
    },
    required: ["reasoning", "answer"], additionalProperties: false,
  };
  const r = await client.chat.completions.create({
    model, messages, max_tokens: 400, temperature: 0,
    reasoning_format: { type: "tree", pruning_buffer: 0, schema },
  });
  const c = r.choices[0];
  assert.equal(c.finish_reason, "stop", c.message.content);
  const tree = JSON.parse(c.message.content);
  const use = tree.reasoning[0].tooluse;
  assert.equal(use.tool_name, "calculator");
  // The model writes noise, so the calculator usually answers with an error object: either
  // way it is the runtime's JSON, not the model's.
  assert.ok(use.tool_result && typeof use.tool_result === "object", c.message.content);
  assert.ok("result" in use.tool_result || "error" in use.tool_result, c.message.content);
  assert.equal(r.usage.tool_calls, 1);
  assert.ok(r.usage.kv_peak_tokens > 0 && r.usage.kv_peak_tokens <= r.usage.total_tokens, JSON.stringify(r.usage));
});

await check("response_format json_schema: the answer validates", async () => {
  // The demo model writes noise; the grammar makes it a valid document.
  const schema = {
    type: "object",
    properties: {
      name: { type: "string", maxLength: 8 },
      age: { type: "integer", minimum: 0, maximum: 120 },
      tags: { type: "array", items: { enum: ["a", "b", "c"] }, minItems: 1, maxItems: 3 },
      email: { type: ["string", "null"], maxLength: 10 },
    },
    required: ["name", "age", "tags", "email"],
    additionalProperties: false,
  };
  for (const temperature of [0, 0.7, 1.5]) {
    const r = await client.chat.completions.create({
      model, messages, max_tokens: 80, temperature, seed: 1,
      response_format: { type: "json_schema", json_schema: { name: "person", schema, strict: true } },
    });
    const c = r.choices[0];
    if (c.finish_reason === "length") continue;
    assert.equal(c.finish_reason, "stop");
    const v = JSON.parse(c.message.content);
    assert.deepEqual(Object.keys(v), ["name", "age", "tags", "email"]);
    assert.ok(typeof v.name === "string" && [...v.name].length <= 8, c.message.content);
    assert.ok(Number.isInteger(v.age) && v.age >= 0 && v.age <= 120, c.message.content);
    assert.ok(v.tags.length >= 1 && v.tags.length <= 3 && v.tags.every((t) => ["a", "b", "c"].includes(t)), c.message.content);
    assert.ok(v.email === null || (typeof v.email === "string" && [...v.email].length <= 10), c.message.content);
  }
  await assert.rejects(
    client.chat.completions.create({
      model, messages, max_tokens: 5,
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "integer", multipleOf: 3 } } },
    }),
    (err) => err.status === 400 && err.param === "response_format" && /multipleOf/.test(err.message),
  );
});

await check("sessions: memory across requests, the session API, a clear 400", async () => {
  const session_id = `e2e-${Date.now()}`;
  const say = (content, extra = {}) => client.chat.completions.create({
    model, max_tokens: 4, temperature: 0, session_id, messages: [{ role: "user", content }], ...extra,
  });
  await say("The code word for the vault is heliotrope.");
  // Two more turns: the last two go into the prompt whole, so the fact must be retrieved.
  await say("Unrelated: what should I cook tonight?");
  await say("And which film should I watch after dinner?");
  // Streamed, with usage: the memory fields ride on the usage chunk.
  const stream = await say("What was the code word for the vault?", { stream: true, stream_options: { include_usage: true } });
  let usage;
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
  assert.ok(usage && usage.memory_tokens > 0 && usage.retrieved_chunks > 0, JSON.stringify(usage));
  const get = async (path) => {
    const r = await fetch(base.replace(/\/$/, "") + path, { headers: { Authorization: `Bearer ${client.apiKey}` } });
    return [r.status, await r.json()];
  };
  const [st, sess] = await get(`/v1/sessions/${session_id}`);
  assert.equal(st, 200);
  assert.equal(sess.turn_count, 4);
  const [, mem] = await get(`/v1/sessions/${session_id}/memory?query=${encodeURIComponent("vault code word")}&k=2`);
  assert.ok(mem.data.some((h) => h.text.includes("heliotrope")), JSON.stringify(mem));
  await assert.rejects(say("hi", { session_id: "not a valid id" }), (err) => err.status === 400 && err.param === "session_id");
  const del = await fetch(base.replace(/\/$/, "") + `/v1/sessions/${session_id}`, {
    method: "DELETE", headers: { Authorization: `Bearer ${client.apiKey}` },
  });
  assert.equal(del.status, 200);
  assert.equal((await get(`/v1/sessions/${session_id}`))[0], 404);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
