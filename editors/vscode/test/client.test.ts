// node --test on src/client.ts against the real daemon and the fake provider.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
	CancellationTokenSource,
	DaemonError,
	ResponseError,
	type CancellationToken,
	type CancelledData,
	type Delta,
	type LogMessage,
	type PermissionOutcome,
	type PermissionRequest,
	type ProviderErrorData,
	type RetryNotice,
	type SendOptions,
	type ToolCallUpdate,
} from '../src/client';
import { retryProgress } from '../src/reply';
import { newFixture, startFakeProvider, type FakeProvider, type Fixture } from './daemon';

/** collect returns an onDelta that keeps the deltas, and calls after(n) once n arrived. */
function collect(at?: { n: number; then: () => void }): { deltas: Delta[]; onDelta: (d: Delta) => void } {
	const deltas: Delta[] = [];
	return {
		deltas,
		onDelta: (d) => {
			deltas.push(d);
			if (at && deltas.length === at.n) {
				at.then();
			}
		},
	};
}

function joined(deltas: Delta[]): string {
	return [...deltas].sort((a, b) => a.seq - b.seq).map((d) => d.text).join('');
}

async function rejection(p: Promise<unknown>, what = 'expected the promise to reject'): Promise<unknown> {
	try {
		await p;
	} catch (err) {
		return err;
	}
	assert.fail(what);
}

describe('client with the echo provider', () => {
	let f: Fixture;
	before(() => {
		f = newFixture({ env: { TINYCHAT_ECHO_DELAY: '5ms' } });
	});
	after(() => f.dispose());

	it('initializes the daemon', async () => {
		const res = await f.client.start();
		assert.equal(res.serverInfo.name, 'tinychat');
		assert.equal(res.protocolVersion, 1);
		assert.ok(res.capabilities.chat.providers.includes('echo'));
		assert.deepEqual(res.capabilities.chat.exportFormats, ['text', 'markdown', 'json']);
		assert.equal(res.capabilities.chat.reasoning, true, 'the daemon says it sends reasoning apart (chat/reasoning)');
		assert.ok(f.client.pid! > 0);
	});

	it('streams a reply whose deltas join to the result text', async () => {
		const { deltas, onDelta } = collect();
		const res = await f.client.send({ message: 'the quick brown fox jumps' }, { onDelta });
		assert.equal(res.provider, 'echo');
		assert.equal(res.stopReason, 'end');
		assert.ok(deltas.length > 1, `expected several deltas, got ${deltas.length}`);
		assert.deepEqual(
			deltas.map((d) => d.seq),
			deltas.map((_, i) => i),
		);
		for (const d of deltas) {
			assert.equal(d.sessionId, res.sessionId);
			assert.equal(d.messageId, res.messageId);
			assert.equal(d.requestId, deltas[0].requestId);
		}
		assert.equal(joined(deltas), res.text);
		assert.match(res.text, /the quick brown fox jumps/);
	});

	it('routes the deltas of parallel replies to their own sends', async () => {
		const a = await f.client.newSession({ title: 'a' });
		const b = await f.client.newSession({ title: 'b' });
		const ca = collect();
		const cb = collect();
		const [ra, rb] = await Promise.all([
			f.client.send({ message: 'alpha one two three', sessionId: a.id }, { onDelta: ca.onDelta }),
			f.client.send({ message: 'beta four five six', sessionId: b.id }, { onDelta: cb.onDelta }),
		]);
		assert.equal(ra.sessionId, a.id);
		assert.equal(rb.sessionId, b.id);
		assert.equal(joined(ca.deltas), ra.text);
		assert.equal(joined(cb.deltas), rb.text);
		assert.ok(ca.deltas.every((d) => d.sessionId === a.id));
		assert.ok(cb.deltas.every((d) => d.sessionId === b.id));
	});

	it('lists, gets and exports sessions', async () => {
		const s = await f.client.newSession({ title: 'export me' });
		assert.equal(s.current, true);
		await f.client.send({ message: 'hello export', sessionId: s.id });
		const list = await f.client.listSessions();
		const item = list.find((x) => x.id === s.id);
		assert.ok(item, 'the new session is listed');
		assert.equal(item.title, 'export me');
		assert.equal(item.messageCount, 2);
		assert.ok(list.length >= 3);

		const got = await f.client.getSession(s.id);
		assert.equal(got.session.id, s.id);
		assert.deepEqual(
			got.messages.map((m) => m.role),
			['user', 'assistant'],
		);
		assert.equal(got.messages[0].content, 'hello export');

		const text = await f.client.exportSession({ sessionId: s.id, format: 'text' });
		assert.equal(text.format, 'text');
		assert.match(text.content, /^You: hello export\n\nLLM: /);
		const md = await f.client.exportSession({ sessionId: s.id, format: 'markdown' });
		assert.match(md.content, /## You/);
		assert.match(md.content, /## Assistant/);
		const json = JSON.parse((await f.client.exportSession({ sessionId: s.id, format: 'json' })).content);
		assert.equal(json.messages.length, 2);
		// With no sessionId the workspace's current session is exported.
		const cur = await f.client.exportSession({ workspace: f.workspace, format: 'text' });
		assert.equal(cur.content, text.content);
	});

	it('answers -32004 for a session that does not exist', async () => {
		const err = await rejection(f.client.getSession('no-such-session'));
		assert.ok(err instanceof ResponseError);
		assert.equal(err.code, -32004);
	});

	it('lists providers without keys', async () => {
		const providers = await f.client.listProviders();
		const echo = providers.find((p) => p.name === 'echo');
		assert.ok(echo?.configured);
		assert.equal(providers.find((p) => p.name === 'openai')?.configured, false);
	});

	it('answers -32002 for a provider with no key', async () => {
		const err = await rejection(f.client.send({ message: 'hi', provider: 'openai' }));
		assert.ok(err instanceof ResponseError);
		assert.equal(err.code, -32002);
	});
});

describe('client with the fake OpenAI provider', () => {
	let fake: FakeProvider;
	let f: Fixture;
	before(async () => {
		fake = await startFakeProvider(['-pace', '20ms']);
		f = newFixture({ env: { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseURL } });
	});
	after(async () => {
		await f.dispose();
		fake.stop();
	});

	it('streams a reply whose deltas join to the result text', async () => {
		const { deltas, onDelta } = collect();
		const res = await f.client.send({ message: 'slow 6', provider: 'openai' }, { onDelta });
		assert.equal(res.provider, 'openai');
		assert.equal(res.text, 'w0 w1 w2 w3 w4 w5 ');
		assert.equal(joined(deltas), res.text);
		assert.ok(deltas.length > 1);
	});

	it('cancels through the token: the send rejects with -32800 and the partial reply is kept', async () => {
		const cts = new CancellationTokenSource();
		const { deltas, onDelta } = collect({ n: 3, then: () => cts.cancel() });
		const started = Date.now();
		const err = await rejection(f.client.send({ message: 'slow 200', provider: 'openai' }, { onDelta, token: cts.token }));
		assert.ok(err instanceof ResponseError, `expected a ResponseError, got ${err}`);
		assert.equal(err.code, -32800);
		assert.ok(Date.now() - started < 3000, 'cancel stops the stream at once');
		const data = err.data as { sessionId: string; messageId: string; text: string };
		assert.ok(data.text.startsWith(joined(deltas).slice(0, 9)), `partial text ${JSON.stringify(data.text)}`);
		assert.ok(deltas.length < 200);
		const got = await f.client.getSession(data.sessionId);
		const last = got.messages[got.messages.length - 1];
		assert.equal(last.role, 'assistant');
		assert.equal(last.interrupted, true);
		assert.equal(last.content, data.text);
	});

	it('cancels through chat/cancel {sessionId}', async () => {
		const s = await f.client.newSession();
		const { onDelta } = collect({ n: 2, then: () => void f.client.cancelSession(s.id) });
		const err = await rejection(f.client.send({ message: 'slow 200', provider: 'openai', sessionId: s.id }, { onDelta }));
		assert.ok(err instanceof ResponseError);
		assert.equal(err.code, -32800);
	});

	it('answers -32005 to a second send while the session streams', async () => {
		const s = await f.client.newSession();
		const cts = new CancellationTokenSource();
		const first = f.client.send({ message: 'slow 100', provider: 'openai', sessionId: s.id }, { token: cts.token });
		first.catch(() => undefined);
		await new Promise((r) => setTimeout(r, 100));
		const err = await rejection(f.client.send({ message: 'again', provider: 'openai', sessionId: s.id }));
		assert.ok(err instanceof ResponseError);
		assert.equal(err.code, -32005);
		cts.cancel();
		assert.equal(((await rejection(first)) as ResponseError<unknown>).code, -32800);
	});

	it('delivers reasoning (chat/reasoning) and answer (chat/delta) apart, each in its own order', async () => {
		const answer = collect();
		const reasoning = collect();
		const res = await f.client.send({ message: 'think 3', provider: 'openai' }, { onDelta: answer.onDelta, onReasoning: reasoning.onDelta });
		assert.equal(res.stopReason, 'end');
		assert.equal(res.text, 'w0 w1 w2 ', 'the result text is the answer alone');
		assert.equal(res.reasoning, 't0 t1 t2 ', 'the result carries the reasoning');
		assert.equal(joined(answer.deltas), 'w0 w1 w2 ', 'the chat/delta texts join to the answer, without reasoning');
		assert.equal(joined(reasoning.deltas), 't0 t1 t2 ', 'the chat/reasoning texts join to the reasoning, without answer');
		for (const [name, deltas] of [
			['chat/delta', answer.deltas],
			['chat/reasoning', reasoning.deltas],
		] as const) {
			assert.ok(deltas.length > 0, `no ${name} notification reached the send`);
			assert.deepEqual(
				deltas.map((d) => d.seq),
				deltas.map((_, i) => i),
				`${name} seq counts 0, 1, 2... on its own`,
			);
			for (const d of deltas) {
				assert.equal(d.sessionId, res.sessionId, `${name} names the reply's session`);
				assert.equal(d.messageId, res.messageId, `${name} names the reply's message`);
				assert.equal(d.requestId, answer.deltas[0].requestId, `${name} carries the send's request id`);
			}
		}

		const got = await f.client.getSession(res.sessionId);
		const last = got.messages[got.messages.length - 1];
		assert.equal(last.role, 'assistant');
		assert.equal(last.content, 'w0 w1 w2 ', 'the stored message is the answer alone');
		assert.equal(last.reasoning, 't0 t1 t2 ', 'the stored message keeps the reasoning');
		assert.equal(last.stopReason, 'end');
		assert.equal(got.messages[got.messages.length - 2].stopReason, undefined, 'a user message has no stopReason');
	});

	it('routes the reasoning of parallel replies to their own sends', async () => {
		const a = await f.client.newSession({ title: 'a' });
		const b = await f.client.newSession({ title: 'b' });
		const ra = collect();
		const rb = collect();
		const [resA, resB] = await Promise.all([
			f.client.send({ message: 'think 2', provider: 'openai', sessionId: a.id }, { onReasoning: ra.onDelta }),
			f.client.send({ message: 'think 4', provider: 'openai', sessionId: b.id }, { onReasoning: rb.onDelta }),
		]);
		assert.equal(joined(ra.deltas), 't0 t1 ', "the first send gets its own reply's chat/reasoning");
		assert.equal(joined(rb.deltas), 't0 t1 t2 t3 ', "the second send gets its own reply's chat/reasoning");
		assert.equal(resA.reasoning, 't0 t1 ');
		assert.equal(resB.reasoning, 't0 t1 t2 t3 ');
		assert.ok(ra.deltas.every((d) => d.sessionId === a.id), 'chat/reasoning of session a only');
		assert.ok(rb.deltas.every((d) => d.sessionId === b.id), 'chat/reasoning of session b only');
	});

	it('answers a reply with no reasoning without a reasoning field or notification', async () => {
		const reasoning = collect();
		const res = await f.client.send({ message: 'slow 2', provider: 'openai' }, { onReasoning: reasoning.onDelta });
		assert.equal(res.text, 'w0 w1 ');
		assert.equal(reasoning.deltas.length, 0, 'no chat/reasoning for a reply without reasoning');
		assert.ok(!('reasoning' in res), `reasoning is omitted when there is none, got ${JSON.stringify(res.reasoning)}`);
	});

	it('ends a refusal with stopReason "refusal", its text the answer, and stores it so', async () => {
		const { deltas, onDelta } = collect();
		const res = await f.client.send({ message: 'refuse', provider: 'openai' }, { onDelta });
		assert.equal(res.stopReason, 'refusal', 'a refusal is a result with stopReason "refusal", not an error');
		assert.equal(res.text, "I'm sorry, I can't help with that.");
		assert.equal(joined(deltas), res.text, 'the refusal text streams as chat/delta');
		const got = await f.client.getSession(res.sessionId);
		const last = got.messages[got.messages.length - 1];
		assert.equal(last.content, res.text);
		assert.equal(last.stopReason, 'refusal', 'session/get names the stored refusal');
	});

	it('ends a filtered reply with stopReason "content_filter" and stores it so', async () => {
		const { deltas, onDelta } = collect();
		const res = await f.client.send({ message: 'filter', provider: 'openai' }, { onDelta });
		assert.equal(res.stopReason, 'content_filter', 'a filtered reply is a result with stopReason "content_filter", not an error');
		assert.equal(res.text, 'Partial ');
		assert.equal(joined(deltas), res.text);
		const got = await f.client.getSession(res.sessionId);
		const last = got.messages[got.messages.length - 1];
		assert.equal(last.content, 'Partial ');
		assert.equal(last.stopReason, 'content_filter', 'session/get names the stored filtered reply');
	});

	it('keeps the reasoning of a reply cancelled while it answers', async () => {
		// 40 reasoning deltas, then 40 answer deltas: cancelled at the second of those.
		const all = Array.from({ length: 40 }, (_, i) => `t${i} `).join('');
		const cts = new CancellationTokenSource();
		const reasoning = collect();
		const answer = collect({ n: 2, then: () => cts.cancel() });
		const err = await rejection(
			f.client.send({ message: 'think 40', provider: 'openai' }, { onDelta: answer.onDelta, onReasoning: reasoning.onDelta, token: cts.token }),
		);
		assert.ok(err instanceof ResponseError, `expected a ResponseError, got ${err}`);
		assert.equal(err.code, -32800);
		const data = err.data as CancelledData;
		assert.equal(joined(reasoning.deltas), all, 'the chat/reasoning texts before the answer join to the reasoning');
		assert.equal(data.reasoning, all, 'the -32800 data carries the reasoning that had arrived');
		assert.ok(data.text.startsWith('w0 w1 '), `partial text ${JSON.stringify(data.text)}`);
		assert.ok(!data.text.includes('t0'), 'the partial text is the answer alone');
		const got = await f.client.getSession(data.sessionId);
		const last = got.messages[got.messages.length - 1];
		assert.equal(last.interrupted, true);
		assert.equal(last.content, data.text);
		assert.equal(last.reasoning, data.reasoning);
		assert.equal(last.stopReason, 'cancelled');
	});

	it("surfaces the provider's error with its message", async () => {
		const err = await rejection(f.client.send({ message: 'error 401 bad key', provider: 'openai' }));
		assert.ok(err instanceof ResponseError);
		assert.equal(err.code, -32001);
		assert.equal(err.message, 'openai: 401 test_error: bad key');
		const data = err.data as ProviderErrorData;
		assert.equal(data.provider, 'openai');
		assert.equal(data.status, 401);
		assert.equal(data.userMessage, 'error 401 bad key');
	});
});

describe('client: sessions, search, retries and the size limit', () => {
	let fake: FakeProvider;
	let f: Fixture;
	const logMessages: LogMessage[] = [];
	before(async () => {
		fake = await startFakeProvider(['-pace', '1ms']);
		f = newFixture({
			env: { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseURL },
			client: { onLogMessage: (m) => logMessages.push(m), initializationOptions: { retries: 1 } },
		});
		// A reply stops at 2 KiB (the least the daemon takes is 1 KiB).
		fs.mkdirSync(path.join(f.dir, 'config', 'tinychat'), { recursive: true });
		fs.writeFileSync(path.join(f.dir, 'config', 'tinychat', 'config.toml'), 'max_reply_bytes = 2048\n');
	});
	after(async () => {
		await f.dispose();
		fake.stop();
	});

	it('renames and deletes a session', async () => {
		const res = await f.client.send({ message: 'first words', provider: 'openai' });
		const renamed = await f.client.renameSession(res.sessionId, 'A better title');
		assert.equal(renamed.id, res.sessionId);
		assert.equal(renamed.title, 'A better title');
		assert.equal((await f.client.listSessions(f.workspace)).find((s) => s.id === res.sessionId)?.title, 'A better title');
		const empty = await rejection(f.client.renameSession(res.sessionId, ''));
		assert.ok(empty instanceof ResponseError && empty.code === -32602, 'an empty title is refused');
		await f.client.deleteSession(res.sessionId);
		assert.equal((await f.client.listSessions(f.workspace)).some((s) => s.id === res.sessionId), false, 'the session is gone');
		const again = await rejection(f.client.deleteSession(res.sessionId));
		assert.ok(again instanceof ResponseError && again.code === -32004, 'a deleted session is no more');
	});

	it("searches the workspace's messages: hits with their session and a snippet", async () => {
		const a = await f.client.send({ message: 'goroutines and channels', provider: 'openai', sessionId: (await f.client.newSession({ workspace: f.workspace })).id });
		await f.client.send({ message: 'lifetimes in rust', provider: 'openai', sessionId: (await f.client.newSession({ workspace: f.workspace })).id });
		const hits = await f.client.searchSessions('goroutine*', f.workspace);
		assert.ok(hits.length >= 1, 'the question (and its echo) match');
		assert.ok(hits.every((h) => h.sessionId === a.sessionId), 'only the session that has the word');
		assert.ok(hits.some((h) => h.role === 'user' && h.snippet.includes('«goroutines»')), `the match is marked: ${JSON.stringify(hits)}`);
		assert.deepEqual(await f.client.searchSessions('kotlin', f.workspace), []);
		const blank = await rejection(f.client.searchSessions('  ', f.workspace));
		assert.ok(blank instanceof ResponseError && blank.code === -32602);
	});

	it("hands a reply's retries (chat/retry) to its onRetry, and the daemon's warnings to onLogMessage", async () => {
		const retries: RetryNotice[] = [];
		const err = await rejection(f.client.send({ message: 'error 503 busy', provider: 'openai' }, { onRetry: (r) => retries.push(r) }));
		assert.ok(err instanceof ResponseError && err.code === -32001);
		assert.equal(retries.length, 1, `one retry (retries: 1): ${JSON.stringify(retries)}`);
		const [r] = retries;
		assert.equal(r.sessionId, (err.data as CancelledData).sessionId, 'of this reply');
		assert.equal(r.attempt, 1);
		assert.match(retryProgress(r), /^retrying openai \(retry 1, in [\d.]+m?s\): .*503/, `the status bar can say it: ${JSON.stringify(r)}`);
		const warning = logMessages.find((m) => /retrying provider request/.test(m.message));
		assert.equal(warning?.type, 2, `the warning too: ${JSON.stringify(logMessages)}`);
	});

	it('ends a reply at max_reply_bytes with stopReason "max_size"', async () => {
		const { deltas, onDelta } = collect();
		const res = await f.client.send({ message: 'endless', provider: 'openai' }, { onDelta });
		assert.equal(res.stopReason, 'max_size');
		assert.ok(Buffer.byteLength(res.text) <= 2048 && Buffer.byteLength(res.text) > 1024, `cut at the limit: ${Buffer.byteLength(res.text)} bytes`);
		assert.equal(joined(deltas), res.text);
		const { messages } = await f.client.getSession(res.sessionId);
		assert.equal(messages.at(-1)?.stopReason, 'max_size', 'stored with its stop reason');
	});
});

describe('client with tools (fake provider calling read_file)', () => {
	const fileText = 'the contents of a.txt\n';
	const toolMessage = 'tool {"path": "a.txt"}';
	const declined = 'The user declined to run this tool call.';
	let fake: FakeProvider;
	const fixtures: Fixture[] = [];
	before(async () => {
		fake = await startFakeProvider(['-pace', '20ms']);
	});
	after(async () => {
		await Promise.all(fixtures.map((f) => f.dispose()));
		fake.stop();
	});

	/**
	 * fixture is a client on a fresh store and workspace holding a.txt (an
	 * "always" answer is remembered per workspace, in the store), that
	 * declares permissions unless told not to.
	 */
	function fixture(permissions = true): Fixture {
		const f = newFixture({
			env: { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseURL },
			client: permissions ? { initializationOptions: { permissions: true } } : {},
		});
		fs.writeFileSync(path.join(f.workspace, 'a.txt'), fileText);
		fixtures.push(f);
		return f;
	}

	/** ask sends the tool message, answering each question with answer, and keeps what came. */
	async function ask(f: Fixture, answer?: SendOptions['onPermission'], opts: SendOptions = {}) {
		const asked: PermissionRequest[] = [];
		const calls: ToolCallUpdate[] = [];
		const deltas: Delta[] = [];
		const res = await f.client.send(
			{ message: toolMessage, provider: 'openai' },
			{
				onDelta: (d) => deltas.push(d),
				onToolCall: (c) => calls.push(c),
				onPermission: answer
					? (req, token) => {
							asked.push(req);
							return answer(req, token);
						}
					: undefined,
				...opts,
			},
		);
		return { res, asked, calls, deltas };
	}

	const statuses = (calls: ToolCallUpdate[]) => calls.map((c) => c.status);

	it('declares the tools capability', async () => {
		const res = await fixture().client.start();
		assert.equal(res.capabilities.chat.tools, true, 'the daemon says models may call tools (chat/toolCall)');
	});

	it('asks the send\'s onPermission; allow_once runs the call, and the reply has the file\'s text', async () => {
		const f = fixture();
		const { res, asked, calls, deltas } = await ask(f, () => 'allow_once');
		assert.equal(asked.length, 1, 'chat/requestPermission reached the handler once');
		const q = asked[0];
		assert.equal(q.requestId, deltas[0].requestId, "the question carries the chat/send's request id");
		assert.equal(q.sessionId, res.sessionId, "the question names the reply's session");
		assert.equal(q.toolCall.name, 'read_file');
		assert.deepEqual(JSON.parse(q.toolCall.arguments), { path: 'a.txt' }, 'the question carries the arguments the model wrote');
		assert.deepEqual(q.options, ['allow_once', 'allow_always', 'reject_once', 'reject_always']);

		assert.equal(res.stopReason, 'end');
		assert.equal(res.text, `Reading. The tool said: ${fileText}`, 'allowed once, the tool ran and the model got the file');
		assert.deepEqual(statuses(calls), ['pending', 'running', 'completed'], 'chat/toolCall statuses in order');
		for (const c of calls) {
			assert.equal(c.toolCallId, q.toolCall.toolCallId, 'every chat/toolCall is of the call asked about');
			assert.equal(c.name, 'read_file');
			assert.equal(c.requestId, q.requestId);
			assert.equal(c.messageId, res.messageId);
		}
		assert.equal(calls[2].output, fileText, 'the completed status carries the output');
		assert.equal(calls[0].output, undefined, 'no output before the call ran');

		const got = await f.client.getSession(res.sessionId);
		const stored = got.messages[got.messages.length - 1];
		assert.equal(stored.content, res.text);
		assert.deepEqual(
			stored.toolCalls?.map((c) => ({ name: c.name, status: c.status, output: c.output, textOffset: c.textOffset })),
			[{ name: 'read_file', status: 'completed', output: fileText, textOffset: 'Reading. '.length }],
			'session/get has the call, where the reply made it',
		);

		// Once is once: the next call is asked about again.
		const again = await ask(f, () => 'allow_once');
		assert.equal(again.asked.length, 1, 'allow_once is not remembered: asked again');
		assert.equal(again.res.text, `Reading. The tool said: ${fileText}`);
	});

	it('reject_once refuses the call: status rejected, and the model is told the user declined', async () => {
		const f = fixture();
		const { res, asked, calls } = await ask(f, () => 'reject_once');
		assert.equal(asked.length, 1, 'chat/requestPermission reached the handler once');
		assert.deepEqual(statuses(calls), ['pending', 'rejected'], 'a rejected call never runs');
		assert.equal(calls[1].output, declined);
		assert.equal(res.text, `Reading. The tool said: ${declined}`);
		assert.ok(!res.text.includes('contents of a.txt'), 'the file was not read');
		const again = await ask(f, () => 'allow_once');
		assert.equal(again.asked.length, 1, 'reject_once is not remembered: asked again');
	});

	it('allow_always is remembered for the workspace: the next call runs without asking', async () => {
		const f = fixture();
		const first = await ask(f, () => 'allow_always');
		assert.equal(first.asked.length, 1, 'chat/requestPermission reached the handler once');
		assert.deepEqual(statuses(first.calls), ['pending', 'running', 'completed'], 'chat/toolCall statuses of the allowed call');
		const second = await ask(f, () => assert.fail('asked again after allow_always'));
		assert.equal(second.asked.length, 0, 'not asked again');
		assert.deepEqual(statuses(second.calls), ['pending', 'running', 'completed'], 'the next call runs without asking');
		assert.equal(second.res.text, `Reading. The tool said: ${fileText}`);
	});

	it('reject_always is remembered for the workspace: the next call is refused without asking', async () => {
		const f = fixture();
		const first = await ask(f, () => 'reject_always');
		assert.equal(first.asked.length, 1, 'chat/requestPermission reached the handler once');
		assert.deepEqual(statuses(first.calls), ['pending', 'rejected'], 'chat/toolCall statuses of the rejected call');
		const second = await ask(f, () => assert.fail('asked again after reject_always'));
		assert.equal(second.asked.length, 0, 'not asked again');
		assert.deepEqual(statuses(second.calls), ['pending', 'rejected'], 'the next call is rejected without asking');
		assert.equal(second.res.text, `Reading. The tool said: ${declined}`);
	});

	it('cancelling the send while the question waits ends it: the send rejects -32800, the question\'s token is cancelled', async () => {
		const f = fixture();
		const cts = new CancellationTokenSource();
		let questionToken: CancellationToken | undefined;
		const err = await rejection(
			ask(
				f,
				(_req, token) => {
					questionToken = token;
					setTimeout(() => cts.cancel(), 50);
					return new Promise<PermissionOutcome>(() => undefined); // the user never answers
				},
				{ token: cts.token },
			),
			'the send ended without being cancelled: was the question asked?',
		);
		assert.ok(err instanceof ResponseError, `expected a ResponseError, got ${err}`);
		assert.equal(err.code, -32800, 'the cancel wins over the open question');
		assert.ok(questionToken, 'the question was asked');
		assert.equal(questionToken.isCancellationRequested, true, 'the question is moot once the send is cancelled');
		const data = err.data as CancelledData;
		const got = await f.client.getSession(data.sessionId);
		const stored = got.messages[got.messages.length - 1];
		assert.equal(stored.interrupted, true);
		assert.deepEqual(
			stored.toolCalls?.map((c) => c.status),
			['pending'],
			'the call that was never answered is stored, not run',
		);
	});

	it('the answer "cancelled" cancels the turn', async () => {
		const f = fixture();
		const err = await rejection(ask(f, () => 'cancelled'), 'the send ended as if "cancelled" were not an answer (or no question was asked)');
		assert.ok(err instanceof ResponseError, `expected a ResponseError, got ${err}`);
		assert.equal(err.code, -32800);
	});

	it('refuses the call when no one answers: a send without onPermission, a handler that throws or answers nonsense', async () => {
		const f = fixture();
		for (const [what, answer] of [
			['no onPermission', undefined],
			['a handler that throws', () => Promise.reject(new Error('boom'))],
			['a handler that answers nonsense', () => 'maybe' as PermissionOutcome],
		] as const) {
			const { res, calls } = await ask(f, answer);
			assert.deepEqual(statuses(calls), ['pending', 'rejected'], `${what}: the call is rejected`);
			assert.equal(res.text, `Reading. The tool said: ${declined}`, `${what}: the model is told the user declined`);
		}
	});

	it('asks nothing of a client that did not declare permissions: the policy refuses the call', async () => {
		const f = fixture(false);
		const { res, asked, calls } = await ask(f, () => 'allow_once');
		assert.equal(asked.length, 0, 'no chat/requestPermission without initializationOptions.permissions');
		assert.deepEqual(statuses(calls), ['pending', 'rejected'], 'chat/toolCall statuses of the refused call');
		assert.equal(res.text, `Reading. The tool said: ${declined}`);
	});

	it('routes the questions of parallel sends to their own handlers', async () => {
		const f = fixture();
		const a = await f.client.newSession({ title: 'a' });
		const b = await f.client.newSession({ title: 'b' });
		const askedA: PermissionRequest[] = [];
		const askedB: PermissionRequest[] = [];
		const [ra, rb] = await Promise.all([
			f.client.send({ message: toolMessage, provider: 'openai', sessionId: a.id }, { onPermission: (q) => (askedA.push(q), 'allow_once') }),
			f.client.send({ message: toolMessage, provider: 'openai', sessionId: b.id }, { onPermission: (q) => (askedB.push(q), 'reject_once') }),
		]);
		assert.deepEqual(
			askedA.map((q) => q.sessionId),
			[a.id],
			"the first send's handler got its own question only",
		);
		assert.deepEqual(
			askedB.map((q) => q.sessionId),
			[b.id],
			"the second send's handler got its own question only",
		);
		assert.equal(ra.text, `Reading. The tool said: ${fileText}`);
		assert.equal(rb.text, `Reading. The tool said: ${declined}`);
	});
});

describe('client process handling', () => {
	it('restarts a killed daemon on next use and reports the crash', async () => {
		const fake = await startFakeProvider(['-pace', '20ms']);
		const f = newFixture({ env: { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: fake.baseURL } });
		try {
			await f.client.start();
			const first = f.client.pid!;
			// A reply in flight when the daemon dies rejects with a DaemonError.
			const { onDelta } = collect({ n: 2, then: () => process.kill(first, 'SIGKILL') });
			const err = await rejection(f.client.send({ message: 'slow 200', provider: 'openai' }, { onDelta }));
			assert.ok(err instanceof DaemonError, `expected a DaemonError, got ${err}`);
			assert.match(err.message, /killed by SIGKILL/);
			await new Promise((r) => setTimeout(r, 50));
			assert.equal(f.crashes.length, 1);
			assert.equal(f.crashes[0].signal, 'SIGKILL');
			assert.equal(f.crashes[0].pid, first);
			assert.equal(f.client.pid, undefined);

			// The next call starts a new daemon, which sees the same store.
			const sessions = await f.client.listSessions();
			assert.ok(f.client.pid && f.client.pid !== first);
			assert.equal(sessions.length, 1);
			const res = await f.client.send({ message: 'back again' });
			assert.match(res.text, /back again/);
		} finally {
			await f.dispose();
			fake.stop();
		}
	});

	it('stops the daemon cleanly without reporting a crash', async () => {
		const f = newFixture();
		try {
			await f.client.start();
			const pid = f.client.pid!;
			await f.client.stop();
			assert.throws(() => process.kill(pid, 0), /ESRCH/);
			assert.equal(f.crashes.length, 0);
			// stop is not dispose: the next call starts it again.
			await f.client.listSessions();
			assert.notEqual(f.client.pid, pid);
		} finally {
			await f.dispose();
		}
		assert.equal(f.crashes.length, 0);
	});

	it('says clearly when the daemon binary cannot be started', async () => {
		const f = newFixture({ client: { command: '/nonexistent/tinychat' } });
		try {
			const err = await rejection(f.client.start());
			assert.ok(err instanceof DaemonError);
			assert.match(err.message, /could not start the tinychat daemon "\/nonexistent\/tinychat".*ENOENT/);
			assert.equal(f.crashes.length, 0);
		} finally {
			await f.dispose();
		}
	});

	it('reports a store the daemon cannot open, with the reason', async () => {
		// The daemon answers initialize while its store opens, so it may stop
		// before or after that answer: either way the caller learns why.
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinychat-bad-store-'));
		const bad = path.join(dir, 'notes.txt');
		fs.writeFileSync(bad, 'notes, not a database\n'.repeat(100));
		const f = newFixture({ env: { TINYCHAT_DB: bad } });
		try {
			const err = await rejection(f.client.listSessions());
			assert.ok(err instanceof DaemonError, String(err));
			assert.match(err.message, /exited with code 1: tinychat: .*not a tinychat database/);
		} finally {
			await f.dispose();
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});

	it('reports how the daemon exited when it stops right after answering initialize', async () => {
		// A stand-in daemon that answers initialize with its stdin closed and
		// exits 1 with a reason, as the real one does for a store it cannot
		// open when it is quick about it: the client's initialized
		// notification then meets a closed pipe. sh, because node keeps
		// fd 0 open whatever a script does with process.stdin.
		const script = [
			'n=0',
			"while IFS= read -r line; do line=${line%$(printf '\\r')}; case $line in Content-Length:*) n=${line#Content-Length: };; '') break;; esac; done",
			'body=$(head -c "$n")',
			'id=$(printf %s "$body" | sed \'s/.*"id":\\([0-9]*\\).*/\\1/\')',
			'exec 0<&-',
			'resp=\'{"jsonrpc":"2.0","id":\'$id\',"result":{"serverInfo":{"name":"tinychat","version":"stand-in"},"protocolVersion":1,"capabilities":{}}}\'',
			"printf 'Content-Length: %d\\r\\n\\r\\n%s' ${#resp} \"$resp\"",
			'echo "tinychat: the store is gone" >&2',
			'sleep 0.2',
			'exit 1',
		].join('\n');
		const f = newFixture({ client: { command: 'sh', args: ['-c', script] } });
		try {
			const err = await rejection(f.client.listSessions());
			assert.ok(err instanceof DaemonError, String(err));
			assert.match(err.message, /exited with code 1: tinychat: the store is gone/);
		} finally {
			await f.dispose();
		}
	});

	it('reports a daemon that fails at start with its stderr', async () => {
		const f = newFixture({ client: { args: ['serve', '--no-such-flag'] } });
		try {
			const err = await rejection(f.client.start());
			assert.ok(err instanceof DaemonError);
			assert.match(err.message, /exited with code 2/);
		} finally {
			await f.dispose();
		}
	});
});
