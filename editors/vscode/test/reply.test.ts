// How the panel shows a reply's end: the text kept when the daemon cut
// its answer, the stop notes, and what a retry says.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { retryProgress, stoppedBy, whole } from '../src/reply';

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
	it("says which provider is retried, which retry, when, and why, from the daemon's warning", () => {
		assert.equal(
			retryProgress('retrying provider request provider=openai attempt=1 wait=440ms error="openai: 503 test_error: busy"'),
			'retrying openai (retry 1, in 440ms): openai: 503 test_error: busy',
		);
		assert.equal(retryProgress('retrying provider request provider=anthropic attempt=2 wait=1.2s error=timeout'), 'retrying anthropic (retry 2, in 1.2s): timeout');
		assert.equal(
			retryProgress('retrying provider request provider=openai attempt=3 wait=2s error=openai: connection: dial tcp: refused'),
			'retrying openai (retry 3, in 2s): openai: connection: dial tcp: refused',
			'the error as the daemon writes it: unquoted, to the end',
		);
		assert.equal(retryProgress('key command failed provider=openai'), undefined);
	});
});
