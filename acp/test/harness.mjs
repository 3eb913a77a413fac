// What the tests share: starting `tinychat acp` under the official
// TypeScript SDK's client connection, the environment of each run, and
// running tinychat's other commands over the same store.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { Readable, Writable, PassThrough } from "node:stream";
import * as acp from "@agentclientprotocol/sdk";

export { acp };

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through acp/test/test.sh`);
  return v;
};
export const bin = need("TINYCHAT_BIN");
export const fakeURL = need("FAKE_URL");
const tmp = need("ACP_TEST_TMP");

/** A fresh folder under the run's temporary one. */
export function folder(prefix) {
  return mkdtempSync(join(tmp, `${prefix}-`));
}

/**
 * The environment of a tinychat process: its own store and configuration
 * folders under home, no key but those in extra. The fake OpenAI-compatible
 * provider is at openai.
 */
export function envFor(home, extra = {}) {
  mkdirSync(join(home, "config"), { recursive: true });
  return {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, "config"),
    XDG_DATA_HOME: join(home, "data"),
    XDG_CACHE_HOME: join(home, "cache"),
    TINYCHAT_DB: join(home, "tinychat.db"),
    TINYCHAT_ECHO_DELAY: "5ms",
    ...extra,
  };
}

/** The variables that make openai the fake provider (and the default one). */
export const fakeOpenAI = { OPENAI_BASE_URL: `${fakeURL}/v1`, OPENAI_API_KEY: "test-key" };

/**
 * Starts `tinychat acp` with env and connects the SDK's client to it.
 * permission(params) answers session/request_permission.
 */
export function startAgent(env, { permission } = {}) {
  const child = spawn(bin, ["acp"], { stdio: ["pipe", "pipe", "pipe"], env });
  let stderr = "";
  child.stderr.on("data", (b) => (stderr += b));
  // Everything on stdout, to check that it is ACP alone.
  let stdout = "";
  const wire = new PassThrough();
  child.stdout.on("data", (b) => (stdout += b));
  child.stdout.pipe(wire);
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));

  const updates = [];
  const permissions = [];
  const app = acp
    .client({ name: "tinychat-acp-test" })
    .onNotification(acp.methods.client.session.update, ({ params }) => {
      updates.push(params);
    })
    .onRequest(acp.methods.client.session.requestPermission, async ({ params }) => {
      permissions.push(params);
      if (!permission) return { outcome: { outcome: "cancelled" } };
      return permission(params);
    });
  const conn = app.connect(acp.ndJsonStream(Writable.toWeb(child.stdin), Readable.toWeb(wire)));
  return {
    agent: conn.agent,
    permissions,
    /** The updates of sessionId so far, as {sessionUpdate, ...}. */
    updates: (sessionId) => updates.filter((n) => n.sessionId === sessionId).map((n) => n.update),
    clearUpdates: () => updates.splice(0),
    stderr: () => stderr,
    stdout: () => stdout,
    /** Closes stdin, as a client that quits, and waits for the exit. */
    async close() {
      child.stdin.end();
      const res = await exited;
      conn.close();
      return res;
    },
    kill: () => child.kill("SIGKILL"),
  };
}

/** initialize, as a client without file system or terminal support. */
export function initialize(agent) {
  return agent.request(acp.methods.agent.initialize, {
    protocolVersion: acp.PROTOCOL_VERSION,
    clientCapabilities: {},
    clientInfo: { name: "tinychat-acp-test", version: "1" },
  });
}

/** The joined text of the updates of one kind. */
export function textOf(updates, kind) {
  return updates
    .filter((u) => u.sessionUpdate === kind)
    .map((u) => u.content.text)
    .join("");
}

/** Runs `tinychat ARGS` to its end, with env; fails on a non-zero exit. */
export function tinychat(args, env, { cwd, input } = {}) {
  const r = spawnSync(bin, args, { env, cwd, input, encoding: "utf8", timeout: 30000 });
  if (r.status !== 0) {
    throw new Error(`tinychat ${args.join(" ")} exited with ${r.status}: ${r.stderr}`);
  }
  return r.stdout;
}

/** The whole stored session id, as `tinychat export --format json` gives it. */
export function exported(id, env) {
  return JSON.parse(tinychat(["export", "--format", "json", id], env));
}

/**
 * Talks to `tinychat serve --jsonl` (the JSON-RPC daemon): sends each
 * request in turn and returns the answers by id once the last is answered.
 */
export async function daemon(env, requests) {
  const child = spawn(bin, ["serve", "--jsonl"], { stdio: ["pipe", "pipe", "pipe"], env });
  let stderr = "";
  child.stderr.on("data", (b) => (stderr += b));
  const answers = new Map();
  let buf = "";
  let waiting = null;
  child.stdout.on("data", (b) => {
    buf += b;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const msg = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (msg.id !== undefined && msg.method === undefined) {
        answers.set(msg.id, msg);
        if (waiting && waiting.id === msg.id) waiting.resolve();
      }
    }
  });
  for (const req of requests) {
    const done = new Promise((resolve) => (waiting = { id: req.id, resolve }));
    child.stdin.write(JSON.stringify({ jsonrpc: "2.0", ...req }) + "\n");
    await Promise.race([
      done,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`the daemon did not answer ${req.method}: ${stderr}`)), 20000)),
    ]);
  }
  child.stdin.end();
  await new Promise((resolve) => child.on("exit", resolve));
  return answers;
}
