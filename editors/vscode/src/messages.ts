// Messages between the extension (src/panel.ts) and the chat webview
// (media/chat.ts). Types only: both sides import them.

import type { PermissionOption, ToolCallStatus, Usage } from './protocol';

/** ToolView is a tool call of a reply, as the transcript shows it. */
export interface ToolView {
	/** The call's id (the provider's). */
	id: string;
	name: string;
	/** The MCP server, for its tools. */
	server?: string;
	/** JSON as the model wrote it. */
	arguments: string;
	status: ToolCallStatus;
	/** What went back to the model (cut for display), once the call is done. */
	output?: string;
	/** Where the reply made the call: an index into the item's text (UTF-16). */
	offset: number;
}

/** Ask is a question to the user: may this tool call run? */
export interface Ask {
	/** Unique within the panel: the webview answers with it. */
	id: string;
	toolCallId: string;
	name: string;
	server?: string;
	arguments: string;
}

/** Item is one entry of the transcript the webview shows. */
export interface Item {
	/** Unique within the panel. */
	id: string;
	role: 'user' | 'assistant' | 'error';
	/** Markdown for assistant replies, plain text otherwise. */
	text: string;
	/** An assistant reply's reasoning (Markdown), shown apart from its text. */
	reasoning?: string;
	/** Labels of the context sent with a user message ("main.go:10-20"). */
	context?: string[];
	/** Who answered ("openai · gpt-4o-mini"). */
	meta?: string;
	/** The reply is still streaming. */
	streaming?: boolean;
	/** The reply was cut short (cancelled, failed, or the daemon stopped). */
	interrupted?: boolean;
	/** The reply ended because the model declined, the provider's content filter stopped it, it hit the limit of tool steps or the size limit. */
	stopped?: StopNote;
	/** Tokens the reply took, as the provider counted them. */
	usage?: Usage;
	/** What a streaming reply is doing, when it is not streaming text: waiting for the provider, retrying, running a tool. */
	progress?: string;
	/** Sentences under a reply: it was not saved (a full disk), it was too large to pass back whole. */
	notes?: string[];
	/** A reply's tool calls, in the order it made them. */
	tools?: ToolView[];
	/** Permission questions of the reply waiting for the user's answer. */
	asks?: Ask[];
}

/** The stop reasons a reply's note names. */
export type StopNote = 'refusal' | 'content_filter' | 'max_tool_steps' | 'max_size';

/** The commands the panel's header buttons run. */
export type PanelCommand = 'newSession' | 'sessions' | 'searchSessions' | 'renameSession' | 'export' | 'selectModel';

export type ToWebview =
	/** Replace everything: a session was opened, or the webview (re)loaded. */
	| { type: 'reset'; title: string; items: Item[]; streaming: boolean; model: string; remoteImages: boolean; queue: string[] }
	/** The messages waiting for the streaming reply to end, in order. */
	| { type: 'queue'; texts: string[] }
	| { type: 'add'; item: Item }
	/** Text streamed onto the end of an item's text, or of its reasoning. */
	| { type: 'append'; id: string; text: string; part?: 'reasoning' }
	/** An item's final state. */
	| { type: 'update'; item: Item }
	| { type: 'streaming'; streaming: boolean }
	| { type: 'title'; title: string }
	| { type: 'model'; label: string }
	/** Put text back in the prompt box (a message the daemon did not keep). */
	| { type: 'restorePrompt'; text: string }
	| { type: 'focus' };

export type FromWebview =
	| { type: 'ready' }
	| { type: 'send'; text: string }
	| { type: 'cancel' }
	/** Take a queued message back into the prompt box. */
	| { type: 'unqueue'; index: number }
	/** A code block's button: copy, insert at the cursor, or apply as a change shown in a diff. */
	| { type: 'code'; action: 'copy' | 'insert' | 'apply'; code: string; language: string }
	/** The user's answer to a permission question. */
	| { type: 'permission'; ask: string; outcome: PermissionOption }
	| { type: 'command'; command: PanelCommand };
