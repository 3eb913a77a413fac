// Context items: what an editor sends ahead of a message (docs/protocol.md,
// chat/send "context"). No vscode import, so node tests cover it.

import * as path from 'node:path';

import type { ContextItem } from './protocol';

/** contextLabel names a context item the way the transcript shows it: "main.go:10-12". */
export function contextLabel(c: ContextItem): string {
	let name = c.uri;
	try {
		name = path.posix.basename(decodeURIComponent(new URL(c.uri).pathname)) || c.uri;
	} catch {
		name = path.basename(c.uri);
	}
	if (!c.range) {
		return name;
	}
	const from = c.range.start.line + 1;
	const to = c.range.end.line + (c.range.end.character === 0 && c.range.end.line > c.range.start.line ? 0 : 1);
	return from === to ? `${name}:${from}` : `${name}:${from}-${to}`;
}
