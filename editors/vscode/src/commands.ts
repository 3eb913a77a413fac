// The commands that ask the user something: pick a session, export one,
// choose a model, describe the selection. extension.ts registers them.

import * as path from 'node:path';
import * as vscode from 'vscode';

import { errorMessage, type Client, type ContextItem, type ExportFormat, type Session } from './client';
import { readSettings, updateSetting } from './config';
import type { ChatPanel } from './panel';

type SessionPick = vscode.QuickPickItem & { session: Session };

const renameButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('edit'), tooltip: 'Rename' };
const deleteButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('trash'), tooltip: 'Delete' };

function sessionItems(sessions: Session[], chat: ChatPanel): SessionPick[] {
	return sessions.map((s) => ({
		label: s.title || '(untitled)',
		description: [s.id === chat.sessionId ? 'open' : '', s.current ? 'current' : '', `${s.messageCount} messages`].filter(Boolean).join(' · '),
		detail: `updated ${new Date(s.updatedAt).toLocaleString()}`,
		session: s,
		buttons: [renameButton, deleteButton],
	}));
}

/**
 * pickSession shows the workspace's sessions, newest first, and opens the
 * one chosen; each has buttons to rename or delete it, which leave the
 * list open.
 */
export async function pickSession(client: Client, chat: ChatPanel, workspace: string | undefined): Promise<void> {
	let sessions = await client.listSessions(workspace);
	if (sessions.length === 0) {
		void vscode.window.showInformationMessage('tinychat: this workspace has no sessions yet.');
		return;
	}
	const qp = vscode.window.createQuickPick<SessionPick>();
	qp.title = 'tinychat sessions';
	qp.placeholder = 'Open a session (the buttons rename or delete it)';
	qp.matchOnDetail = true;
	qp.items = sessionItems(sessions, chat);
	const refresh = async () => {
		sessions = await client.listSessions(workspace);
		qp.items = sessionItems(sessions, chat);
	};
	/** Set while a button's input box or dialog is up: the quick pick hides for it, and comes back. */
	let busy = false;
	const picked = await new Promise<Session | undefined>((resolve) => {
		qp.onDidTriggerItemButton(async (e) => {
			busy = true;
			try {
				if (e.button === renameButton) {
					await renameOne(client, chat, e.item.session);
				} else if (e.button === deleteButton) {
					await deleteOne(client, chat, e.item.session);
				}
				await refresh();
			} catch (err) {
				void vscode.window.showErrorMessage(`tinychat: ${errorMessage(err)}`);
			}
			busy = false;
			qp.show();
		});
		qp.onDidAccept(() => {
			resolve(qp.selectedItems[0]?.session);
			qp.hide();
		});
		qp.onDidHide(() => {
			if (!busy) {
				resolve(undefined);
			}
		});
		qp.show();
	});
	qp.dispose();
	if (picked) {
		chat.show();
		await chat.open(picked.id, picked.title);
	}
}

/** renameOne asks for a session's new title and renames it. */
async function renameOne(client: Client, chat: ChatPanel, s: Session): Promise<void> {
	const title = await vscode.window.showInputBox({
		title: 'Rename the tinychat session',
		value: s.title,
		validateInput: (v) => (v.trim() ? undefined : 'A title cannot be empty.'),
	});
	if (title === undefined || title.trim() === s.title) {
		return;
	}
	const renamed = await client.renameSession(s.id, title.trim());
	chat.renamed(renamed.id, renamed.title);
}

/** deleteOne deletes a session once the user confirms. */
async function deleteOne(client: Client, chat: ChatPanel, s: Session): Promise<void> {
	const choice = await vscode.window.showWarningMessage(
		`Delete the tinychat session "${s.title || '(untitled)'}"?`,
		{ modal: true, detail: `Its ${s.messageCount} messages are deleted for every editor; this cannot be undone.` },
		'Delete',
	);
	if (choice !== 'Delete') {
		return;
	}
	await client.deleteSession(s.id);
	chat.deleted(s.id);
}

/** chooseSession is the session the chat shows, else one the user picks. */
async function chooseSession(client: Client, chat: ChatPanel, workspace: string | undefined, verb: string): Promise<Session | undefined> {
	const sessions = await client.listSessions(workspace);
	const open = sessions.find((s) => s.id === chat.sessionId);
	if (open) {
		return open;
	}
	if (sessions.length === 0) {
		void vscode.window.showInformationMessage('tinychat: this workspace has no sessions yet.');
		return undefined;
	}
	const picked = await vscode.window.showQuickPick(sessionItems(sessions, chat).map((i) => ({ ...i, buttons: undefined })), {
		title: `${verb} a tinychat session`,
		matchOnDetail: true,
	});
	return picked?.session;
}

/** renameSession renames the session the chat shows (else one the user picks). */
export async function renameSession(client: Client, chat: ChatPanel, workspace: string | undefined): Promise<void> {
	const s = await chooseSession(client, chat, workspace, 'Rename');
	if (s) {
		await renameOne(client, chat, s);
	}
}

/** deleteSession deletes the session the chat shows (else one the user picks), once confirmed. */
export async function deleteSession(client: Client, chat: ChatPanel, workspace: string | undefined): Promise<void> {
	const s = await chooseSession(client, chat, workspace, 'Delete');
	if (s) {
		await deleteOne(client, chat, s);
	}
}

/**
 * searchSessions asks for a query (words, "a phrase", pre*, OR, NOT: see
 * session/search), lists the matching messages of the workspace's
 * sessions, best first, and opens the session of the one chosen.
 */
export async function searchSessions(client: Client, chat: ChatPanel, workspace: string | undefined): Promise<void> {
	const query = await vscode.window.showInputBox({
		title: 'Search tinychat sessions',
		prompt: 'Words to find in questions and answers: "a phrase", prefix*, a OR b, a NOT b',
		validateInput: (v) => (v.trim() ? undefined : 'Type something to find.'),
	});
	if (!query?.trim()) {
		return;
	}
	const hits = await client.searchSessions(query, workspace);
	if (hits.length === 0) {
		void vscode.window.showInformationMessage(`tinychat: no message in this workspace's sessions matches "${query}".`);
		return;
	}
	const picked = await vscode.window.showQuickPick(
		hits.map((h) => ({
			label: h.snippet.replace(/\s+/g, ' '),
			description: `${h.title || '(untitled)'} · ${h.role === 'user' ? 'you' : 'reply'} · ${new Date(h.createdAt).toLocaleDateString()}`,
			hit: h,
		})),
		{ title: `tinychat: ${hits.length} message${hits.length === 1 ? '' : 's'} match "${query}"`, matchOnDescription: true },
	);
	if (picked) {
		chat.show();
		await chat.open(picked.hit.sessionId, picked.hit.title);
	}
}

const formats: { format: ExportFormat; label: string; ext: string; language: string }[] = [
	{ format: 'markdown', label: 'Markdown', ext: 'md', language: 'markdown' },
	{ format: 'text', label: 'Plain text', ext: 'txt', language: 'plaintext' },
	{ format: 'json', label: 'JSON (can be imported back)', ext: 'json', language: 'json' },
];

/**
 * exportSession exports the panel's session (else the workspace's current
 * one): a format pick, then an untitled document or a file.
 */
export async function exportSession(client: Client, chat: ChatPanel, workspace: string | undefined): Promise<void> {
	const f = await vscode.window.showQuickPick(
		formats.map((x) => ({ ...x, label: x.label })),
		{ title: 'Export the tinychat session', placeHolder: 'Format' },
	);
	if (!f) {
		return;
	}
	const where = await vscode.window.showQuickPick([{ label: 'Open in an editor', save: false }, { label: 'Save to a file…', save: true }], {
		title: `Export as ${f.label}`,
	});
	if (!where) {
		return;
	}
	const res = await client.exportSession(chat.sessionId ? { sessionId: chat.sessionId, format: f.format } : { workspace, format: f.format });
	if (!where.save) {
		const doc = await vscode.workspace.openTextDocument({ content: res.content, language: f.language });
		await vscode.window.showTextDocument(doc, { preview: false });
		return;
	}
	const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
	const name = `tinychat-${new Date().toISOString().slice(0, 10)}.${f.ext}`;
	const target = await vscode.window.showSaveDialog({
		defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
		filters: { [f.label]: [f.ext] },
		title: 'Export the tinychat session',
	});
	if (target) {
		await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(res.content));
		void vscode.window.showInformationMessage(`tinychat: exported to ${path.basename(target.fsPath)}`);
	}
}

/** selectModel picks a provider, then one of its models, and saves both as settings. */
export async function selectModel(client: Client): Promise<void> {
	const settings = readSettings();
	const providers = await client.listProviders();
	const pick = await vscode.window.showQuickPick(
		[
			{ label: 'Default', description: "the daemon's choice: the first configured provider", name: '', defaultModel: '' },
			...providers.map((p) => ({
				label: p.name,
				description: [p.configured ? '' : 'no key', p.defaultModel, p.name === settings.provider ? 'in use' : ''].filter(Boolean).join(' · '),
				name: p.name,
				defaultModel: p.defaultModel,
			})),
		],
		{ title: 'tinychat provider', placeHolder: 'Choose the provider' },
	);
	if (!pick) {
		return;
	}
	let model = '';
	if (pick.name) {
		const chosen = await pickModel(client, pick.name, pick.defaultModel, pick.name === settings.provider ? settings.model : '');
		if (chosen === undefined) {
			return;
		}
		model = chosen;
	}
	await updateSetting('provider', pick.name);
	await updateSetting('model', model);
}

/** pickModel offers the provider's own model list, or a free entry when the provider cannot list them. */
async function pickModel(client: Client, provider: string, defaultModel: string, current: string): Promise<string | undefined> {
	let models: string[] = [];
	let failure = '';
	try {
		models = await client.listModels(provider);
	} catch (err) {
		failure = errorMessage(err);
	}
	if (models.length === 0) {
		return vscode.window.showInputBox({
			title: `tinychat model for ${provider}`,
			prompt: failure ? `Could not list the models (${failure}). Type a model name, or leave it empty for the default.` : 'Type a model name, or leave it empty for the default.',
			value: current || defaultModel,
		});
	}
	const picked = await vscode.window.showQuickPick(
		[
			{ label: 'Default', description: defaultModel, model: '' },
			...models.map((m) => ({ label: m, description: m === current ? 'in use' : '', model: m })),
		],
		{ title: `tinychat model for ${provider}`, placeHolder: 'Choose the model', matchOnDescription: true },
	);
	return picked?.model;
}

/**
 * selectionContext is the active editor's selection as a chat/send context
 * item; with nothing selected, the whole file.
 */
export function selectionContext(editor: vscode.TextEditor): ContextItem {
	const doc = editor.document;
	const sel = editor.selection;
	const range = sel.isEmpty ? new vscode.Range(0, 0, doc.lineCount, 0) : sel;
	const r = doc.validateRange(range);
	return {
		uri: doc.uri.toString(),
		text: doc.getText(r),
		languageId: doc.languageId,
		range: { start: { line: r.start.line, character: r.start.character }, end: { line: r.end.line, character: r.end.character } },
	};
}
