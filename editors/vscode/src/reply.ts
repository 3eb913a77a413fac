// How a reply's end is shown: which text to keep, the note under it, what
// a retry says. No vscode import, so node tests check it.

import type { StopNote } from './messages';
import type { StoredStopReason } from './protocol';

export const truncatedNote = "Larger than a daemon's answer may be: what streamed is shown, and the session stores the whole reply (Export Session shows it all).";

/**
 * whole is the text to keep of a reply: the daemon's (answered), unless
 * it says it cut it to fit the message size limit, where the text that
 * streamed in (streamed), which has all of it, is kept if longer.
 */
export function whole(answered: string | undefined, streamed: string | undefined, truncated: boolean | undefined): string | undefined {
	if (answered === undefined) {
		return streamed;
	}
	if (truncated && streamed !== undefined && streamed.length > answered.length) {
		return streamed;
	}
	return answered;
}

/** stoppedBy is the note a reply that ended for stopReason gets, if any. */
export function stoppedBy(stopReason: StoredStopReason | undefined): StopNote | undefined {
	switch (stopReason) {
		case 'refusal':
		case 'content_filter':
		case 'max_tool_steps':
		case 'max_size':
			return stopReason;
		default:
			return undefined;
	}
}

/**
 * retryProgress is what the status bar says for a daemon warning that it
 * retries a provider request ("retrying provider request provider=openai
 * attempt=1 wait=440ms error=..."): "retrying openai (retry 1, in
 * 440ms): the error"; undefined for any other message.
 */
export function retryProgress(message: string): string | undefined {
	const m = /retrying provider request\b(.*)$/s.exec(message);
	if (!m) {
		return undefined;
	}
	// The error comes last, and runs to the end (quoted by some loggers).
	const [head, ...rest] = m[1].split(' error=');
	let error = rest.join(' error=').trim();
	if (/^".*"$/s.test(error)) {
		try {
			error = JSON.parse(error) as string;
		} catch {
			error = error.slice(1, -1);
		}
	}
	const fields = new Map([...head.matchAll(/(\w+)=(\S+)/g)].map((f) => [f[1], f[2]]));
	const provider = fields.get('provider') ?? 'the provider';
	const attempt = fields.get('attempt');
	const wait = fields.get('wait');
	const when = [attempt ? `retry ${attempt}` : '', wait ? `in ${wait}` : ''].filter(Boolean).join(', ');
	return `retrying ${provider}${when ? ` (${when})` : ''}${error ? `: ${error}` : ''}`;
}
