// The chat webview's script (bundled to dist/chat.js): draws the transcript
// the extension sends, renders replies as Markdown while they stream (a
// reply's reasoning in a "Thinking" block above its answer, its tool calls
// as blocks between its texts, where it made them, and an approval card for
// a call waiting for the user), and sends the prompt box and the user's
// answers back. Tool arguments and output are untrusted: they go in as
// text, never as markup. The transcript follows the latest message while
// the user is at its end (and from the moment they send), and offers a
// jump back to it when they scroll up; messages sent while a reply
// streams wait in a queue the extension keeps; code blocks' buttons ask
// the extension to copy, insert or apply their code.

import type { Ask, FromWebview, Item, PanelCommand, ToWebview, ToolView } from '../src/messages';
import type { PermissionOption } from '../src/protocol';
import { prettyArguments } from '../src/tools';
import { renderMarkdown } from './markdown';

interface VsCodeApi {
	postMessage(msg: FromWebview): void;
	getState(): { draft?: string } | undefined;
	setState(state: { draft?: string }): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const transcript = byId<HTMLElement>('transcript');
const title = byId<HTMLElement>('title');
const model = byId<HTMLButtonElement>('model');
const form = byId<HTMLFormElement>('prompt');
const input = byId<HTMLTextAreaElement>('input');
const sendButton = byId<HTMLButtonElement>('send');
const stopButton = byId<HTMLButtonElement>('stop');
const latestButton = byId<HTMLButtonElement>('latest');
const queueBox = byId<HTMLElement>('queue');

/** An item, its element, and whether it is still to be drawn. */
interface Entry {
	item: Item;
	el: HTMLElement;
	dirty: boolean;
	/** The user opened (true) or closed (false) the reply's Thinking block: it stays so. */
	thinkingOpen?: boolean;
	/** The tool blocks the user opened (true) or closed (false), by call id. */
	toolOpen?: Map<string, boolean>;
}

/** Permission questions answered here, waiting for the extension to take their card away. */
const answered = new Set<string>();

/** Items by id. */
const items = new Map<string, Entry>();
let streaming = false;
let frame = 0;
/** Show images from the network in replies (tinychat.allowRemoteImages). */
let remoteImages = false;
/** The transcript keeps its end in view: the user is at its end, or has just sent a message. */
let follow = true;
/** Set while the script scrolls the transcript, so that the scroll is not taken for the user's. */
let scrolling = false;

function byId<T extends HTMLElement>(id: string): T {
	return document.getElementById(id) as T;
}

function post(msg: FromWebview): void {
	vscode.postMessage(msg);
}

const idlePlaceholder = input.placeholder;
input.value = vscode.getState()?.draft ?? '';

form.addEventListener('submit', (e) => {
	e.preventDefault();
	submit();
});

input.addEventListener('keydown', (e) => {
	if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
		e.preventDefault();
		submit();
	} else if (e.key === 'Escape' && streaming) {
		e.preventDefault();
		post({ type: 'cancel' });
	}
});

input.addEventListener('input', () => vscode.setState({ draft: input.value }));

stopButton.addEventListener('click', () => post({ type: 'cancel' }));

latestButton.addEventListener('click', () => {
	follow = true;
	toEnd();
	input.focus();
});

transcript.addEventListener('scroll', () => {
	if (scrolling) {
		return;
	}
	follow = atEnd();
	latestButton.hidden = follow;
});

// A code block's buttons: the code is the block's text, as the reply has it.
transcript.addEventListener('click', (e) => {
	const button = (e.target as HTMLElement).closest<HTMLButtonElement>('.code-block button[data-action]');
	const block = button?.closest<HTMLElement>('.code-block');
	if (!button || !block) {
		return;
	}
	const action = button.dataset.action as 'copy' | 'insert' | 'apply';
	post({ type: 'code', action, code: block.querySelector('pre code')?.textContent ?? '', language: block.dataset.language ?? '' });
	if (action === 'copy') {
		button.textContent = 'Copied';
		setTimeout(() => {
			button.textContent = 'Copy';
		}, 2000);
	}
});

for (const b of document.querySelectorAll<HTMLButtonElement>('[data-command]')) {
	b.addEventListener('click', () => post({ type: 'command', command: b.dataset.command as PanelCommand }));
}

/**
 * submit sends the prompt box's message; while a reply streams the
 * extension queues it, and it goes when the reply ends. Either way the
 * transcript follows again, so that the message and its reply are seen.
 */
function submit(): void {
	const text = input.value;
	if (!text.trim()) {
		return;
	}
	input.value = '';
	vscode.setState({ draft: '' });
	follow = true;
	toEnd();
	post({ type: 'send', text });
}

function atEnd(): boolean {
	return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
}

/** toEnd scrolls the transcript to its end. */
function toEnd(): void {
	scrolling = true;
	latestButton.hidden = true;
	transcript.scrollTop = transcript.scrollHeight;
	// The scroll event of this change comes after this task.
	requestAnimationFrame(() => {
		scrolling = false;
	});
}

/** showQueue lists the messages waiting for the streaming reply to end, each with a button that takes it back. */
function showQueue(texts: string[]): void {
	queueBox.hidden = texts.length === 0;
	const head = document.createElement('div');
	head.className = 'queue-head';
	head.textContent = texts.length === 1 ? 'Queued: sent when this reply ends' : `${texts.length} queued: sent one by one when this reply ends`;
	const rows = texts.map((text, index) => {
		const row = document.createElement('div');
		row.className = 'queued';
		const t = document.createElement('span');
		t.className = 'queued-text';
		t.textContent = text;
		const remove = document.createElement('button');
		remove.type = 'button';
		remove.className = 'link';
		remove.textContent = 'Edit';
		remove.title = 'Take this message out of the queue, back into the prompt box';
		remove.addEventListener('click', () => post({ type: 'unqueue', index }));
		row.append(t, remove);
		return row;
	});
	queueBox.replaceChildren(head, ...rows);
}

window.addEventListener('message', (e: MessageEvent<ToWebview>) => {
	const msg = e.data;
	switch (msg.type) {
		case 'reset':
			items.clear();
			transcript.replaceChildren();
			title.textContent = msg.title;
			model.textContent = msg.model;
			remoteImages = msg.remoteImages;
			for (const item of msg.items) {
				add(item);
			}
			setStreaming(msg.streaming);
			showQueue(msg.queue);
			follow = true;
			flush();
			return;
		case 'queue':
			showQueue(msg.texts);
			return;
		case 'add':
			add(msg.item);
			// A message sent (from here, a command or the queue) is seen, and so is its reply.
			if (msg.item.role === 'user') {
				follow = true;
			}
			flush();
			return;
		case 'append': {
			const entry = items.get(msg.id);
			if (entry) {
				if (msg.part === 'reasoning') {
					entry.item.reasoning = (entry.item.reasoning ?? '') + msg.text;
				} else {
					entry.item.text += msg.text;
				}
				entry.dirty = true;
				schedule();
			}
			return;
		}
		case 'update': {
			const entry = items.get(msg.item.id);
			if (entry) {
				entry.item = msg.item;
				entry.dirty = true;
				flush();
			}
			return;
		}
		case 'streaming':
			setStreaming(msg.streaming);
			return;
		case 'title':
			title.textContent = msg.title;
			return;
		case 'model':
			model.textContent = msg.label;
			return;
		case 'restorePrompt':
			// Ahead of what the user has typed since, which stays.
			input.value = input.value.trim() ? `${msg.text}\n\n${input.value}` : msg.text;
			vscode.setState({ draft: input.value });
			focusInput();
			return;
		case 'focus':
			input.focus();
			return;
	}
});

function setStreaming(on: boolean): void {
	streaming = on;
	sendButton.hidden = on;
	stopButton.hidden = !on;
	document.body.classList.toggle('streaming', on);
	input.placeholder = on ? 'tinychat is replying: Enter queues your message until the reply ends (Escape stops it)' : idlePlaceholder;
	if (!on) {
		focusInput();
	}
}

/** focusInput puts the cursor in the prompt box, unless the user is elsewhere: taking focus would close their quick pick. */
function focusInput(): void {
	if (document.hasFocus()) {
		input.focus();
	}
}

function add(item: Item): void {
	const el = document.createElement('article');
	transcript.querySelector('.empty')?.remove();
	transcript.append(el);
	items.set(item.id, { item, el, dirty: true });
}

/** schedule draws the changed items at the next frame: many deltas, one render. */
function schedule(): void {
	if (!frame) {
		frame = requestAnimationFrame(flush);
	}
}

function flush(): void {
	if (frame) {
		cancelAnimationFrame(frame);
		frame = 0;
	}
	for (const entry of items.values()) {
		if (entry.dirty) {
			draw(entry);
			entry.dirty = false;
		}
	}
	if (items.size === 0 && !transcript.querySelector('.empty')) {
		const empty = document.createElement('p');
		empty.className = 'empty';
		empty.textContent = 'Ask anything. Replies stream here, and the session is shared with every editor that uses tinychat in this folder.';
		transcript.append(empty);
	}
	if (follow) {
		toEnd();
	} else {
		latestButton.hidden = atEnd();
	}
}

function draw(entry: Entry): void {
	const { el, item } = entry;
	/** Only reasoning has arrived so far: the answer has not started. */
	const reasoningNow = !!item.streaming && !!item.reasoning && !item.text && !item.tools?.length && !item.asks?.length;
	el.className = `message ${item.role}`;
	el.classList.toggle('streaming', !!item.streaming);
	el.classList.toggle('reasoning-streaming', reasoningNow);
	el.classList.toggle('interrupted', !!item.interrupted);
	el.classList.toggle('stopped', !!item.stopped);
	el.dataset.role = item.role;

	const head = document.createElement('div');
	head.className = 'who';
	head.textContent = item.role === 'user' ? 'You' : item.role === 'error' ? 'Error' : 'tinychat';
	if (item.meta) {
		const meta = document.createElement('span');
		meta.className = 'meta';
		meta.textContent = item.meta;
		head.append(meta);
	}
	if (item.usage) {
		const usage = document.createElement('span');
		usage.className = 'usage';
		usage.textContent = `${item.usage.inputTokens.toLocaleString('en-US')} in · ${item.usage.outputTokens.toLocaleString('en-US')} out`;
		usage.title = 'Tokens: read by the model (the whole conversation), written in this reply';
		head.append(usage);
	}

	const body = document.createElement('div');
	body.className = 'body';
	if (item.role === 'assistant') {
		body.classList.add('markdown');
		reply(entry, body);
	} else {
		body.textContent = item.text;
	}

	const parts: HTMLElement[] = [head];
	if (item.context?.length) {
		const ctx = document.createElement('div');
		ctx.className = 'context';
		for (const label of item.context) {
			const chip = document.createElement('span');
			chip.className = 'chip';
			chip.textContent = label;
			ctx.append(chip);
		}
		parts.push(ctx);
	}
	if (item.role === 'assistant' && item.reasoning) {
		parts.push(thinking(entry, reasoningNow));
	}
	parts.push(body);
	if (item.streaming && item.progress) {
		const progress = document.createElement('div');
		progress.className = 'progress';
		progress.textContent = item.progress;
		parts.push(progress);
	}
	if (item.stopped) {
		const note = document.createElement('div');
		note.className = 'note stop';
		note.dataset.stop = item.stopped;
		note.textContent = stopNotes[item.stopped];
		parts.push(note);
	}
	if (item.interrupted) {
		const note = document.createElement('div');
		note.className = 'note';
		note.textContent = 'Interrupted: this reply was cut short.';
		parts.push(note);
	}
	for (const text of item.notes ?? []) {
		const note = document.createElement('div');
		note.className = 'note warn';
		note.textContent = text;
		parts.push(note);
	}
	el.replaceChildren(...parts);
}

const stopNotes: Record<NonNullable<Item['stopped']>, string> = {
	refusal: 'The model declined to answer.',
	content_filter: "Stopped by the provider's content filter.",
	max_tool_steps: 'Stopped at the limit of tool steps: the tools the model called last were not run.',
	max_size: "Stopped at the size limit of a reply (the daemon's max_reply_bytes): the rest was not asked for.",
};

/**
 * reply fills body with a reply's answer: its text as Markdown, cut where
 * the reply made each tool call, with the call's block there (the pieces
 * after a call lose the spaces that joined them), and the approval card of
 * each call waiting for the user in place of its block, or at the end when
 * the call's first notification has not come yet.
 */
function reply(entry: Entry, body: HTMLElement): void {
	const { item } = entry;
	const tools = item.tools ?? [];
	const asks = item.asks ?? [];
	let at = 0;
	const text = (end: number) => {
		let t = item.text.slice(at, end);
		if (at > 0 || body.childElementCount > 0) {
			t = t.replace(/^[ \r\n]+/, '');
		}
		if (t.trim()) {
			const tpl = document.createElement('template');
			tpl.innerHTML = renderMarkdown(t, { remoteImages });
			body.append(tpl.content);
		}
		at = end;
	};
	for (const call of tools) {
		text(Math.min(Math.max(call.offset, at), item.text.length));
		const ask = asks.find((a) => a.toolCallId === call.id);
		body.append(ask ? approval(ask) : toolBlock(entry, call));
	}
	text(item.text.length);
	for (const ask of asks) {
		if (!tools.some((t) => t.id === ask.toolCallId)) {
			body.append(approval(ask));
		}
	}
}

/** toolName is a call's tool, with its MCP server if it has one. */
function toolName(call: { name: string; server?: string }): HTMLElement {
	const name = document.createElement('span');
	name.className = 'tool-name';
	name.textContent = call.name;
	if (call.server) {
		const server = document.createElement('span');
		server.className = 'tool-server';
		server.textContent = call.server;
		name.append(' ', server);
	}
	return name;
}

/** pre is a block of untrusted text. */
function pre(className: string, text: string): HTMLElement {
	const el = document.createElement('pre');
	el.className = className;
	el.textContent = text;
	return el;
}

function label(text: string): HTMLElement {
	const el = document.createElement('div');
	el.className = 'tool-label';
	el.textContent = text;
	return el;
}

/**
 * toolBlock is a tool call, collapsed unless the user opened it: its name
 * and status, then its arguments and (once done) its output. A call still
 * pending or running in a reply that has ended was not run to its end.
 */
function toolBlock(entry: Entry, call: ToolView): HTMLElement {
	const details = document.createElement('details');
	details.className = 'tool';
	details.dataset.status = call.status;
	details.dataset.toolCallId = call.id;
	details.open = entry.toolOpen?.get(call.id) ?? false;
	const cut = !entry.item.streaming && (call.status === 'pending' || call.status === 'running');
	const summary = document.createElement('summary');
	const status = document.createElement('span');
	status.className = 'tool-status';
	status.textContent = cut ? 'not run' : call.status;
	summary.append(toolName(call), status);
	summary.addEventListener('click', () => {
		(entry.toolOpen ??= new Map()).set(call.id, !details.open);
	});
	details.append(summary, label('Arguments'), pre('tool-args', prettyArguments(call.arguments)));
	if (call.output !== undefined) {
		details.append(label('Output'), pre('tool-output', call.output));
	}
	return details;
}

const buttons: { outcome: PermissionOption; text: string; title: string; primary?: boolean }[] = [
	{ outcome: 'allow_once', text: 'Allow once', title: 'Run this call', primary: true },
	{ outcome: 'allow_always', text: 'Always allow', title: 'Run this call, and later calls of this tool in this workspace without asking (tinychat remembers it for every editor)' },
	{ outcome: 'reject_once', text: 'Reject', title: 'Do not run this call: the model is told you declined' },
	{ outcome: 'reject_always', text: 'Always reject', title: 'Never run this tool in this workspace (tinychat remembers it for every editor)' },
];

/** approval is the card that asks whether a tool call may run; a click answers. */
function approval(ask: Ask): HTMLElement {
	const card = document.createElement('div');
	card.className = 'approval';
	card.setAttribute('role', 'group');
	card.setAttribute('aria-label', `Allow the tool ${ask.name} to run?`);
	card.dataset.ask = ask.id;
	card.dataset.toolCallId = ask.toolCallId;
	const head = document.createElement('div');
	head.className = 'approval-title';
	head.append('Run the tool ', toolName(ask), '?');
	const row = document.createElement('div');
	row.className = 'approval-buttons';
	for (const b of buttons) {
		const button = document.createElement('button');
		button.type = 'button';
		button.textContent = b.text;
		button.title = b.title;
		button.dataset.outcome = b.outcome;
		button.classList.toggle('secondary', !b.primary);
		button.disabled = answered.has(ask.id);
		button.addEventListener('click', () => {
			if (answered.has(ask.id)) {
				return;
			}
			answered.add(ask.id);
			for (const other of row.querySelectorAll('button')) {
				other.disabled = true;
			}
			post({ type: 'permission', ask: ask.id, outcome: b.outcome });
		});
		row.append(button);
	}
	card.append(head, label('Arguments'), pre('tool-args', prettyArguments(ask.arguments)), row);
	return card;
}

/**
 * thinking is a reply's reasoning, in a block of its own above the answer:
 * open while the reasoning streams, closed once the answer starts (and in
 * replies already done), unless the user opened or closed it.
 */
function thinking(entry: Entry, reasoningNow: boolean): HTMLElement {
	const details = document.createElement('details');
	details.className = 'thinking';
	details.open = entry.thinkingOpen ?? reasoningNow;
	const summary = document.createElement('summary');
	summary.textContent = 'Thinking';
	// A click (or Enter, or Space) on the summary is the user's; the block
	// is drawn again with each delta, so their choice is kept in the entry.
	summary.addEventListener('click', () => {
		entry.thinkingOpen = !details.open;
	});
	const text = document.createElement('div');
	text.className = 'reasoning markdown';
	text.innerHTML = renderMarkdown(entry.item.reasoning ?? '', { remoteImages });
	details.append(summary, text);
	return details;
}

flush();
post({ type: 'ready' });
