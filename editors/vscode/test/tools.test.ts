// node --test on src/tools.ts: how the chat places, cuts and approves tool calls.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { autoApproved, clipOutput, maxShownOutput, prettyArguments, storedTool, textIndex } from '../src/tools';

describe('tool calls in the chat', () => {
	it('auto-approves the tools tinychat.tools.autoApprove names, * matching any characters', () => {
		assert.equal(autoApproved('read_file', ['read_file']), true);
		assert.equal(autoApproved('read_file', ['list_files', 'grep']), false, 'only the tools named');
		assert.equal(autoApproved('read_file_and_more', ['read_file']), false, 'a name is matched whole');
		assert.equal(autoApproved('github__create_issue', ['github__*']), true);
		assert.equal(autoApproved('gitlab__create_issue', ['github__*']), false);
		assert.equal(autoApproved('anything', ['*']), true);
		assert.equal(autoApproved('read.file', ['read_file']), false);
		assert.equal(autoApproved('readXfile', ['read.file']), false, 'a dot is a dot, not any character');
		assert.equal(autoApproved('read_file', []), false, 'nothing is approved by default');
		assert.equal(autoApproved('read_file', ['', '  ', 42, null]), false, 'empty and non-string entries approve nothing');
	});

	it("turns a stored call's textOffset (UTF-8 bytes) into an index into the text", () => {
		assert.equal(textIndex('Reading. The tool said', 9), 9);
		const text = 'Déjà vu 🙂. Then';
		const at = Buffer.byteLength('Déjà vu 🙂.');
		assert.equal(text.slice(0, textIndex(text, at)), 'Déjà vu 🙂.', 'accents and an emoji count their bytes');
		assert.equal(textIndex(text, 0), 0);
		assert.equal(textIndex(text, 10_000), text.length, 'past the end is the end');
		assert.equal(textIndex(text, -3), 0);
		assert.equal(text.slice(0, textIndex(text, 2)), 'Dé', 'inside a character is after it');
	});

	it('places a stored call in its reply and cuts its output for display', () => {
		const content = 'Ça lit. The tool said: x';
		const v = storedTool(content, { id: 'c1', name: 'read_file', server: '', arguments: '{}', status: 'completed', output: 'y'.repeat(maxShownOutput + 10), textOffset: Buffer.byteLength('Ça lit. ') });
		assert.equal(content.slice(0, v.offset), 'Ça lit. ');
		assert.equal(v.server, undefined);
		assert.ok(v.output!.startsWith('y'.repeat(maxShownOutput) + '\n… ('), 'a long output is cut');
		assert.match(v.output!, /4,010 characters in all\)$/, 'and says how long it was');
		assert.equal(clipOutput('short'), 'short');
		assert.equal(clipOutput(undefined), undefined);
	});

	it('indents JSON arguments and keeps anything else as written', () => {
		assert.equal(prettyArguments('{"path": "a.txt"}'), '{\n  "path": "a.txt"\n}');
		assert.equal(prettyArguments('{"path": "a.t'), '{"path": "a.t', 'arguments cut short stay as they are');
	});
});
