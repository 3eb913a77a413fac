// How a reply's end is shown: which text to keep, the note under it, what
// a retry says. No vscode import, so node tests check it.

import type { StopNote } from './messages';
import type { RetryNotice, StoredStopReason, TurnData } from './protocol';

/** The note under a reply whose answer the daemon cut to fit its message size limit (truncated). */
export const truncatedNote = 'This reply is larger than the daemon can send back in one answer: it is shown as it streamed, and the session stores all of it.';

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
 * retryProgress is what the status bar and the reply say of a chat/retry:
 * "retrying openai (retry 1, in 440ms): the error".
 */
export function retryProgress(r: Pick<RetryNotice, 'provider' | 'attempt' | 'wait' | 'error'>): string {
	const wait = r.wait < 1 ? `${Math.round(r.wait * 1000)}ms` : `${Math.round(r.wait * 10) / 10}s`;
	return `retrying ${r.provider || 'the provider'} (retry ${r.attempt}, in ${wait})${r.error ? `: ${r.error}` : ''}`;
}

/** How a -32006 answer to chat/send (the store could not take the turn) is shown. */
export type StoreFullView =
	/** Nothing was asked: the message goes back to the prompt box (restore), and error says why. */
	| { kept: false; error: string; restore: string }
	/** The reply arrived but is not saved yet: it stays, with a note saying so. */
	| { kept: true; text: string; reasoning?: string; stopped?: StopNote; interrupted?: true; notes: string[] };

/**
 * storeFullView is how a -32006 answer (message, data) to the chat/send
 * of sent is shown, given what had streamed in. When the daemon refused
 * the turn before asking the provider (data.userMessage), the message is
 * offered again; else the reply, whole in data, stays on screen marked as
 * not saved yet: the daemon keeps it and saves it once the disk has room,
 * and refuses new messages until then.
 */
export function storeFullView(message: string, data: TurnData | undefined, streamed: { text: string; reasoning?: string }, sent: string): StoreFullView {
	const d = data ?? {};
	if (d.userMessage !== undefined || (!d.text && !d.reasoning && !streamed.text && !streamed.reasoning)) {
		return { kept: false, error: `Not sent: ${message}. Your message is back in the prompt box: free some disk space, then send it again.`, restore: d.userMessage ?? sent };
	}
	return {
		kept: true,
		text: whole(d.text, streamed.text, d.truncated) ?? '',
		reasoning: whole(d.reasoning, streamed.reasoning, d.truncated),
		stopped: stoppedBy(d.stopReason),
		interrupted: d.stopReason === 'cancelled' || d.stopReason === 'error' || undefined,
		notes: [
			`Not saved yet: ${message}. tinychat keeps this reply and saves it as soon as the disk has room; until then it refuses new messages.`,
			...(d.truncated ? [truncatedNote] : []),
		],
	};
}
