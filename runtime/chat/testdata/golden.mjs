// golden.mjs renders the chat-template golden cases with @huggingface/jinja
// (the Jinja port that transformers.js uses for apply_chat_template) and writes
// golden.json next to this file. The Go tests in runtime/chat compare their
// rendering against it byte for byte.
//
// Regenerate (needs the npm registry once):
//
//	mkdir -p /tmp/chatgold && cd /tmp/chatgold && npm init -y &&
//	  npm i -E @huggingface/jinja@0.5.11 &&
//	  node /work/main/runtime/chat/testdata/golden.mjs
//
// The module is resolved from the current directory, so run it from the
// scratch npm directory.
//
// Inputs are written in the OpenAI chat-completions shape that the Go package
// accepts (content as a string or an array of text parts, tool call arguments
// as a JSON string, tool parameters as raw JSON). toTemplateMessages and
// toTemplateTools below turn them into what Hugging Face transformers would be
// handed (content joined into a string, tool call arguments parsed into an
// object), mirroring what Render does on the Go side.

import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const require = createRequire(join(process.cwd(), "noop.js"));
const jinjaMain = require.resolve("@huggingface/jinja");
const { Template, Environment } = await import(pathToFileURL(jinjaMain).href);

// Template.render declares its own strftime_now (the real clock, local time)
// before the caller's variables and refuses redeclaration; let the caller's
// fixed-clock strftime_now replace it so both sides see the same date.
const declare = Environment.prototype.set;
Environment.prototype.set = function (name, value) {
  if (name === "strftime_now" && typeof value === "function" && value.fixedClock) {
    this.variables.delete(name);
  }
  return declare.call(this, name, value);
};
const jinjaVersion = JSON.parse(
  readFileSync(join(dirname(jinjaMain), "..", "package.json"), "utf8"),
).version;

const here = dirname(fileURLToPath(import.meta.url));
const template = (name) => readFileSync(join(here, name), "utf8");

// A fixed clock shared with the Go side (golden.json carries it as "now").
const NOW = "2025-03-07T14:05:09Z";
const MONTHS = ["January", "February", "March", "April", "May", "June", "July",
  "August", "September", "October", "November", "December"];
function strftimeNow(format) {
  const d = new Date(NOW);
  const pad = (n) => String(n).padStart(2, "0");
  return format.replace(/%[YmdbBHMS%]/g, (tok) => {
    switch (tok) {
      case "%Y": return String(d.getUTCFullYear());
      case "%m": return pad(d.getUTCMonth() + 1);
      case "%d": return pad(d.getUTCDate());
      case "%b": return MONTHS[d.getUTCMonth()].slice(0, 3);
      case "%B": return MONTHS[d.getUTCMonth()];
      case "%H": return pad(d.getUTCHours());
      case "%M": return pad(d.getUTCMinutes());
      case "%S": return pad(d.getUTCSeconds());
      case "%%": return "%";
    }
    return tok;
  });
}
strftimeNow.fixedClock = true;

// ---- tools: parameters are kept as raw JSON text so that the Go side sees
// exactly the client's key order and number spelling.
const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather for a city.",
    parameters: `{"type": "object", "properties": {"location": {"type": "string", "description": "City and country, e.g. Paris, France"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"}, "days": {"type": "integer", "minimum": 1, "maximum": 14}}, "required": ["location"]}`,
  },
};
const FLIGHTS = {
  type: "function",
  function: {
    name: "search_flights",
    description: "  Search flights between two airports.\n",
    // "default": 250.0 is a float: Python's json.dumps writes 250.0, while
    // JavaScript has no int/float distinction and writes 250 (golden_test.go
    // adjusts the expected text; see pythonFixups there).
    parameters: `{"type": "object", "properties": {"route": {"type": "object", "properties": {"from": {"type": "string", "description": "IATA code"}, "to": {"type": "string"}}, "required": ["from", "to"]}, "passengers": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}}, "max_price": {"type": "number", "default": 250.0}, "flexible": {"type": "boolean"}}, "required": ["route", "passengers"]}`,
  },
};

const call = (id, name, args) => ({ id, type: "function", function: { name, arguments: args } });

const SYS = { role: "system", content: "You are a helpful assistant." };

const cases = [];
function add(name, tmpl, input, extra = {}) {
  cases.push({ name, template: tmpl, now: NOW, input: { ...input }, ...extra });
}

// ---------------- Qwen3 ----------------
add("qwen3/system_user_generation_prompt", "qwen3.jinja", {
  messages: [SYS, { role: "user", content: "What is the capital of France?" }],
  add_generation_prompt: true,
  eos_token: "<|im_end|>",
});
add("qwen3/user_no_generation_prompt", "qwen3.jinja", {
  messages: [{ role: "user", content: "Hello!" }],
  add_generation_prompt: false,
  eos_token: "<|im_end|>",
});
add("qwen3/multi_turn", "qwen3.jinja", {
  messages: [
    SYS,
    { role: "user", content: "Hi, who are you?" },
    { role: "assistant", content: "I am Qwen, a helpful assistant." },
    { role: "user", content: "Tell me a joke." },
  ],
  add_generation_prompt: true,
  eos_token: "<|im_end|>",
});
add("qwen3/enable_thinking_false", "qwen3.jinja", {
  messages: [{ role: "user", content: "Quick: 2+2?" }],
  add_generation_prompt: true,
  enable_thinking: false,
  eos_token: "<|im_end|>",
});
add("qwen3/enable_thinking_true", "qwen3.jinja", {
  messages: [{ role: "user", content: "Quick: 2+2?" }],
  add_generation_prompt: true,
  enable_thinking: true,
  eos_token: "<|im_end|>",
});
add("qwen3/reasoning_content_history", "qwen3.jinja", {
  messages: [
    { role: "user", content: "What is 17 * 3?" },
    { role: "assistant", content: "17 * 3 = 51.", reasoning_content: "17*3 = 10*3 + 7*3 = 30 + 21 = 51." },
    { role: "user", content: "And divided by 3 again?" },
    { role: "assistant", content: "\nThat gives 17 again.", reasoning_content: "\n51 / 3 = 17\n" },
  ],
  add_generation_prompt: false,
  eos_token: "<|im_end|>",
});
add("qwen3/reasoning_content_then_prompt", "qwen3.jinja", {
  messages: [
    { role: "user", content: "What is 17 * 3?" },
    { role: "assistant", content: "17 * 3 = 51.", reasoning_content: "17*3 = 51." },
    { role: "user", content: "Thanks!" },
  ],
  add_generation_prompt: true,
  eos_token: "<|im_end|>",
});
// str.strip('\n') / lstrip('\n') strip newlines only in Python, while
// @huggingface/jinja ignores the argument and strips all whitespace
// (golden_test.go adjusts the expected text; see pythonFixups there).
add("qwen3/strip_newlines_only", "qwen3.jinja", {
  messages: [
    { role: "user", content: "Indent things." },
    { role: "assistant", content: "\n\n  indented answer", reasoning_content: "\n  indented thought\n\n" },
  ],
  add_generation_prompt: false,
  eos_token: "<|im_end|>",
});
add("qwen3/think_tags_in_content", "qwen3.jinja", {
  messages: [
    { role: "user", content: "Say hi." },
    { role: "assistant", content: "<think>\nThe user wants a greeting.\n</think>\n\nHi there!" },
  ],
  add_generation_prompt: false,
  eos_token: "<|im_end|>",
});
add("qwen3/tools_and_tool_calls", "qwen3.jinja", {
  messages: [
    SYS,
    { role: "user", content: "Weather in Paris, and flights CDG to LHR for Ann (34)?" },
    {
      role: "assistant",
      content: null,
      tool_calls: [
        call("call_1", "get_weather", `{"location": "Paris, France", "unit": "celsius"}`),
        call("call_2", "search_flights", `{"route":{"from":"CDG","to":"LHR"},"passengers":[{"name":"Ann","age":34}],"flexible":true,"max_price":null}`),
      ],
    },
    { role: "tool", tool_call_id: "call_1", name: "get_weather", content: `{"temperature": 18, "condition": "sunny"}` },
    { role: "tool", tool_call_id: "call_2", name: "search_flights", content: `[{"flight": "AF1080", "price": 129.5}]` },
    { role: "tool", tool_call_id: "call_3", content: "third result" },
  ],
  tools: [WEATHER, FLIGHTS],
  add_generation_prompt: true,
  eos_token: "<|im_end|>",
});
add("qwen3/tools_full_round", "qwen3.jinja", {
  messages: [
    { role: "user", content: "Is it warm in Zürich?" },
    {
      role: "assistant",
      content: "Let me check.",
      reasoning_content: "I should call get_weather.",
      tool_calls: [call("c1", "get_weather", `{"location": "Zürich, Schweiz", "note": "line1\\nline2 \\"quoted\\""}`)],
    },
    { role: "tool", tool_call_id: "c1", content: "22°C" },
    { role: "assistant", content: "Yes, it is 22°C in Zürich.", reasoning_content: "22 is warm." },
    { role: "user", content: "<tool_response>\nnot really a tool\n</tool_response>" },
  ],
  tools: [WEATHER],
  add_generation_prompt: true,
  enable_thinking: false,
  eos_token: "<|im_end|>",
});
add("qwen3/tools_no_system", "qwen3.jinja", {
  messages: [{ role: "user", content: "Book me a flight." }],
  tools: [FLIGHTS, WEATHER],
  add_generation_prompt: true,
  eos_token: "<|im_end|>",
});
add("qwen3/unicode_newlines", "qwen3.jinja", {
  messages: [
    { role: "system", content: "Réponds en français.\nSois bref." },
    { role: "user", content: "Grüß dich! 你好 😀\n\n\tIndented line\r\nwindows line" },
  ],
  add_generation_prompt: true,
  eos_token: "<|im_end|>",
});
add("qwen3/content_parts", "qwen3.jinja", {
  messages: [
    { role: "system", content: [{ type: "text", text: "Be terse." }] },
    { role: "user", content: [{ type: "text", text: "First part." }, { type: "text", text: "Second part." }] },
  ],
  add_generation_prompt: true,
  eos_token: "<|im_end|>",
});
add("qwen3/system_mid_conversation", "qwen3.jinja", {
  messages: [
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello!" },
    { role: "system", content: "Switch to pirate speak." },
    { role: "user", content: "Hi again" },
  ],
  add_generation_prompt: true,
  eos_token: "<|im_end|>",
});

// ---------------- Llama 3 ----------------
const L3 = { bos_token: "<|begin_of_text|>", eos_token: "<|end_of_text|>" };
add("llama3/system_user", "llama3.jinja", {
  messages: [SYS, { role: "user", content: "What is the capital of France?" }],
  add_generation_prompt: true,
  ...L3,
});
add("llama3/multi_turn_trimmed", "llama3.jinja", {
  messages: [
    { role: "system", content: "  You are terse.  \n" },
    { role: "user", content: "\n Hello there \n" },
    { role: "assistant", content: "Hi. " },
    { role: "user", content: "Bye" },
  ],
  add_generation_prompt: false,
  ...L3,
});
add("llama3/unicode", "llama3.jinja", {
  messages: [{ role: "user", content: "Ünïcödé — “quotes” 日本語 🦙\nsecond line" }],
  add_generation_prompt: true,
  ...L3,
});

// ---------------- Llama 2 / Mistral style (Arbor's own test template) ----------------
const L2 = { bos_token: "<s>", eos_token: "</s>" };
add("alternating/system_strftime_now", "alternating.jinja", {
  messages: [
    SYS,
    { role: "user", content: " Hi! " },
    { role: "assistant", content: "Hello, how can I help?" },
    { role: "user", content: "Tell me the date." },
  ],
  add_generation_prompt: true,
  ...L2,
});
add("alternating/date_string_extra", "alternating.jinja", {
  messages: [SYS, { role: "user", content: "Hi" }],
  add_generation_prompt: true,
  extra: { date_string: "26 Jul 2024" },
  ...L2,
});
add("alternating/no_system", "alternating.jinja", {
  messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Yo" }],
  add_generation_prompt: false,
  ...L2,
});
add("alternating/bad_order_raises", "alternating.jinja", {
  messages: [{ role: "user", content: "Hi" }, { role: "user", content: "Hi again" }],
  add_generation_prompt: true,
  ...L2,
});
add("alternating/tool_role_raises", "alternating.jinja", {
  messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Yo" }, { role: "tool", content: "x" }],
  add_generation_prompt: true,
  ...L2,
});

// ---------------- environment features ----------------
add("features/everything", "features.jinja", {
  messages: [
    { role: "user", content: "Hi, what's the weather like today?" },
    { role: "assistant", content: "  Sunny and warm!  " },
    { role: "user", content: "Great café, naïve" },
  ],
  tools: [WEATHER, FLIGHTS],
  add_generation_prompt: true,
  enable_thinking: false,
  extra: { extra_flag: "yes" },
});
add("features/thinking_default", "features.jinja", {
  messages: [{ role: "user", content: "abc" }],
  tools: [FLIGHTS, WEATHER],
  add_generation_prompt: false,
});

// ---- conversion into what HF's apply_chat_template receives ----
function contentString(content) {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  return content.map((p) => p.text).join("\n");
}
function toTemplateMessages(messages) {
  return messages.map((m) => {
    const out = { role: m.role, content: contentString(m.content) };
    if (m.name) out.name = m.name;
    if (m.tool_calls) {
      out.tool_calls = m.tool_calls.map((tc) => ({
        id: tc.id,
        type: tc.type,
        function: { name: tc.function.name, arguments: JSON.parse(tc.function.arguments) },
      }));
    }
    if (m.tool_call_id) out.tool_call_id = m.tool_call_id;
    if (m.reasoning_content) out.reasoning_content = m.reasoning_content;
    return out;
  });
}
function toTemplateTools(tools) {
  return tools.map((t) => ({
    type: t.type,
    function: {
      name: t.function.name,
      description: t.function.description,
      parameters: JSON.parse(t.function.parameters),
    },
  }));
}

const compiled = new Map();
for (const c of cases) {
  if (!compiled.has(c.template)) compiled.set(c.template, new Template(template(c.template)));
  const inp = c.input;
  const ctx = {
    messages: toTemplateMessages(inp.messages),
    tools: inp.tools ? toTemplateTools(inp.tools) : null,
    add_generation_prompt: inp.add_generation_prompt,
    strftime_now: strftimeNow,
  };
  if (inp.bos_token) ctx.bos_token = inp.bos_token;
  if (inp.eos_token) ctx.eos_token = inp.eos_token;
  if (inp.enable_thinking !== undefined) ctx.enable_thinking = inp.enable_thinking;
  Object.assign(ctx, inp.extra ?? {});
  try {
    c.expected = compiled.get(c.template).render(ctx);
  } catch (err) {
    c.error = String(err.message ?? err);
  }
}

// Write tool parameters as embedded JSON (not strings) while keeping the
// client's exact text: build the file by hand around a placeholder.
const raws = [];
const serializable = cases.map((c) => ({
  ...c,
  input: {
    ...c.input,
    tools: c.input.tools?.map((t) => ({
      ...t,
      function: { ...t.function, parameters: `@@RAW${raws.push(t.function.parameters) - 1}@@` },
    })),
  },
}));
let text = JSON.stringify({ generator: `@huggingface/jinja@${jinjaVersion}`, cases: serializable }, null, 1);
text = text.replace(/"@@RAW(\d+)@@"/g, (_, i) => raws[Number(i)]);
writeFileSync(join(here, "golden.json"), text + "\n");
console.log(`wrote ${cases.length} cases (${cases.filter((c) => c.error).length} errors) with @huggingface/jinja@${jinjaVersion}`);
