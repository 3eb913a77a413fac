// Tool calls as the chat shows them: pure functions shared by the
// extension (src/panel.ts) and the webview (media/chat.ts). No vscode or
// node import, so node tests and the browser both use them.

import type { StoredToolCall } from './protocol';
import type { ToolView } from './messages';

/** maxShownOutput is how much of a tool's output the chat shows (a stored one is whole). */
export const maxShownOutput = 4000;

/**
 * autoApproved tells whether the tool `name` is one the user allows
 * without being asked (the setting tinychat.tools.autoApprove): a pattern
 * is a tool's name as the model sees it (read_file, SERVER__TOOL), where
 * `*` stands for any run of characters (github__*, *).
 */
export function autoApproved(name: string, patterns: readonly unknown[]): boolean {
	return patterns.some((p) => {
		if (typeof p !== 'string' || !p.trim()) {
			return false;
		}
		const re = p
			.trim()
			.split('*')
			.map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
			.join('.*');
		return new RegExp(`^${re}$`).test(name);
	});
}

/**
 * textIndex turns textOffset, a count of UTF-8 bytes of text, into an
 * index into the string; an offset past the end is the end, one inside a
 * character is after it.
 */
export function textIndex(text: string, textOffset: number): number {
	if (!(textOffset > 0)) {
		return 0;
	}
	let bytes = 0;
	let i = 0;
	while (i < text.length && bytes < textOffset) {
		const c = text.codePointAt(i)!;
		bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
		i += c > 0xffff ? 2 : 1;
	}
	return i;
}

/** clipOutput cuts a tool's output to what the chat shows, saying how much there was. */
export function clipOutput(output: string | undefined): string | undefined {
	if (output === undefined || output.length <= maxShownOutput) {
		return output;
	}
	return `${output.slice(0, maxShownOutput)}\n… (${output.length.toLocaleString('en')} characters in all)`;
}

/** storedTool is a stored reply's tool call, placed in its content, as the chat shows it. */
export function storedTool(content: string, c: StoredToolCall): ToolView {
	return {
		id: c.id,
		name: c.name,
		server: c.server || undefined,
		arguments: c.arguments,
		status: c.status,
		output: clipOutput(c.output),
		offset: textIndex(content, c.textOffset),
	};
}

/** prettyArguments is a call's arguments indented, when they are JSON; else as the model wrote them. */
export function prettyArguments(args: string): string {
	try {
		return JSON.stringify(JSON.parse(args), null, 2);
	} catch {
		return args;
	}
}
