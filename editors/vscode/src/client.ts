// The daemon: one `tinychat` process per window, spoken to with
// vscode-jsonrpc over its stdio (LSP Content-Length framing). No vscode
// import, so node tests drive it against the real binary.

import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';
import * as rpc from 'vscode-jsonrpc/node';

import type {
	CancelledData,
	Delta,
	ExportFormat,
	InitializationOptions,
	InitializeResult,
	LogMessage,
	Message,
	PermissionOutcome,
	PermissionRequest,
	ProviderInfo,
	RetryNotice,
	SendParams,
	SearchHit,
	SendResult,
	Session,
	ToolCallUpdate,
} from './protocol';

export * from './protocol';
export { CancellationTokenSource, ResponseError, type CancellationToken } from 'vscode-jsonrpc/node';

/** ClientOptions says how to start the daemon and where its output goes. */
export interface ClientOptions {
	/** The daemon binary: a path, or a name looked up on PATH. */
	command: string;
	args?: string[];
	env?: NodeJS.ProcessEnv;
	cwd?: string;
	/** The workspace whose sessions this window uses: a folder URI or an absolute path. */
	workspace?: string;
	/**
	 * Defaults the daemon applies to every chat/send that does not override
	 * them, and `permissions: true` for a client whose sends answer
	 * permission requests (SendOptions.onPermission).
	 */
	initializationOptions?: InitializationOptions;
	/** Receives the daemon's stderr (its log) as it arrives. */
	onLog?: (text: string) => void;
	/** Receives the daemon's window/logMessage notifications: its warnings and errors. */
	onLogMessage?: (msg: LogMessage) => void;
	/** Told when the daemon exits without being asked to; the next call starts a new one. */
	onCrash?: (crash: Crash) => void;
}

/** Crash describes a daemon that exited without being asked to. */
export interface Crash {
	pid: number;
	code: number | null;
	signal: NodeJS.Signals | null;
	/** The last lines the daemon wrote to stderr. */
	stderr: string;
	/** A sentence for the user. */
	message: string;
}

/** DaemonError is a daemon that could not start or exited while a call was waiting on it. */
export class DaemonError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'DaemonError';
	}
}

/** SendOptions are the editor's side of one chat/send. */
export interface SendOptions {
	/** Called for each chat/delta of this reply (the answer), in order. */
	onDelta?: (delta: Delta) => void;
	/** Called for each chat/reasoning of this reply (the model's reasoning, never part of the answer), in order. */
	onReasoning?: (reasoning: Delta) => void;
	/** Called for each chat/toolCall of this reply (a tool call made, or its new status), in order with onDelta. */
	onToolCall?: (call: ToolCallUpdate) => void;
	/** Called for each chat/retry of this reply: its provider request failed before any of it came, and is made again. */
	onRetry?: (retry: RetryNotice) => void;
	/**
	 * Answers the daemon's chat/requestPermission for this reply's tool
	 * calls (the client must declare `initializationOptions.permissions`).
	 * The send stays pending until it answers. token is cancelled when the
	 * daemon no longer waits (the send was cancelled or ended, the daemon
	 * exited); the question is then moot. Without onPermission, or when it
	 * throws or gives something else than an option, the call is refused
	 * ("reject_once"). "cancelled" cancels the turn.
	 */
	onPermission?: (request: PermissionRequest, token: rpc.CancellationToken) => PermissionOutcome | Promise<PermissionOutcome>;
	/** Cancelling it sends $/cancelRequest; the send then rejects with a ResponseError of code -32800. */
	token?: rpc.CancellationToken;
}

/** Where a streaming chat/send's notifications and permission requests go. */
interface Route extends Pick<SendOptions, 'onDelta' | 'onReasoning' | 'onToolCall' | 'onRetry' | 'onPermission'> {
	/** Cancelled when the send has settled: its open permission questions are moot. */
	done: rpc.CancellationTokenSource;
}

const permissionOutcomes: readonly string[] = ['allow_once', 'allow_always', 'reject_once', 'reject_always', 'cancelled'];

const stderrTailSize = 4000;

/** vscode-jsonrpc's own error codes for a connection that broke under a call. */
const brokenConnection = new Set<number>([
	rpc.ErrorCodes.MessageWriteError,
	rpc.ErrorCodes.PendingResponseRejected,
	rpc.ErrorCodes.ConnectionInactive,
]);

/**
 * exitGraceMs is how long a daemon whose connection closed has to exit on
 * its own before it is killed; ended waits longer, so that it reports
 * either exit.
 */
const exitGraceMs = 500;

/** One running daemon process and its connection. */
class Daemon {
	readonly conn: rpc.MessageConnection;
	/** Settles when the process has exited and its pipes are closed. */
	readonly closed: Promise<Crash>;
	/** Rejects once the process is gone, for racing against calls. */
	readonly gone: Promise<never>;
	/** Set while a chat/send is being written: receives its request id. */
	claim?: (id: number | string) => void;
	/** The streaming chat/sends by request id: where their notifications go. */
	readonly routes = new Map<number | string, Route>();
	stopping = false;
	initialized = false;
	private stderrTail = '';

	constructor(
		readonly proc: ChildProcess,
		onLog: ((text: string) => void) | undefined,
		onLogMessage: ((msg: LogMessage) => void) | undefined,
	) {
		const sender: rpc.CancellationSenderStrategy = {
			// vscode-jsonrpc calls this with each request as it is sent: the
			// only place that tells a chat/send's id, which its chat/delta
			// and chat/reasoning notifications carry as requestId.
			enableCancellation: (req) => {
				if (req.method === 'chat/send' && this.claim && req.id !== null) {
					this.claim(req.id);
					this.claim = undefined;
				}
			},
			sendCancellation: (conn, id) => rpc.CancellationSenderStrategy.Message.sendCancellation(conn, id),
			cleanup: (id) => rpc.CancellationSenderStrategy.Message.cleanup(id),
		};
		this.conn = rpc.createMessageConnection(
			new rpc.StreamMessageReader(proc.stdout!),
			new rpc.StreamMessageWriter(proc.stdin!),
			undefined,
			{ cancellationStrategy: { receiver: rpc.CancellationReceiverStrategy.Message, sender } },
		);
		this.conn.onNotification('chat/delta', (d: Delta) => this.routes.get(d.requestId)?.onDelta?.(d));
		this.conn.onNotification('chat/reasoning', (d: Delta) => this.routes.get(d.requestId)?.onReasoning?.(d));
		this.conn.onNotification('chat/toolCall', (c: ToolCallUpdate) => this.routes.get(c.requestId)?.onToolCall?.(c));
		this.conn.onNotification('chat/retry', (r: RetryNotice) => this.routes.get(r.requestId)?.onRetry?.(r));
		// The daemon's one request: may this tool call run?
		this.conn.onRequest('chat/requestPermission', (p: PermissionRequest, token) => this.permission(p, token));
		// The daemon also writes these lines to stderr, which onLog gets.
		this.conn.onNotification('window/logMessage', (m: LogMessage) => onLogMessage?.(m));
		this.conn.onError(() => undefined);
		// A daemon whose connection closed can answer nothing: end it, so
		// that calls waiting on it settle (through gone) and the next call
		// starts a new one. Not at once: a daemon that is exiting on its own
		// (a store it cannot open) closes its stdin first, and its exit
		// status and last stderr line say why, where SIGKILL would not.
		this.conn.onClose(() => {
			setTimeout(() => {
				if (!this.stopping && proc.exitCode === null && proc.signalCode === null) {
					proc.kill('SIGKILL');
				}
			}, exitGraceMs).unref();
		});
		// A write to a daemon that just died must not crash the extension host.
		proc.stdin!.on('error', () => undefined);

		proc.stderr!.setEncoding('utf8');
		proc.stderr!.on('data', (chunk: string) => {
			this.stderrTail = (this.stderrTail + chunk).slice(-stderrTailSize);
			onLog?.(chunk);
		});

		this.closed = new Promise<Crash>((resolve) => {
			let spawnError: Error | undefined;
			proc.on('error', (err) => {
				// Only a process that never started: a failed kill() also lands here.
				if (proc.pid === undefined) {
					spawnError = err;
					resolve(this.crash(null, null, spawnError));
				}
			});
			proc.on('close', (code, signal) => resolve(this.crash(code, signal, spawnError)));
		});
		this.gone = this.closed.then((c) => {
			throw new DaemonError(c.message);
		});
		this.gone.catch(() => undefined);
		// After the calls waiting on this daemon have been told by gone.
		this.closed.then(() => setTimeout(() => this.conn.dispose(), 0));
		this.conn.listen();
	}

	private crash(code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): Crash {
		const stderr = this.stderrTail.trim().split('\n').slice(-10).join('\n');
		let message: string;
		if (spawnError) {
			message = `could not start the tinychat daemon "${this.proc.spawnfile}": ${spawnError.message}`;
		} else {
			const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
			message = `the tinychat daemon (pid ${this.proc.pid}) ${how}`;
			// A daemon that exits on its own says why last.
			const last = signal ? '' : stderr.split('\n').pop();
			if (last) {
				message += `: ${last}`;
			}
		}
		return { pid: this.proc.pid ?? 0, code, signal, stderr, message };
	}

	/**
	 * permission answers a chat/requestPermission through the onPermission
	 * of the send it is for. A question no one can answer, or that became
	 * moot (the send settled), is answered "reject_once".
	 */
	private async permission(p: PermissionRequest, token: rpc.CancellationToken): Promise<{ outcome: PermissionOutcome }> {
		const route = p && this.routes.get(p.requestId);
		if (!route?.onPermission || route.done.token.isCancellationRequested) {
			return { outcome: 'reject_once' };
		}
		const subs: rpc.Disposable[] = [];
		const moot = new Promise<PermissionOutcome>((resolve) => {
			subs.push(route.done.token.onCancellationRequested(() => resolve('reject_once')));
			subs.push(token.onCancellationRequested(() => resolve('reject_once')));
		});
		try {
			const outcome = await Promise.race([Promise.resolve().then(() => route.onPermission!(p, route.done.token)), moot]);
			return { outcome: permissionOutcomes.includes(outcome) ? outcome : 'reject_once' };
		} catch {
			return { outcome: 'reject_once' };
		} finally {
			subs.forEach((s) => s.dispose());
		}
	}

	/** call sends a request and waits for its answer or the daemon's end. */
	call<R>(method: string, params?: object, token?: rpc.CancellationToken): Promise<R> {
		let p: Promise<R>;
		try {
			if (params === undefined) {
				p = this.conn.sendRequest<R>(method);
			} else if (token) {
				p = this.conn.sendRequest<R>(method, params, token);
			} else {
				// Never pass an undefined token: vscode-jsonrpc would send [params, null].
				p = this.conn.sendRequest<R>(method, params);
			}
		} catch {
			// The connection closed: the daemon is exiting, and gone says how.
			return this.gone;
		}
		return Promise.race([p, this.gone]).catch(async (err) => {
			if (err instanceof rpc.ResponseError && brokenConnection.has(err.code)) {
				// vscode-jsonrpc could not write or lost the connection.
				throw await this.ended(err);
			}
			throw err;
		});
	}

	/** notify sends a notification; a failed write is reported as call reports one. */
	async notify(method: string, params: object): Promise<void> {
		try {
			await this.conn.sendNotification(method, params);
		} catch (err) {
			throw await this.ended(err);
		}
	}

	/**
	 * ended is what to report for err, a failure to reach the daemon: the
	 * daemon is exiting, and how it exits (its last stderr line) says more
	 * than a broken pipe, if it does so soon; else err.
	 */
	private async ended(err: unknown): Promise<unknown> {
		const crash = await Promise.race([this.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2 * exitGraceMs).unref())]);
		return crash ? new DaemonError(crash.message) : err;
	}
}

/**
 * Client owns the daemon process: it starts it on first use, restarts it
 * on the next use after a crash (telling onCrash), and stops it cleanly.
 */
export class Client {
	private daemon?: Daemon;
	private starting?: Promise<Daemon>;
	private disposed = false;
	private initResult?: InitializeResult;

	constructor(private readonly opts: ClientOptions) {}

	/** The running daemon's process id, if one runs. */
	get pid(): number | undefined {
		return this.daemon?.proc.pid;
	}

	/** What the running daemon answered to initialize. */
	get serverInfo(): InitializeResult | undefined {
		return this.initResult;
	}

	/** start starts the daemon unless one runs, and initializes it. */
	async start(): Promise<InitializeResult> {
		await this.ready();
		return this.initResult!;
	}

	private ready(): Promise<Daemon> {
		if (this.disposed) {
			return Promise.reject(new DaemonError('the tinychat client was stopped'));
		}
		if (this.daemon) {
			return Promise.resolve(this.daemon);
		}
		if (!this.starting) {
			this.starting = this.launch().finally(() => {
				this.starting = undefined;
			});
		}
		return this.starting;
	}

	private async launch(): Promise<Daemon> {
		const o = this.opts;
		const proc = spawn(o.command, o.args ?? [], {
			cwd: o.cwd,
			env: o.env ?? process.env,
			stdio: ['pipe', 'pipe', 'pipe'],
		});
		const d = new Daemon(proc, o.onLog, o.onLogMessage);
		d.closed.then((crash) => {
			if (this.daemon === d) {
				this.daemon = undefined;
			}
			if (d.initialized && !d.stopping && !this.disposed) {
				o.onCrash?.(crash);
			}
		});
		const ws = o.workspace ? workspaceURI(o.workspace) : null;
		let res: InitializeResult;
		try {
			res = await d.call<InitializeResult>('initialize', {
				processId: process.pid,
				clientInfo: { name: 'tinychat-vscode' },
				rootUri: ws,
				workspaceFolders: ws ? [{ uri: ws, name: path.basename(new URL(ws).pathname) }] : null,
				capabilities: {},
				initializationOptions: o.initializationOptions ?? {},
			});
			// A daemon may answer initialize and then stop (a store it cannot
			// open): this write then fails, and how it exited is the news.
			await d.notify('initialized', {});
		} catch (err) {
			d.stopping = true;
			proc.kill('SIGKILL');
			if (err instanceof DaemonError) {
				throw err;
			}
			throw new DaemonError(`the tinychat daemon did not initialize: ${errorMessage(err)}`);
		}
		d.initialized = true;
		this.initResult = res;
		this.daemon = d;
		return d;
	}

	private async call<R>(method: string, params?: object): Promise<R> {
		const d = await this.ready();
		return d.call<R>(method, params);
	}

	/**
	 * send asks for a reply, streaming its answer to onDelta, its
	 * reasoning to onReasoning and its tool calls to onToolCall, asking
	 * onPermission before a tool runs, and resolves with the whole reply.
	 * It rejects with a ResponseError (code -32800 when cancelled, -32001
	 * when the provider failed) or a DaemonError.
	 */
	async send(params: SendParams, opts: SendOptions = {}): Promise<SendResult> {
		const d = await this.ready();
		let id: number | string | undefined;
		const done = new rpc.CancellationTokenSource();
		d.claim = (reqId) => {
			id = reqId;
			const { onDelta, onReasoning, onToolCall, onRetry, onPermission } = opts;
			d.routes.set(reqId, { onDelta, onReasoning, onToolCall, onRetry, onPermission, done });
		};
		try {
			return await d.call<SendResult>('chat/send', params, opts.token);
		} finally {
			d.claim = undefined;
			if (id !== undefined) {
				d.routes.delete(id);
			}
			done.cancel();
			done.dispose();
		}
	}

	/** cancelSession stops the reply streaming in a session (chat/cancel). */
	async cancelSession(sessionId: string): Promise<void> {
		await this.daemon?.conn.sendNotification('chat/cancel', { sessionId });
	}

	async listSessions(workspace?: string): Promise<Session[]> {
		const res = await this.call<{ sessions: Session[] }>('session/list', { workspace });
		return res.sessions;
	}

	newSession(params: { workspace?: string; title?: string } = {}): Promise<Session> {
		return this.call<Session>('session/new', params);
	}

	getSession(sessionId: string): Promise<{ session: Session; messages: Message[] }> {
		return this.call('session/get', { sessionId });
	}

	/** renameSession gives a session a title (not empty). */
	renameSession(sessionId: string, title: string): Promise<Session> {
		return this.call('session/rename', { sessionId, title });
	}

	/** deleteSession deletes a session and its messages. */
	async deleteSession(sessionId: string): Promise<void> {
		await this.call('session/delete', { sessionId });
	}

	/** searchSessions finds the messages that match query, in workspace (else in every workspace). */
	async searchSessions(query: string, workspace?: string): Promise<SearchHit[]> {
		const res = await this.call<{ hits: SearchHit[] }>('session/search', { query, workspace });
		return res.hits;
	}

	exportSession(params: { sessionId?: string; workspace?: string; format: ExportFormat }): Promise<{ format: ExportFormat; content: string }> {
		return this.call('session/export', params);
	}

	async listProviders(): Promise<ProviderInfo[]> {
		const res = await this.call<{ providers: ProviderInfo[] }>('providers/list', {});
		return res.providers;
	}

	async listModels(provider: string): Promise<string[]> {
		const res = await this.call<{ models: string[] }>('models/list', { provider });
		return res.models;
	}

	/**
	 * stop asks the daemon to shut down (its streaming replies are saved as
	 * interrupted) and kills it if it has not exited within timeoutMs.
	 */
	async stop(timeoutMs = 3000): Promise<void> {
		const d = this.daemon ?? (await this.starting?.catch(() => undefined));
		this.daemon = undefined;
		if (!d) {
			return;
		}
		d.stopping = true;
		const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, timeoutMs, 'timeout').unref());
		try {
			const answered = await Promise.race([d.call('shutdown'), timer]);
			if (answered !== 'timeout') {
				await d.conn.sendNotification('exit');
			}
		} catch {
			// Already gone, or not answering: the kill below settles it.
		}
		if ((await Promise.race([d.closed, timer])) === 'timeout') {
			d.proc.kill('SIGKILL');
			await d.closed;
		}
	}

	/** dispose stops the daemon and refuses further calls. */
	async dispose(): Promise<void> {
		this.disposed = true;
		await this.stop();
	}
}

/** workspaceURI turns an absolute path or a URI into a URI string. */
export function workspaceURI(ws: string): string {
	return /^[a-z][a-z0-9+.-]*:\/\//i.test(ws) ? ws : pathToFileURL(ws).href;
}

/** isCancelled tells whether err is a chat/send answered as cancelled. */
export function isCancelled(err: unknown): err is rpc.ResponseError<CancelledData> {
	return err instanceof rpc.ResponseError && err.code === -32800;
}

/** errorMessage is the sentence to show for an error from the client. */
export function errorMessage(err: unknown): string {
	if (err instanceof Error) {
		return err.message;
	}
	return String(err);
}
