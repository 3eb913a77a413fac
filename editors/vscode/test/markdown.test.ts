// The webview's Markdown renderer must not let a reply run script.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { renderMarkdown } from '../media/markdown';
import { contextLabel } from '../src/context';

describe('renderMarkdown', () => {
	it('renders Markdown', () => {
		const html = renderMarkdown('# Title\n\nSome **bold** and `code`.\n\n```go\nfmt.Println("hi")\n```\n');
		assert.match(html, /<h1>Title<\/h1>/);
		assert.match(html, /<strong>bold<\/strong>/);
		assert.match(html, /<code>code<\/code>/);
		assert.match(html, /<pre><code class="language-go">fmt.Println\(&quot;hi&quot;\)/);
	});

	it('escapes raw HTML', () => {
		const html = renderMarkdown('<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">');
		assert.doesNotMatch(html, /<script/);
		assert.doesNotMatch(html, /<img/);
		assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
	});

	it('drops script links', () => {
		const html = renderMarkdown('[click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=) [ok](https://example.com)');
		assert.doesNotMatch(html, /href="javascript:/);
		assert.doesNotMatch(html, /href="data:/);
		assert.match(html, /<a href="https:\/\/example.com" rel="noopener noreferrer">ok<\/a>/);
	});

	it('renders a reply cut mid code block', () => {
		const html = renderMarkdown('Here:\n\n```js\nconst a = 1;');
		assert.match(html, /<pre><code class="language-js">const a = 1;/);
	});
});

describe('contextLabel', () => {
	it('names a file and its lines', () => {
		const range = (a: number, b: number, endChar = 3) => ({ start: { line: a, character: 0 }, end: { line: b, character: endChar } });
		assert.equal(contextLabel({ uri: 'file:///w/src/main.go', text: '', range: range(9, 19) }), 'main.go:10-20');
		assert.equal(contextLabel({ uri: 'file:///w/a%20b.ts', text: '', range: range(4, 4) }), 'a b.ts:5');
		// A selection that ends at the start of a line does not name that line.
		assert.equal(contextLabel({ uri: 'file:///w/a.ts', text: '', range: range(1, 3, 0) }), 'a.ts:2-3');
		assert.equal(contextLabel({ uri: 'file:///w/x.py', text: '' }), 'x.py');
		assert.equal(contextLabel({ uri: 'untitled:Untitled-1', text: '' }), 'Untitled-1');
	});
});
