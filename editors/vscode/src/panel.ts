// The chat webview: the session's transcript, a prompt box, replies streamed
// as they arrive. One transcript, shown in the editor panel
// (tinychat.openChat), the sidebar view, or both. A message sent while a
// reply streams waits in a queue and goes when the reply ends; New and
// History ask before they stop a streaming reply.

import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

import {
	CancellationTokenSource,
	DaemonError,
	ErrorCode,
	ResponseError,
	errorMessage,
	isCancelled,
	type CancelledData,
	type Client,
	type ContextItem,
	type Message,
	type PermissionOption,
	type PermissionRequest,
	type ProviderErrorData,
	type ToolCallUpdate,
	type TurnData,
} from './client';
import type { CodeActions } from './code';
import { chatOptions, modelLabel, readSettings } from './config';
import { contextLabel } from './context';
import { contentSecurityPolicy } from './csp';
import type { Ask, FromWebview, Item, PanelCommand, ToWebview } from './messages';
import { retryProgress, stoppedBy, storeFullView, truncatedNote, whole } from './reply';
import { autoApproved, clipOutput, storedTool } from './tools';

const panelCommands: readonly PanelCommand[] = ['newSession', 'sessions', 'searchSessions', 'renameSession', 'export', 'selectModel'];
const permissionOptions: readonly PermissionOption[] = ['allow_once', 'allow_always', 'reject_once', 'reject_always'];

/** ChatPanel owns the transcript and every webview that shows it. */
export class ChatPanel implements vscode.WebviewViewProvider, vscode.WebviewPanelSerializer, vscode.Disposable {
	/** The editor panel's view type (also its serializer's). */
	static readonly viewType = 'tinychat.chat';
	/** The sidebar view's id (package.json "views"). */
	static readonly viewId = 'tinychat.chatView';

	private panel?: vscode.WebviewPanel;
	/** Webviews that said they are ready, and so get every change. */
	private readonly ready = new Set<vscode.Webview>();
	/** Webviews that exist (the panel, the sidebar view), ready or not: someone can answer a question while there is one. */
	private readonly attached = new Set<vscode.Webview>();
	/** Permission questions shown in the chat, by Ask id, each with what settles it. */
	private readonly asks = new Map<string, (outcome: PermissionOption) => void>();
	private session?: { id: string; title: string };
	private items: Item[] = [];
	private loading?: Promise<boolean>;
	/** The reply streaming now: what stops it, and what settles when it has ended. */
	private stream?: { cts: CancellationTokenSource; done: Promise<void>; reply?: Item; provider: string };
	/** Messages sent while a reply streams, to send in order once it ends. */
	private queue: { text: string; context?: ContextItem[] }[] = [];
	/** Where each webview is shown, to draw its page again. */
	private readonly where = new Map<vscode.Webview, 'panel' | 'sidebar'>();
	/** Bumped whenever the transcript is replaced, so a late reply does not write into another session. */
	private generation = 0;
	private nextId = 0;
	/** tinychat.showReasoning: whether the webviews get the replies' reasoning. */
	private showReasoning = readSettings().showReasoning;
	/** tinychat.allowRemoteImages: whether replies may load images from the network. */
	private remoteImages = readSettings().allowRemoteImages;
	private readonly streamingChanged = new vscode.EventEmitter<boolean>();
	/** Fires true when a reply starts streaming and false when it ends. */
	readonly onDidChangeStreaming = this.streamingChanged.event;
	private readonly progressChanged = new vscode.EventEmitter<string | undefined>();
	/** Fires with what the streaming reply is doing ("waiting for openai", "replying", "retrying…"), and undefined when it ends. */
	readonly onDidChangeProgress = this.progressChanged.event;

	constructor(
		private readonly extensionUri: vscode.Uri,
		private readonly client: () => Client,
		private readonly workspace: string | undefined,
		private readonly code: CodeActions,
	) {}

	/** show opens the chat panel beside the editor, or reveals it. */
	show(): void {
		if (this.panel) {
			this.panel.reveal(undefined, false);
			this.post({ type: 'focus' });
			return;
		}
		const panel = vscode.window.createWebviewPanel(ChatPanel.viewType, 'tinychat', vscode.ViewColumn.Beside, this.webviewOptions());
		this.adopt(panel);
	}

	/** deserializeWebviewPanel restores the panel after a window reload. */
	async deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
		if (this.panel) {
			panel.dispose();
			return;
		}
		this.adopt(panel);
	}

	/** resolveWebviewView fills the sidebar view. */
	resolveWebviewView(view: vscode.WebviewView): void {
		this.attach(view.webview, view.onDidDispose, 'sidebar');
	}

	private adopt(panel: vscode.WebviewPanel): void {
		this.panel = panel;
		panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'icon.svg');
		panel.onDidDispose(() => {
			if (this.panel === panel) {
				this.panel = undefined;
			}
		});
		this.attach(panel.webview, panel.onDidDispose, 'panel');
	}

	private webviewOptions(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
		return {
			enableScripts: true,
			localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')],
		};
	}

	private attach(webview: vscode.Webview, onDidDispose: vscode.Event<void>, where: 'panel' | 'sidebar'): void {
		webview.options = this.webviewOptions();
		webview.html = this.html(webview, where);
		this.where.set(webview, where);
		const sub = webview.onDidReceiveMessage((msg: FromWebview) => this.receive(webview, msg));
		this.attached.add(webview);
		onDidDispose(() => {
			this.ready.delete(webview);
			this.attached.delete(webview);
			this.where.delete(webview);
			sub.dispose();
			// No chat left to answer in: the tools waiting for an answer do not run.
			if (this.attached.size === 0) {
				this.rejectAsks();
			}
		});
	}

	/** html is the webview's page; in the sidebar the view's title bar has the session actions. */
	private html(webview: vscode.Webview, where: 'panel' | 'sidebar'): string {
		const nonce = randomBytes(16).toString('hex');
		const script = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'chat.js'));
		const style = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'chat.css'));
		const csp = contentSecurityPolicy(webview.cspSource, nonce, this.remoteImages);
		return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>tinychat</title>
</head>
<body class="${where}">
<header class="bar">
	<button type="button" class="title" id="title" data-command="renameSession" title="Rename this session">New chat</button>
	<button type="button" class="link" id="model" data-command="selectModel" title="Choose the provider and model"></button>
	<span class="actions">
		<button type="button" class="icon" data-command="newSession" title="New session">New</button>
		<button type="button" class="icon" data-command="sessions" title="Open a session; rename or delete one">History</button>
		<button type="button" class="icon" data-command="searchSessions" title="Search the messages of this workspace's sessions">Search</button>
		<button type="button" class="icon" data-command="export" title="Export this session">Export</button>
	</span>
</header>
<main id="transcript" role="log" aria-live="polite"></main>
<button type="button" id="latest" hidden title="Scroll to the latest message">↓ Latest</button>
<div id="queue" hidden aria-live="polite"></div>
<form id="prompt">
	<textarea id="input" rows="3" placeholder="Ask tinychat… (Enter sends, Shift+Enter adds a line)" aria-label="Message"></textarea>
	<div class="buttons">
		<button type="submit" id="send">Send</button>
		<button type="button" id="stop" hidden>Stop</button>
	</div>
</form>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
	}

	private async receive(webview: vscode.Webview, msg: FromWebview): Promise<void> {
		switch (msg.type) {
			case 'ready':
				this.ready.add(webview);
				await this.load();
				webview.postMessage(this.snapshot());
				return;
			case 'send':
				if (msg.text.trim()) {
					await this.send(msg.text);
				}
				return;
			case 'cancel':
				this.cancel();
				return;
			case 'unqueue': {
				const [taken] = this.queue.splice(msg.index, 1);
				if (taken) {
					this.postQueue();
					this.post({ type: 'restorePrompt', text: taken.text });
				}
				return;
			}
			case 'code':
				try {
					if (msg.action === 'copy') {
						await this.code.copy(msg.code);
					} else if (msg.action === 'insert') {
						await this.code.insert(msg.code, msg.language);
					} else if (msg.action === 'apply') {
						await this.code.apply(msg.code);
					}
				} catch (err) {
					void vscode.window.showErrorMessage(`tinychat: ${errorMessage(err)}`);
				}
				return;
			case 'permission':
				if (permissionOptions.includes(msg.outcome)) {
					this.asks.get(msg.ask)?.(msg.outcome);
				}
				return;
			case 'command':
				if (panelCommands.includes(msg.command)) {
					await vscode.commands.executeCommand(`tinychat.${msg.command}`);
				}
				return;
		}
	}

	private post(msg: ToWebview): void {
		for (const w of this.ready) {
			void w.postMessage(msg);
		}
	}

	/** shown is an item as the webviews get it: without its reasoning when tinychat.showReasoning is off. */
	private shown(item: Item): Item {
		if (item.reasoning === undefined || this.showReasoning) {
			return item;
		}
		const { reasoning: _, ...rest } = item;
		return rest;
	}

	private snapshot(): ToWebview {
		return {
			type: 'reset',
			title: this.title(),
			items: this.items.map((i) => this.shown(i)),
			streaming: this.stream !== undefined,
			model: modelLabel(readSettings()),
			remoteImages: this.remoteImages,
			queue: this.queue.map((q) => q.text),
		};
	}

	private title(): string {
		return this.session?.title || 'New chat';
	}

	private newItem(item: Omit<Item, 'id'>): Item {
		return { id: `i${++this.nextId}`, ...item };
	}

	/**
	 * load shows the workspace's current session, once; false (with the
	 * error in the transcript) when the daemon could not tell it.
	 */
	private load(): Promise<boolean> {
		this.loading ??= (async () => {
			try {
				const sessions = await this.client().listSessions(this.workspace);
				const current = sessions.find((s) => s.current);
				if (current && !this.session && this.items.length === 0) {
					await this.showSession(current.id);
				}
				return true;
			} catch (err) {
				this.loading = undefined;
				this.addError(this.describe(err));
				return false;
			}
		})();
		return this.loading;
	}

	/** sessionId is the session the panel shows, if it has one yet. */
	get sessionId(): string | undefined {
		return this.session?.id;
	}

	/** refreshModel shows the model the settings now choose. */
	refreshModel(): void {
		this.post({ type: 'model', label: modelLabel(readSettings()) });
	}

	/** refreshReasoning draws the transcript again if tinychat.showReasoning changed, with or without the reasoning. */
	refreshReasoning(): void {
		const show = readSettings().showReasoning;
		if (show !== this.showReasoning) {
			this.showReasoning = show;
			this.post(this.snapshot());
		}
	}

	/** refreshImages draws the webviews again, with a new Content-Security-Policy, if tinychat.allowRemoteImages changed. */
	refreshImages(): void {
		const allow = readSettings().allowRemoteImages;
		if (allow === this.remoteImages) {
			return;
		}
		this.remoteImages = allow;
		for (const [webview, where] of this.where) {
			// The page says ready again, and gets the transcript then.
			this.ready.delete(webview);
			webview.html = this.html(webview, where);
		}
	}

	private postQueue(): void {
		this.post({ type: 'queue', texts: this.queue.map((q) => q.text) });
	}

	/**
	 * send sends a message (with optional context) in the panel's session
	 * and streams the reply into the transcript. While a reply streams,
	 * the message is queued, and sent once that reply (and the messages
	 * queued before it) have ended.
	 */
	async send(text: string, context?: ContextItem[]): Promise<void> {
		if (this.stream) {
			this.queue.push({ text, context });
			this.postQueue();
			return;
		}
		const cts = new CancellationTokenSource();
		let ended!: () => void;
		const provider = readSettings().provider || 'the provider';
		this.stream = { cts, done: new Promise<void>((r) => (ended = r)), provider };
		this.streamingChanged.fire(true);
		this.post({ type: 'streaming', streaming: true });
		this.progress(`waiting for ${provider}`);
		try {
			if (await this.load()) {
				await this.exchange(text, context, cts);
			} else {
				this.post({ type: 'restorePrompt', text });
			}
		} finally {
			this.stream = undefined;
			cts.dispose();
			this.progressChanged.fire(undefined);
			this.streamingChanged.fire(false);
			this.post({ type: 'streaming', streaming: false });
			ended();
		}
		const next = this.queue.shift();
		if (next) {
			this.postQueue();
			await this.send(next.text, next.context);
		}
	}

	/**
	 * progress says what the streaming reply is doing, in the status bar
	 * and (but for "replying", which the text streaming in says) under
	 * the reply.
	 */
	private progress(what: string): void {
		if (!this.stream) {
			return;
		}
		this.progressChanged.fire(what);
		const reply = this.stream.reply;
		const shown = what === 'replying' ? undefined : `${what[0].toUpperCase()}${what.slice(1)}…`;
		if (reply && reply.progress !== shown) {
			reply.progress = shown;
			this.post({ type: 'update', item: this.shown(reply) });
		}
	}

	private async exchange(text: string, context: ContextItem[] | undefined, cts: CancellationTokenSource): Promise<void> {
		const gen = this.generation;
		const user = this.newItem({ role: 'user', text, context: context?.map(contextLabel) });
		const reply = this.newItem({ role: 'assistant', text: '', streaming: true, progress: `Waiting for ${this.stream?.provider ?? 'the provider'}…` });
		if (this.stream) {
			this.stream.reply = reply;
		}
		this.items.push(user, reply);
		this.post({ type: 'add', item: user });
		this.post({ type: 'add', item: reply });
		const live = () => gen === this.generation;
		const client = this.client();
		try {
			const res = await client.send(
				{ message: text, sessionId: this.session?.id, workspace: this.workspace, context, ...chatOptions(readSettings()) },
				{
					token: cts.token,
					onDelta: (d) => {
						if (!live()) {
							return;
						}
						this.adoptSession(d.sessionId, text);
						// Before the text grows: progress may send the whole item, and the append then adds this delta to it.
						this.progress('replying');
						reply.text += d.text;
						this.post({ type: 'append', id: reply.id, text: d.text });
					},
					onReasoning: (d) => {
						if (!live()) {
							return;
						}
						this.adoptSession(d.sessionId, text);
						this.progress('thinking');
						reply.reasoning = (reply.reasoning ?? '') + d.text;
						if (this.showReasoning) {
							this.post({ type: 'append', id: reply.id, text: d.text, part: 'reasoning' });
						}
					},
					onToolCall: (c) => {
						if (!live()) {
							return;
						}
						this.adoptSession(c.sessionId, text);
						this.toolCall(reply, c);
						this.progress(c.status === 'running' ? `running ${c.name}` : c.status === 'pending' ? `calling ${c.name}` : 'replying');
					},
					onRetry: (r) => {
						if (live()) {
							this.progress(retryProgress(r));
						}
					},
					onPermission: (req, token) => this.askPermission(reply, req, token),
				},
			);
			if (!live()) {
				return;
			}
			this.adoptSession(res.sessionId, text);
			Object.assign(reply, {
				text: whole(res.text, reply.text, res.truncated) ?? '',
				reasoning: whole(res.reasoning, reply.reasoning, res.truncated),
				stopped: stoppedBy(res.stopReason),
				meta: `${res.provider} · ${res.model}`,
				usage: res.usage,
				streaming: false,
				progress: undefined,
				notes: res.truncated ? [truncatedNote] : undefined,
			} satisfies Partial<Item>);
			this.post({ type: 'update', item: this.shown(reply) });
			void this.refreshTitle(client, res.sessionId);
		} catch (err) {
			if (!live()) {
				return;
			}
			reply.streaming = false;
			reply.progress = undefined;
			if (isCancelled(err)) {
				const data = err.data as Partial<CancelledData> | undefined;
				if (data?.sessionId) {
					this.adoptSession(data.sessionId, text);
				}
				reply.text = whole(data?.text, reply.text, data?.truncated) ?? '';
				reply.reasoning = whole(data?.reasoning, reply.reasoning, data?.truncated);
				reply.interrupted = true;
				reply.notes = data?.truncated ? [truncatedNote] : undefined;
				this.post({ type: 'update', item: this.shown(reply) });
				return;
			}
			if (err instanceof ResponseError && err.code === ErrorCode.StoreFull) {
				this.storeFull(err, reply, text);
				return;
			}
			const data = err instanceof ResponseError ? (err.data as Partial<ProviderErrorData> | undefined) : undefined;
			reply.text = whole(data?.text, reply.text, data?.truncated) || reply.text;
			reply.reasoning = whole(data?.reasoning, reply.reasoning, data?.truncated) || reply.reasoning;
			// The daemon keeps a reply of which some text or reasoning
			// arrived, unless it says it kept nothing (userMessage).
			if ((reply.text || reply.reasoning) && data?.userMessage === undefined) {
				reply.interrupted = true;
				this.post({ type: 'update', item: this.shown(reply) });
				this.addError(this.describe(err));
			} else {
				this.items.splice(this.items.indexOf(reply), 1);
				this.addError(this.describe(err), reply.id);
			}
			// The daemon keeps no message that got no reply: offer it again.
			if (!reply.text && (data?.userMessage || err instanceof DaemonError)) {
				this.post({ type: 'restorePrompt', text: data?.userMessage ?? text });
			}
		}
	}

	/** storeFull shows a -32006 answer: the store could not take the turn (see storeFullView). */
	private storeFull(err: ResponseError<unknown>, reply: Item, text: string): void {
		const data = err.data as TurnData | undefined;
		const view = storeFullView(err.message, data, reply, text);
		if (!view.kept) {
			this.items.splice(this.items.indexOf(reply), 1);
			this.addError(view.error, reply.id);
			this.post({ type: 'restorePrompt', text: view.restore });
			return;
		}
		if (data?.sessionId) {
			this.adoptSession(data.sessionId, text);
		}
		const { kept: _, ...shown } = view;
		Object.assign(reply, shown);
		this.post({ type: 'update', item: this.shown(reply) });
	}

	/**
	 * toolCall shows a tool call of the streaming reply: a new one where
	 * the reply's text has got to (the reply stopped there to make it), a
	 * known one with its new status and output.
	 */
	private toolCall(reply: Item, c: ToolCallUpdate): void {
		reply.tools ??= [];
		let call = reply.tools.find((t) => t.id === c.toolCallId);
		if (!call) {
			call = { id: c.toolCallId, name: c.name, server: c.server || undefined, arguments: c.arguments, status: c.status, offset: reply.text.length };
			reply.tools.push(call);
		}
		call.status = c.status;
		if (c.output !== undefined) {
			call.output = clipOutput(c.output);
		}
		this.post({ type: 'update', item: this.shown(reply) });
	}

	/**
	 * askPermission answers the daemon's question about a tool call of
	 * reply: at once for a tool of tinychat.tools.autoApprove, else with
	 * the button the user clicks on the approval card it shows in the
	 * chat. A chat closed before the answer (no panel, no sidebar view)
	 * refuses the call; a question that became moot (token: the reply was
	 * stopped) takes its card away.
	 */
	private askPermission(reply: Item, req: PermissionRequest, token: vscode.CancellationToken): Promise<PermissionOption> {
		const call = req.toolCall;
		if (autoApproved(call.name, readSettings().autoApprove)) {
			return Promise.resolve('allow_once');
		}
		if (this.attached.size === 0) {
			return Promise.resolve('reject_once');
		}
		const ask: Ask = { id: `a${++this.nextId}`, toolCallId: call.toolCallId, name: call.name, server: call.server || undefined, arguments: call.arguments };
		return new Promise<PermissionOption>((resolve) => {
			let sub: vscode.Disposable | undefined;
			const answer = (outcome: PermissionOption) => {
				if (!this.asks.delete(ask.id)) {
					return;
				}
				sub?.dispose();
				reply.asks = reply.asks?.filter((a) => a.id !== ask.id);
				if (!reply.asks?.length) {
					reply.asks = undefined;
				}
				this.post({ type: 'update', item: this.shown(reply) });
				resolve(outcome);
			};
			this.asks.set(ask.id, answer);
			(reply.asks ??= []).push(ask);
			this.post({ type: 'update', item: this.shown(reply) });
			this.progress(`waiting for your answer: may ${call.name} run?`);
			sub = token.onCancellationRequested(() => answer('reject_once'));
		});
	}

	/** rejectAsks refuses every tool call waiting for the user's answer. */
	private rejectAsks(): void {
		for (const answer of [...this.asks.values()]) {
			answer('reject_once');
		}
	}

	/** addError shows an error in the transcript, in place of item `replace` if given. */
	private addError(text: string, replace?: string): void {
		const item = this.newItem({ role: 'error', text });
		if (replace) {
			item.id = replace;
			this.items.push(item);
			this.post({ type: 'update', item });
			return;
		}
		this.items.push(item);
		this.post({ type: 'add', item });
	}

	private describe(err: unknown): string {
		if (err instanceof DaemonError) {
			if (/could not start/.test(err.message)) {
				return `${err.message}. Install tinychat, or set "tinychat.path" to the daemon binary.`;
			}
			return `${err.message}. It starts again with the next message.`;
		}
		return errorMessage(err);
	}

	private adoptSession(id: string, firstMessage: string): void {
		if (this.session?.id === id) {
			return;
		}
		this.session = { id, title: firstMessage.replace(/\s+/g, ' ').trim().slice(0, 60) };
		this.post({ type: 'title', title: this.title() });
	}

	private async refreshTitle(client: Client, id: string): Promise<void> {
		try {
			const s = (await client.listSessions(this.workspace)).find((x) => x.id === id);
			if (s && this.session?.id === id && s.title) {
				this.session.title = s.title;
				this.post({ type: 'title', title: s.title });
			}
		} catch {
			// The title is cosmetic; the next load shows it.
		}
	}

	/** cancel stops the streaming reply; false when none streams. */
	cancel(): boolean {
		if (!this.stream) {
			return false;
		}
		this.stream.cts.cancel();
		return true;
	}

	/**
	 * stopFor asks, while a reply streams, whether to stop it for action
	 * (the button's label) and stops it if so: true when nothing streams
	 * any more. The queued messages go back to the prompt box: they were
	 * meant for this session.
	 */
	private async stopFor(action: string, what: string): Promise<boolean> {
		const stream = this.stream;
		if (!stream) {
			return true;
		}
		const choice = await vscode.window.showWarningMessage(
			'tinychat is still replying.',
			{ modal: true, detail: `${what} stops the reply; the part that has arrived is kept in this session, marked as interrupted.` },
			action,
		);
		if (choice !== action) {
			return false;
		}
		if (this.stream !== stream) {
			return !this.stream;
		}
		const queued = this.queue.splice(0);
		this.postQueue();
		if (queued.length) {
			this.post({ type: 'restorePrompt', text: queued.map((q) => q.text).join('\n\n') });
		}
		stream.cts.cancel();
		await stream.done;
		return true;
	}

	/** newSession starts a new session (and makes it the workspace's current one); while a reply streams, it asks first. */
	async newSession(): Promise<void> {
		if (!(await this.stopFor('Stop and Start New', 'A new session'))) {
			return;
		}
		const s = await this.client().newSession({ workspace: this.workspace });
		this.replace({ id: s.id, title: s.title }, []);
	}

	/** open shows a stored session; the next message continues it. While a reply streams, it asks first. */
	async open(sessionId: string, title?: string): Promise<void> {
		if (sessionId === this.session?.id && this.stream) {
			return;
		}
		if (!(await this.stopFor('Stop and Open', title ? `Opening "${title}"` : 'Opening another session'))) {
			return;
		}
		await this.showSession(sessionId);
	}

	/** renamed shows a session's new title if it is the one shown. */
	renamed(sessionId: string, title: string): void {
		if (this.session?.id === sessionId) {
			this.session.title = title;
			this.post({ type: 'title', title });
		}
	}

	/** deleted empties the chat if it showed the deleted session: the next message starts a new one. */
	deleted(sessionId: string): void {
		if (this.session?.id === sessionId) {
			this.cancel();
			this.generation++;
			this.session = undefined;
			this.items = [];
			this.post(this.snapshot());
		}
	}

	private async showSession(sessionId: string): Promise<void> {
		const { session, messages } = await this.client().getSession(sessionId);
		this.replace({ id: session.id, title: session.title }, messages.map((m) => this.toItem(m)));
	}

	private replace(session: { id: string; title: string }, items: Item[]): void {
		this.generation++;
		this.session = session;
		this.items = items;
		this.post(this.snapshot());
	}

	private toItem(m: Message): Item {
		if (m.role === 'user') {
			return this.newItem({ role: 'user', text: m.content, context: m.context?.map(contextLabel) });
		}
		const meta = [m.provider, m.model].filter(Boolean).join(' · ') || undefined;
		return this.newItem({
			role: 'assistant',
			text: m.content,
			reasoning: m.reasoning || undefined,
			meta,
			usage: m.usage,
			interrupted: m.interrupted || m.stopReason === 'cancelled' || m.stopReason === 'error' || undefined,
			stopped: stoppedBy(m.stopReason),
			tools: m.toolCalls?.length ? m.toolCalls.map((c) => storedTool(m.content, c)) : undefined,
		});
	}

	dispose(): void {
		this.rejectAsks();
		this.cancel();
		this.panel?.dispose();
		this.streamingChanged.dispose();
		this.progressChanged.dispose();
	}
}
