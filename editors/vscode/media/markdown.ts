// Markdown for model replies. Raw HTML in a reply is escaped (html: false)
// and markdown-it's link check drops javascript:, vbscript:, file: and
// non-image data: URLs, so a reply cannot run script in the webview; the
// webview's Content-Security-Policy is the second wall.

import MarkdownIt from 'markdown-it';

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });

// Links open outside the webview; say so to screen readers and browsers.
const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
	tokens[idx].attrSet('rel', 'noopener noreferrer');
	return defaultLinkOpen(tokens, idx, options, env, self);
};

/** renderMarkdown turns a (possibly still streaming) reply into safe HTML. */
export function renderMarkdown(text: string): string {
	return md.render(text);
}
