// Markdown for model replies. Raw HTML in a reply is escaped (html: false)
// and markdown-it's link check drops javascript:, vbscript:, file: and
// non-image data: URLs, so a reply cannot run script in the webview; the
// webview's Content-Security-Policy is the second wall. Images from the
// network are links unless the user allows them (a crafted URL can carry
// data out), and the CSP refuses them too. Code blocks are highlighted
// here, by highlight.js with the languages below bundled (nothing is
// fetched), under a head with their language and their actions.

import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import dockerfile from 'highlight.js/lib/languages/dockerfile';
import go from 'highlight.js/lib/languages/go';
import ini from 'highlight.js/lib/languages/ini';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import kotlin from 'highlight.js/lib/languages/kotlin';
import lua from 'highlight.js/lib/languages/lua';
import makefile from 'highlight.js/lib/languages/makefile';
import markdown from 'highlight.js/lib/languages/markdown';
import php from 'highlight.js/lib/languages/php';
import python from 'highlight.js/lib/languages/python';
import ruby from 'highlight.js/lib/languages/ruby';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import swift from 'highlight.js/lib/languages/swift';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import MarkdownIt from 'markdown-it';

const languages = { bash, c, cpp, csharp, css, diff, dockerfile, go, ini, java, javascript, json, kotlin, lua, makefile, markdown, php, python, ruby, rust, shell, sql, swift, typescript, xml, yaml };
for (const [name, lang] of Object.entries(languages)) {
	hljs.registerLanguage(name, lang);
}

/** Options of one rendering. */
export interface RenderOptions {
	/** Show images from the network (tinychat.allowRemoteImages); else each is a link. */
	remoteImages?: boolean;
}

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });

// Links open outside the webview; say so to screen readers and browsers.
const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
	tokens[idx].attrSet('rel', 'noopener noreferrer');
	return defaultLinkOpen(tokens, idx, options, env, self);
};

// An image from the network is a link to it unless the user allows them.
const defaultImage = md.renderer.rules.image!;
md.renderer.rules.image = (tokens, idx, options, env, self) => {
	const token = tokens[idx];
	const src = String(token.attrGet('src') ?? '');
	if ((env as RenderOptions | undefined)?.remoteImages || /^data:image\//i.test(src)) {
		return defaultImage(tokens, idx, options, env, self);
	}
	const alt = self.renderInlineAsText(token.children ?? [], options, env) || src;
	const title = `Image not loaded: ${src} (turn on tinychat.allowRemoteImages to show images from the network)`;
	return `<a class="remote-image" href="${md.utils.escapeHtml(src)}" title="${md.utils.escapeHtml(title)}" rel="noopener noreferrer">${md.utils.escapeHtml(alt)}</a>`;
};

/** codeLanguage is the language a fence's info string names ("go" of "go title=main.go"), lower case. */
export function codeLanguage(info: string): string {
	return info.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
}

/** highlight is code as HTML, highlighted when its language is bundled, else escaped. */
export function highlight(code: string, language: string): string {
	if (language && hljs.getLanguage(language)) {
		return hljs.highlight(code, { language, ignoreIllegals: true }).value;
	}
	return md.utils.escapeHtml(code);
}

// A fenced block: a head with its language and its actions (the webview
// acts on the clicks), then the code, highlighted.
md.renderer.rules.fence = (tokens, idx) => {
	const token = tokens[idx];
	const language = codeLanguage(md.utils.unescapeAll(token.info));
	const esc = md.utils.escapeHtml;
	const cls = language ? ` class="hljs language-${esc(language)}"` : ' class="hljs"';
	return (
		`<div class="code-block" data-language="${esc(language)}">` +
		`<div class="code-head"><span class="code-lang">${esc(language || 'text')}</span>` +
		'<span class="code-actions">' +
		'<button type="button" data-action="copy" title="Copy the code">Copy</button>' +
		'<button type="button" data-action="insert" title="Insert the code at the cursor of the editor last used">Insert</button>' +
		'<button type="button" data-action="apply" title="Show the change in a diff of the editor last used (its selection, else the whole file), then apply it">Apply…</button>' +
		'</span></div>' +
		`<pre><code${cls}>${highlight(token.content, language)}</code></pre></div>\n`
	);
};

/** renderMarkdown turns a (possibly still streaming) reply into safe HTML. */
export function renderMarkdown(text: string, opts: RenderOptions = {}): string {
	return md.render(text, { ...opts });
}
