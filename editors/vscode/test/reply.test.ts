// How the panel shows a reply's end: the text kept when the daemon cut
// its answer, the stop notes, and what a retry says.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { retryProgress, stoppedBy, storeFullView, truncatedNote, whole } from '../src/reply';

describe('whole', () => {
	it("keeps the daemon's text, unless it says it cut it and the streamed text is longer", () => {
		assert.equal(whole('abc', 'abc', undefined), 'abc');
		assert.equal(whole('ab', 'abcdef', true), 'abcdef', 'truncated: the streamed text has all of the reply');
		assert.equal(whole('ab', 'abcdef', undefined), 'ab', 'not truncated: the answer is the reply');
		assert.equal(whole('abcdef', 'ab', true), 'abcdef', 'the streamed text lost deltas: the answer has more');
		assert.equal(whole(undefined, 'abc', undefined), 'abc');
		assert.equal(whole(undefined, undefined, true), undefined);
	});
});

describe('stoppedBy', () => {
	it('notes the stop reasons that say why a reply ended early, max_size among them', () => {
		assert.deepEqual(
			(['end', 'max_tokens', 'refusal', 'content_filter', 'max_tool_steps', 'max_size', 'cancelled', 'error', undefined] as const).map(stoppedBy),
			[undefined, undefined, 'refusal', 'content_filter', 'max_tool_steps', 'max_size', undefined, undefined, undefined],
		);
	});
});

describe('retryProgress', () => {
	it('says which provider is retried, which retry, when, and why, from chat/retry', () => {
		assert.equal(
			retryProgress({ provider: 'openai', attempt: 1, wait: 0.44, error: 'openai: 503 test_error: busy' }),
			'retrying openai (retry 1, in 440ms): openai: 503 test_error: busy',
		);
		assert.equal(retryProgress({ provider: 'anthropic', attempt: 2, wait: 1.234, error: 'timeout' }), 'retrying anthropic (retry 2, in 1.2s): timeout');
		assert.equal(retryProgress({ provider: '', attempt: 3, wait: 2, error: '' }), 'retrying the provider (retry 3, in 2s)');
	});
});

describe('storeFullView', () => {
	const full = 'the store is full: database or disk is full';

	it('offers a message refused before the provider was asked again, saying why', () => {
		const v = storeFullView(full, { userMessage: 'my question' }, { text: '' }, 'my question');
		assert.deepEqual(v, {
			kept: false,
			error: 'Not sent: the store is full: database or disk is full. Your message is back in the prompt box: free some disk space, then send it again.',
			restore: 'my question',
		});
	});

	it('keeps a reply that ended but could not be saved, whole, and says it is not saved yet', () => {
		const v = storeFullView(full, { sessionId: 's', messageId: 'm', text: 'the whole answer', stopReason: 'end' }, { text: 'the whole' }, 'q');
		assert.equal(v.kept, true);
		if (v.kept) {
			assert.equal(v.text, 'the whole answer');
			assert.equal(v.stopped, undefined, 'it ended well');
			assert.equal(v.interrupted, undefined);
			assert.deepEqual(v.notes, [
				'Not saved yet: the store is full: database or disk is full. tinychat keeps this reply and saves it as soon as the disk has room; until then it refuses new messages.',
			]);
		}
	});

	it("keeps the reply's own stop reason, and the streamed text when the daemon cut its copy", () => {
		const v = storeFullView(full, { text: 'cut', stopReason: 'max_size', truncated: true }, { text: 'cut, but whole here' }, 'q');
		assert.ok(v.kept);
		if (v.kept) {
			assert.equal(v.text, 'cut, but whole here');
			assert.equal(v.stopped, 'max_size');
			assert.equal(v.notes.length, 2);
			assert.equal(v.notes[1], truncatedNote);
		}
		const cancelled = storeFullView(full, { text: 'part', stopReason: 'cancelled' }, { text: 'part' }, 'q');
		assert.ok(cancelled.kept && cancelled.interrupted === true, 'a cancelled reply is marked interrupted');
	});
});
