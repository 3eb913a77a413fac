// acpx, a headless ACP client, running one prompt end to end through
// `tinychat acp`: over the echo provider, and over the fake OpenAI one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { envFor, exported, fakeOpenAI, folder, bin, tinychat } from "./harness.mjs";

const acpx = createRequire(import.meta.url).resolve("acpx/dist/cli.js");

/** Runs acpx exec PROMPT with tinychat acp as its agent; returns its JSON events. */
function exec(env, cwd, prompt) {
  const r = spawnSync(process.execPath, [acpx, "--agent", `${bin} acp`, "--cwd", cwd, "--format", "json", "exec", prompt], {
    env,
    cwd,
    encoding: "utf8",
    timeout: 60000,
  });
  assert.equal(r.status, 0, `acpx exited with ${r.status}: ${r.stderr}\n${r.stdout}`);
  return r.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));
}

const answer = (events, type) =>
  events
    .filter((e) => e.type === type)
    .map((e) => e.content)
    .join("");

test("acpx exec answers through the echo provider", () => {
  const home = folder("acpx-echo");
  const env = envFor(home);
  const ws = folder("acpx-echo-ws");
  const events = exec(env, ws, "hello");
  assert.equal(answer(events, "text"), "hello");
  const done = events.find((e) => e.type === "done");
  assert.equal(done?.stopReason, "end_turn", JSON.stringify(events));
  // The session acpx made is tinychat's, with its turn.
  const id = events[0].sessionId;
  assert.deepEqual(
    exported(id, env).messages.map((m) => [m.role, m.content, m.provider ?? ""]),
    [
      ["user", "hello", ""],
      ["assistant", "hello", "echo"],
    ],
  );
  assert.match(tinychat(["sessions", "--workspace", ws], env), new RegExp(id));
});

test("acpx exec answers through the fake OpenAI provider, reasoning apart", () => {
  const home = folder("acpx-fake");
  const env = envFor(home, fakeOpenAI);
  const ws = folder("acpx-fake-ws");
  const events = exec(env, ws, "think 2");
  assert.equal(answer(events, "text"), "w0 w1 ", JSON.stringify(events));
  assert.equal(answer(events, "thought"), "t0 t1 ", JSON.stringify(events));
  const reply = exported(events[0].sessionId, env).messages[1];
  assert.equal(reply.provider, "openai");
});
