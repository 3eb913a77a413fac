// The daemon's JSON-RPC protocol (docs/protocol.md), as the
// extension uses it. Plain types only: no vscode import, so node tests can
// use them.

/** Error codes the daemon answers with. */
export const ErrorCode = {
	/** The request was cancelled; data is {@link CancelledData}. */
	Cancelled: -32800,
	/** The provider failed; data is {@link ProviderErrorData}. */
	ProviderFailed: -32001,
	/** The provider has no key; data is `{provider, env}`. */
	NotConfigured: -32002,
	/** No such session; data is `{sessionId}`. */
	NoSession: -32004,
	/** The session is already streaming a reply; data is `{sessionId}`. */
	SessionBusy: -32005,
	/** The store could not take a write (a full disk); for chat/send, data is {@link TurnData}. */
	StoreFull: -32006,
	/** Missing or wrong params; data names the field. */
	InvalidParams: -32602,
} as const;

/** Defaults given in `initialize`'s `initializationOptions`. */
export interface ChatDefaults {
	provider?: string;
	model?: string;
	temperature?: number;
	maxTokens?: number;
	system?: string;
}

/** What `initialize` sends as `initializationOptions`: the chat defaults, and whether the client answers permission requests. */
export interface InitializationOptions extends ChatDefaults {
	/**
	 * true: the client answers `chat/requestPermission` before a tool the
	 * daemon's policy leaves to the user runs. Absent: such calls are refused.
	 */
	permissions?: boolean;
	/** Retries of a provider request that failed before any text arrived; 0: none; absent: the daemon's --retries (3). */
	retries?: number;
}

export interface InitializeResult {
	serverInfo: { name: string; version?: string };
	protocolVersion: number;
	capabilities: {
		chat: {
			providers: string[];
			exportFormats: string[];
			cancel: boolean;
			streaming: string;
			/** true: a reply's reasoning comes apart from its answer (chat/reasoning, `reasoning` fields). */
			reasoning?: boolean;
			/** true: models may call tools; the calls come as chat/toolCall notifications. */
			tools?: boolean;
		};
	};
}

export interface Position {
	line: number;
	character: number;
}

export interface Range {
	start: Position;
	end: Position;
}

/** Quoted material sent ahead of a message (a selection, a file). */
export interface ContextItem {
	uri: string;
	text: string;
	languageId?: string;
	range?: Range;
}

export interface SendParams extends ChatDefaults {
	message: string;
	sessionId?: string;
	workspace?: string;
	context?: ContextItem[];
}

export interface Usage {
	inputTokens: number;
	outputTokens: number;
}

/**
 * Why a reply ended, as chat/send answers it. "refusal": the model
 * declined, and its refusal is the reply's text; "content_filter": the
 * provider's filter cut or blocked the reply, whose text may be partial or
 * empty; "max_tool_steps": the model still called tools at the turn's
 * last step, and those calls were not run; "max_size": the reply reached
 * the daemon's max_reply_bytes and the daemon stopped it. Each is a
 * result, not an error: the reply is stored.
 */
export type StopReason = 'end' | 'max_tokens' | 'refusal' | 'content_filter' | 'max_tool_steps' | 'max_size';

/** Why a stored reply ended (session/get): a {@link StopReason}, or how it failed. */
export type StoredStopReason = StopReason | 'cancelled' | 'error';

export interface SendResult {
	sessionId: string;
	messageId: string;
	/** The answer: the chat/delta texts joined. */
	text: string;
	/** The model's reasoning: the chat/reasoning texts joined; absent when there was none. */
	reasoning?: string;
	provider: string;
	model: string;
	stopReason: StopReason;
	usage: Usage;
	/**
	 * true: text and reasoning hold only their starts, cut to fit the
	 * message size limit; the notifications carried all of the reply, and
	 * the store has it.
	 */
	truncated?: boolean;
}

/**
 * The params of a `chat/delta` notification (the answer) and of a
 * `chat/reasoning` one (the model's reasoning). Each has its own seq,
 * from 0; the daemon never mixes one into the other.
 */
export interface Delta {
	requestId: number | string;
	sessionId: string;
	messageId: string;
	seq: number;
	text: string;
}

/** A tool call's status: pending (made, not yet allowed), running, then completed, failed or rejected. */
export type ToolCallStatus = 'pending' | 'running' | 'completed' | 'failed' | 'rejected';

/** A tool call as the model made it. */
export interface ToolCallInfo {
	/** The provider's id of the call. */
	toolCallId: string;
	/** The tool as the model saw it: read_file, list_files, grep, or SERVER__TOOL for an MCP server's. */
	name: string;
	/** The MCP server, for its tools. */
	server?: string;
	/** The arguments: JSON as the model wrote it (not necessarily valid). */
	arguments: string;
}

/** The params of a `chat/toolCall` notification: sent when a call is made and at each change of its status. */
export interface ToolCallUpdate extends ToolCallInfo {
	requestId: number | string;
	sessionId: string;
	messageId: string;
	status: ToolCallStatus;
	/** With the last status: what went back to the model, cut to 2 KiB. */
	output?: string;
}

/** The params of a `chat/retry` notification: a provider request of the reply failed before any of it came, and is made again. */
export interface RetryNotice {
	requestId: number | string;
	sessionId: string;
	messageId: string;
	provider: string;
	/** The attempt that failed, from 1. */
	attempt: number;
	/** Seconds before the next attempt. */
	wait: number;
	/** Why the attempt failed. */
	error: string;
}

/** The answers to a permission request; "cancelled" cancels the turn. */
export type PermissionOption = 'allow_once' | 'allow_always' | 'reject_once' | 'reject_always';
export type PermissionOutcome = PermissionOption | 'cancelled';

/** The params of the daemon's `chat/requestPermission` request. */
export interface PermissionRequest {
	/** The id of the chat/send whose turn wants to run the tool. */
	requestId: number | string;
	sessionId: string;
	toolCall: ToolCallInfo;
	options: PermissionOption[];
}

/** A tool call of a stored reply (session/get). */
export interface StoredToolCall {
	id: string;
	name: string;
	server?: string;
	arguments: string;
	/** "pending" or "running" on a reply cut short. */
	status: ToolCallStatus;
	/** What went back to the model, whole. */
	output?: string;
	/** How many bytes (UTF-8) of the reply's content came before the call: where it was made. */
	textOffset: number;
}

/** The data of a -32800 answer: the reply as far as it got. */
export interface CancelledData {
	sessionId: string;
	messageId: string;
	text: string;
	/** The reasoning as far as it got, when some had arrived. */
	reasoning?: string;
	/** true: text and reasoning hold only their starts (see {@link SendResult.truncated}). */
	truncated?: boolean;
}

/**
 * The data of an error that answers a chat/send that had begun (-32006,
 * -32800, -32001, -32603): the reply as far as it got, or the user's
 * message when nothing arrived and it was not kept.
 */
export interface TurnData {
	sessionId?: string;
	messageId?: string;
	text?: string;
	reasoning?: string;
	/** How the reply ended; for -32006 the reply's own, which may have ended well. */
	stopReason?: StoredStopReason;
	userMessage?: string;
	truncated?: boolean;
}

/** The data of a -32001 answer. */
export interface ProviderErrorData extends TurnData {
	provider: string;
	status: number;
	type: string;
	message: string;
	retryable: boolean;
	retryAfter?: number;
}

export interface Session {
	id: string;
	workspace: string;
	title: string;
	createdAt: string;
	updatedAt: string;
	messageCount: number;
	current: boolean;
}

export interface Message {
	id: string;
	role: 'user' | 'assistant';
	content: string;
	createdAt: string;
	provider?: string;
	model?: string;
	usage?: Usage;
	interrupted?: boolean;
	/** Why an assistant message ended; absent on user messages and on messages stored by older daemons. */
	stopReason?: StoredStopReason;
	/** An assistant message's reasoning, when it had some. */
	reasoning?: string;
	/** An assistant message's tool calls, in order. */
	toolCalls?: StoredToolCall[];
	context?: ContextItem[];
}

/** A message that matched a session/search query. */
export interface SearchHit {
	sessionId: string;
	messageId: string;
	title: string;
	workspace: string;
	role: 'user' | 'assistant';
	createdAt: string;
	/** A dozen words around the match, each match between « and », cuts marked …. */
	snippet: string;
}

/** The params of window/logMessage: a warning (2) or an error (1) the daemon logged. */
export interface LogMessage {
	type: number;
	message: string;
}

export type ExportFormat = 'text' | 'markdown' | 'json';

export interface ProviderInfo {
	name: string;
	configured: boolean;
	defaultModel: string;
	baseUrl: string;
}
