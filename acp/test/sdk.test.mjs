// tinychat acp driven by the official TypeScript SDK's client connection,
// through each method it offers, over the echo provider and the fake
// OpenAI-compatible one.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  acp,
  daemon,
  envFor,
  exported,
  fakeOpenAI,
  folder,
  initialize,
  startAgent,
  textOf,
  tinychat,
} from "./harness.mjs";

const home = folder("home");
const echoEnv = envFor(home);
const fakeEnv = envFor(home, fakeOpenAI); // the same store
const started = [];
function start(env, opts) {
  const a = startAgent(env, opts);
  started.push(a);
  return a;
}
after(async () => {
  for (const a of started) a.kill();
});

/** Checks that every line the agent wrote on stdout is a JSON-RPC message. */
function assertOnlyACP(a) {
  for (const line of a.stdout().split("\n").filter((l) => l !== "")) {
    let msg;
    assert.doesNotThrow(() => (msg = JSON.parse(line)), `stdout holds a line that is not JSON: ${line}`);
    assert.equal(msg.jsonrpc, "2.0", `stdout holds a message that is not JSON-RPC 2.0: ${line}`);
  }
}

function option(configOptions, id) {
  const o = configOptions.find((c) => c.id === id);
  assert.ok(o, `no config option ${id} in ${JSON.stringify(configOptions)}`);
  return o;
}

test("initialize declares what DESIGN says", async () => {
  const a = start(echoEnv);
  const init = await initialize(a.agent);
  assert.equal(init.protocolVersion, 1);
  assert.deepEqual(init.authMethods, []);
  assert.equal(init.agentInfo.name, "tinychat");
  const caps = init.agentCapabilities;
  assert.equal(caps.loadSession, true);
  assert.equal(caps.promptCapabilities.embeddedContext, true);
  assert.notEqual(caps.promptCapabilities.image, true, "no provider of tinychat takes images");
  assert.equal(caps.mcpCapabilities.http, true);
  assert.ok(caps.sessionCapabilities.list, "session/list is offered");
  assert.deepEqual(await a.close(), { code: 0, signal: null }, `tinychat acp did not exit cleanly: ${a.stderr()}`);
  assertOnlyACP(a);
});

test("a prompt streams the echo reply in chunks, then usage and the title", async () => {
  const ws = folder("ws-echo");
  const a = start(echoEnv);
  await initialize(a.agent);
  const s = await a.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
  assert.match(s.sessionId, /^[0-9a-f]{16}$/);
  assert.equal(option(s.configOptions, "provider").currentValue, "echo");
  const model = option(s.configOptions, "model");
  assert.equal(model.category, "model");
  assert.equal(model.currentValue, "echo");

  const res = await a.agent.request(acp.methods.agent.session.prompt, {
    sessionId: s.sessionId,
    prompt: [{ type: "text", text: "hello from the typescript sdk" }],
  });
  assert.equal(res.stopReason, "end_turn");
  const ups = a.updates(s.sessionId);
  const chunks = ups.filter((u) => u.sessionUpdate === "agent_message_chunk");
  assert.ok(chunks.length > 1, `the reply came in ${chunks.length} chunk(s), not streamed`);
  assert.equal(textOf(ups, "agent_message_chunk"), "hello from the typescript sdk");
  const usage = ups.find((u) => u.sessionUpdate === "usage_update");
  assert.ok(usage && usage.used > 0, `no usage_update with tokens: ${JSON.stringify(ups)}`);
  const info = ups.find((u) => u.sessionUpdate === "session_info_update");
  assert.equal(info?.title, "hello from the typescript sdk");
  // The order: chunks first, then usage and title.
  assert.equal(ups.at(-2).sessionUpdate, "usage_update");

  // The same session is tinychat's: the command line sees it.
  const listed = tinychat(["sessions", "--workspace", ws], echoEnv);
  assert.match(listed, new RegExp(s.sessionId));
  assert.match(listed, /hello from the typescript sdk/);
  await a.close();
  assertOnlyACP(a);
});

test("set_config_option picks the provider and the model; the fake OpenAI provider streams reasoning and text", async () => {
  const ws = folder("ws-fake");
  const a = start(fakeEnv);
  await initialize(a.agent);
  const s = await a.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
  // With a key for openai, it is the default provider.
  assert.equal(option(s.configOptions, "provider").currentValue, "openai");
  const providers = option(s.configOptions, "provider").options.map((o) => o.value);
  assert.ok(providers.includes("echo") && providers.includes("openai"), `providers offered: ${providers}`);
  assert.ok(!providers.includes("anthropic"), "a provider without a key is not offered");

  // The models are the provider's own list (GET /v1/models).
  const models = option(s.configOptions, "model").options.map((o) => o.value);
  assert.ok(models.includes("test-model") && models.includes("test-model-large"), `models offered: ${models}`);
  const set = await a.agent.request(acp.methods.agent.session.setConfigOption, {
    sessionId: s.sessionId,
    configId: "model",
    value: "test-model-large",
  });
  assert.equal(option(set.configOptions, "model").currentValue, "test-model-large");
  assert.equal(option(set.configOptions, "provider").currentValue, "openai");

  const res = await a.agent.request(acp.methods.agent.session.prompt, {
    sessionId: s.sessionId,
    prompt: [{ type: "text", text: "think 3" }],
  });
  assert.equal(res.stopReason, "end_turn");
  const ups = a.updates(s.sessionId);
  assert.equal(textOf(ups, "agent_thought_chunk"), "t0 t1 t2 ");
  assert.equal(textOf(ups, "agent_message_chunk"), "w0 w1 w2 ");
  const reply = exported(s.sessionId, fakeEnv).messages[1];
  assert.equal(reply.provider, "openai");
  assert.equal(reply.model, "test-model-large", "the model chosen through set_config_option answered");
  assert.equal(reply.reasoning, "t0 t1 t2 ");

  // Choosing the provider again gives its default model, and the next
  // turn uses the model the option shows, not the session's last one.
  const again = await a.agent.request(acp.methods.agent.session.setConfigOption, {
    sessionId: s.sessionId,
    configId: "provider",
    value: "openai",
  });
  const shownModel = option(again.configOptions, "model").currentValue;
  assert.notEqual(shownModel, "test-model-large");
  await a.agent.request(acp.methods.agent.session.prompt, { sessionId: s.sessionId, prompt: [{ type: "text", text: "again" }] });
  assert.equal(exported(s.sessionId, fakeEnv).messages[3].model, shownModel);

  // Back to echo: the next turn is echo's.
  const back = await a.agent.request(acp.methods.agent.session.setConfigOption, {
    sessionId: s.sessionId,
    configId: "provider",
    value: "echo",
  });
  assert.equal(option(back.configOptions, "model").currentValue, "echo");
  await a.agent.request(acp.methods.agent.session.prompt, {
    sessionId: s.sessionId,
    prompt: [{ type: "text", text: "now echo" }],
  });
  assert.equal(exported(s.sessionId, fakeEnv).messages[5].provider, "echo");

  await assert.rejects(
    a.agent.request(acp.methods.agent.session.setConfigOption, { sessionId: s.sessionId, configId: "provider", value: "nope" }),
    (e) => e.code === -32602 && /unknown provider "nope"/.test(e.message),
  );
  await a.close();
});

test("session/cancel ends the turn with stopReason cancelled, the partial reply kept as interrupted", async () => {
  const ws = folder("ws-cancel");
  const a = start(fakeEnv);
  await initialize(a.agent);
  const s = await a.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
  const pending = a.agent.request(acp.methods.agent.session.prompt, {
    sessionId: s.sessionId,
    prompt: [{ type: "text", text: "slow 200" }],
  });
  // Cancel once the reply has started.
  for (let i = 0; i < 200 && textOf(a.updates(s.sessionId), "agent_message_chunk") === ""; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.notEqual(textOf(a.updates(s.sessionId), "agent_message_chunk"), "", "no chunk came within 4 s");
  await a.agent.notify(acp.methods.agent.session.cancel, { sessionId: s.sessionId });
  const res = await pending;
  assert.equal(res.stopReason, "cancelled");
  const shown = textOf(a.updates(s.sessionId), "agent_message_chunk");
  assert.ok(shown.length < "w0 ".length * 200, "the reply stopped before its end");
  const reply = exported(s.sessionId, fakeEnv).messages[1];
  assert.equal(reply.interrupted, true);
  assert.equal(reply.content, shown, "what was stored is what the client was sent");
  await a.close();
});

test("a prompt sent while a turn runs cancels that turn, and runs once it is saved", async () => {
  const ws = folder("ws-overlap");
  const a = start(fakeEnv);
  await initialize(a.agent);
  const s = await a.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
  const first = a.agent.request(acp.methods.agent.session.prompt, { sessionId: s.sessionId, prompt: [{ type: "text", text: "slow 200" }] });
  for (let i = 0; i < 200 && textOf(a.updates(s.sessionId), "agent_message_chunk") === ""; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const second = a.agent.request(acp.methods.agent.session.prompt, { sessionId: s.sessionId, prompt: [{ type: "text", text: "the next one" }] });
  assert.equal((await first).stopReason, "cancelled");
  assert.equal((await second).stopReason, "end_turn");
  const msgs = exported(s.sessionId, fakeEnv).messages;
  assert.deepEqual(
    msgs.map((m) => [m.role, m.role === "user" ? m.content : m.interrupted === true]),
    [
      ["user", "slow 200"],
      ["assistant", true],
      ["user", "the next one"],
      ["assistant", false],
    ],
  );
  await a.close();
});

test("a tool call asks session/request_permission; allowed, it runs and its result reaches the model", async () => {
  const ws = folder("ws-tool");
  writeFileSync(join(ws, "notes.txt"), "the secret word is pelican\n");
  const a = start(fakeEnv, { permission: () => ({ outcome: { outcome: "selected", optionId: "allow_once" } }) });
  await initialize(a.agent);
  const s = await a.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
  const res = await a.agent.request(acp.methods.agent.session.prompt, {
    sessionId: s.sessionId,
    prompt: [{ type: "text", text: 'tool {"path":"notes.txt"}' }],
  });
  assert.equal(res.stopReason, "end_turn");
  assert.equal(a.permissions.length, 1);
  const asked = a.permissions[0];
  assert.equal(asked.sessionId, s.sessionId);
  assert.equal(asked.toolCall.title, "read_file");
  assert.deepEqual(asked.toolCall.rawInput, { path: "notes.txt" });
  assert.deepEqual(
    asked.options.map((o) => o.kind),
    ["allow_once", "allow_always", "reject_once", "reject_always"],
  );

  const ups = a.updates(s.sessionId);
  const calls = ups.filter((u) => u.sessionUpdate === "tool_call" || u.sessionUpdate === "tool_call_update");
  assert.deepEqual(
    calls.map((u) => `${u.sessionUpdate}:${u.status}`),
    ["tool_call:pending", "tool_call_update:in_progress", "tool_call_update:completed"],
  );
  assert.equal(calls[0].toolCallId, asked.toolCall.toolCallId);
  assert.equal(calls[0].kind, "read");
  assert.match(calls[2].content[0].content.text, /pelican/);
  const text = textOf(ups, "agent_message_chunk");
  assert.match(text, /^Reading\. /);
  assert.match(text, /The tool said: .*pelican/s);
  // The text before the call came before it.
  const firstCall = ups.findIndex((u) => u.sessionUpdate === "tool_call");
  assert.equal(textOf(ups.slice(0, firstCall), "agent_message_chunk"), "Reading. ");
  await a.close();
});

test("a rejected tool call fails, and the model is told the user declined", async () => {
  const ws = folder("ws-reject");
  writeFileSync(join(ws, "notes.txt"), "private\n");
  const a = start(fakeEnv, { permission: () => ({ outcome: { outcome: "selected", optionId: "reject_once" } }) });
  await initialize(a.agent);
  const s = await a.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
  const res = await a.agent.request(acp.methods.agent.session.prompt, {
    sessionId: s.sessionId,
    prompt: [{ type: "text", text: 'tool {"path":"notes.txt"}' }],
  });
  assert.equal(res.stopReason, "end_turn");
  assert.equal(a.permissions.length, 1);
  const ups = a.updates(s.sessionId);
  const last = ups.filter((u) => u.sessionUpdate === "tool_call_update").at(-1);
  assert.equal(last.status, "failed");
  assert.ok(!ups.some((u) => u.status === "in_progress"), "a rejected call never runs");
  const text = textOf(ups, "agent_message_chunk");
  assert.match(text, /The tool said: The user declined/);
  assert.doesNotMatch(text, /private/);
  assert.equal(exported(s.sessionId, fakeEnv).messages[1].toolCalls[0].status, "rejected");
  await a.close();
});

test("session/load replays the history, reasoning and tool calls included, then answers", async () => {
  const ws = folder("ws-load");
  writeFileSync(join(ws, "notes.txt"), "the answer is 42\n");
  const first = start(fakeEnv, { permission: () => ({ outcome: { outcome: "selected", optionId: "allow_once" } }) });
  await initialize(first.agent);
  const s = await first.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
  for (const text of ["think 2", 'tool {"path":"notes.txt"}']) {
    await first.agent.request(acp.methods.agent.session.prompt, { sessionId: s.sessionId, prompt: [{ type: "text", text }] });
  }
  const live = first.updates(s.sessionId);
  await first.close();

  const b = start(fakeEnv);
  await initialize(b.agent);
  const res = await b.agent.request(acp.methods.agent.session.load, { sessionId: s.sessionId, cwd: ws, mcpServers: [] });
  assert.equal(option(res.configOptions, "provider").currentValue, "openai");
  const ups = b.updates(s.sessionId);
  assert.deepEqual(
    ups.map((u) => u.sessionUpdate),
    [
      "user_message_chunk",
      "agent_thought_chunk",
      "agent_message_chunk",
      "user_message_chunk",
      "agent_message_chunk",
      "tool_call",
      "agent_message_chunk",
    ],
  );
  assert.equal(ups[0].content.text, "think 2");
  assert.equal(ups[1].content.text, "t0 t1 ");
  assert.equal(ups[2].content.text, "w0 w1 ");
  assert.equal(ups[4].content.text, "Reading. ");
  assert.equal(ups[5].status, "completed");
  assert.equal(ups[5].title, "read_file");
  assert.deepEqual(ups[5].rawInput, { path: "notes.txt" });
  assert.match(ups[5].content[0].content.text, /the answer is 42/);
  // The replay shows what the live turns showed.
  assert.equal(textOf(ups, "agent_message_chunk"), textOf(live, "agent_message_chunk"));
  assert.equal(textOf(ups, "agent_thought_chunk"), textOf(live, "agent_thought_chunk"));

  // The loaded session goes on.
  const more = await b.agent.request(acp.methods.agent.session.prompt, {
    sessionId: s.sessionId,
    prompt: [{ type: "text", text: "and then" }],
  });
  assert.equal(more.stopReason, "end_turn");
  assert.equal(exported(s.sessionId, fakeEnv).messages.length, 6);

  await assert.rejects(
    b.agent.request(acp.methods.agent.session.load, { sessionId: "0000000000000000", cwd: ws, mcpServers: [] }),
    (e) => e.code === -32002 && /no such session/.test(e.message),
  );
  await b.close();
});

test("session/list lists the cwd's sessions, newest first, with their titles", async () => {
  const ws = folder("ws-list");
  const a = start(echoEnv);
  await initialize(a.agent);
  const ids = [];
  for (const text of ["first chat", "second chat"]) {
    const s = await a.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
    await a.agent.request(acp.methods.agent.session.prompt, { sessionId: s.sessionId, prompt: [{ type: "text", text }] });
    ids.push(s.sessionId);
  }
  const list = await a.agent.request(acp.methods.agent.session.list, { cwd: ws });
  assert.deepEqual(
    list.sessions.map((s) => [s.sessionId, s.title, s.cwd]),
    [
      [ids[1], "second chat", ws],
      [ids[0], "first chat", ws],
    ],
  );
  assert.ok(list.sessions.every((s) => !Number.isNaN(Date.parse(s.updatedAt))));
  const all = await a.agent.request(acp.methods.agent.session.list, {});
  assert.ok(all.sessions.length > 2, "without cwd, every workspace's sessions");
  await a.close();
});

test("resource_link and embedded resource blocks are context; a link outside the workspace is not read", async () => {
  const ws = folder("ws-context");
  const outside = folder("outside");
  writeFileSync(join(ws, "main.go"), "package main // inside\n");
  writeFileSync(join(outside, "secret.txt"), "outside the workspace\n");
  const a = start(echoEnv);
  await initialize(a.agent);
  const s = await a.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
  const inURI = pathToFileURL(join(ws, "main.go")).href;
  const outURI = pathToFileURL(join(outside, "secret.txt")).href;
  const res = await a.agent.request(acp.methods.agent.session.prompt, {
    sessionId: s.sessionId,
    prompt: [
      { type: "text", text: "explain " },
      { type: "resource_link", name: "main.go", uri: inURI },
      { type: "text", text: " and " },
      { type: "resource_link", name: "secret.txt", uri: outURI },
      { type: "resource", resource: { uri: "file:///buffer/scratch.lua", text: "print('embedded')", mimeType: "text/x-lua" } },
    ],
  });
  assert.equal(res.stopReason, "end_turn");
  const user = exported(s.sessionId, echoEnv).messages[0];
  assert.equal(user.content, `explain [main.go](${inURI}) and [secret.txt](${outURI})[scratch.lua](file:///buffer/scratch.lua)`);
  assert.deepEqual(
    user.context.map((c) => [c.uri, c.text]),
    [
      [inURI, "package main // inside\n"],
      ["file:///buffer/scratch.lua", "print('embedded')"],
    ],
  );
  await assert.rejects(
    a.agent.request(acp.methods.agent.session.prompt, {
      sessionId: s.sessionId,
      prompt: [{ type: "image", data: "iVBORw0KGgo=", mimeType: "image/png" }],
    }),
    (e) => e.code === -32602 && /text only/.test(e.message),
  );
  await a.close();
});

test("errors: a provider without a key names its variable; a provider's error carries its message", async () => {
  const ws = folder("ws-errors");
  const a = start(fakeEnv);
  await initialize(a.agent);
  const s = await a.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
  await a.agent.request(acp.methods.agent.session.setConfigOption, { sessionId: s.sessionId, configId: "provider", value: "anthropic" });
  await assert.rejects(
    a.agent.request(acp.methods.agent.session.prompt, { sessionId: s.sessionId, prompt: [{ type: "text", text: "hello" }] }),
    (e) => {
      assert.equal(e.code, -32003);
      assert.match(e.message, /ANTHROPIC_API_KEY/);
      assert.deepEqual(e.data, { provider: "anthropic", env: "ANTHROPIC_API_KEY" });
      return true;
    },
  );
  await a.agent.request(acp.methods.agent.session.setConfigOption, { sessionId: s.sessionId, configId: "provider", value: "openai" });
  await assert.rejects(
    a.agent.request(acp.methods.agent.session.prompt, {
      sessionId: s.sessionId,
      prompt: [{ type: "text", text: "error 401 invalid api key $KEY" }],
    }),
    (e) => {
      assert.equal(e.code, -32001);
      assert.match(e.message, /^openai: 401/);
      assert.match(e.message, /invalid api key/);
      assert.doesNotMatch(e.message, /test-key/, "the key never reaches an error");
      return true;
    },
  );
  // A turn that failed before any text leaves no trace.
  assert.equal(exported(s.sessionId, fakeEnv).messages.length, 0);
  await assert.rejects(
    a.agent.request(acp.methods.agent.session.prompt, { sessionId: "ffffffffffffffff", prompt: [{ type: "text", text: "hi" }] }),
    (e) => e.code === -32002,
  );
  await a.close();
  assert.doesNotMatch(a.stderr(), /test-key/, "the key never reaches the log");
});

test("an ACP session is continued by the JSON-RPC daemon, and a daemon's session over ACP", async () => {
  const ws = folder("ws-cross");
  const a = start(echoEnv);
  await initialize(a.agent);
  const s = await a.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
  await a.agent.request(acp.methods.agent.session.prompt, { sessionId: s.sessionId, prompt: [{ type: "text", text: "said in zed" }] });
  await a.close();

  // The daemon continues it, and starts one of its own in another folder.
  const other = folder("ws-cross-daemon");
  const answers = await daemon(echoEnv, [
    { id: 1, method: "initialize", params: { rootUri: pathToFileURL(ws).href } },
    { id: 2, method: "chat/send", params: { sessionId: s.sessionId, message: "said in neovim" } },
    { id: 3, method: "chat/send", params: { workspace: other, message: "begun in neovim" } },
  ]);
  assert.equal(answers.get(2).result?.text, "said in neovim", JSON.stringify(answers.get(2)));
  assert.equal(answers.get(2).result.sessionId, s.sessionId);
  const daemonSession = answers.get(3).result.sessionId;

  const b = start(echoEnv);
  await initialize(b.agent);
  await b.agent.request(acp.methods.agent.session.load, { sessionId: s.sessionId, cwd: ws, mcpServers: [] });
  assert.deepEqual(
    b.updates(s.sessionId).map((u) => u.content.text),
    ["said in zed", "said in zed", "said in neovim", "said in neovim"],
  );
  const listed = await b.agent.request(acp.methods.agent.session.list, { cwd: other });
  assert.deepEqual(
    listed.sessions.map((x) => [x.sessionId, x.title]),
    [[daemonSession, "begun in neovim"]],
  );
  await b.agent.request(acp.methods.agent.session.load, { sessionId: daemonSession, cwd: other, mcpServers: [] });
  await b.agent.request(acp.methods.agent.session.prompt, { sessionId: daemonSession, prompt: [{ type: "text", text: "continued in zed" }] });
  await b.close();
  assert.deepEqual(
    exported(daemonSession, echoEnv).messages.map((m) => m.content),
    ["begun in neovim", "begun in neovim", "continued in zed", "continued in zed"],
  );
  // And the command line's ask continues the ACP session, the workspace's current one.
  assert.match(tinychat(["ask", "--raw", "-w", other, "asked", "on", "the", "command", "line"], echoEnv), /asked on the command line/);
  assert.equal(exported(daemonSession, echoEnv).messages.length, 6);
});

test("a session made and left empty is removed when the client quits", async () => {
  const ws = folder("ws-empty");
  const a = start(echoEnv);
  await initialize(a.agent);
  const s = await a.agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
  assert.match(tinychat(["sessions", "--workspace", ws], echoEnv), new RegExp(s.sessionId));
  await a.close();
  assert.doesNotMatch(tinychat(["sessions", "--workspace", ws], echoEnv), new RegExp(s.sessionId));
});
