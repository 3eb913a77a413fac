// The commands that ask the user something: pick a session, export one,
// choose a model, describe the selection. extension.ts registers them.

import * as path from 'node:path';
import * as vscode from 'vscode';

import { errorMessage, type Client, type ContextItem, type ExportFormat, type Session } from './client';
import { readSettings, updateSetting } from './config';
import type { ChatPanel } from './panel';

/** pickSession shows the workspace's sessions, newest first, and opens the one chosen. */
export async function pickSession(client: Client, chat: ChatPanel, workspace: string | undefined): Promise<void> {
	const sessions = await client.listSessions(workspace);
	if (sessions.length === 0) {
		void vscode.window.showInformationMessage('tinychat: this workspace has no sessions yet.');
		return;
	}
	type Pick = vscode.QuickPickItem & { session: Session };
	const items: Pick[] = sessions.map((s) => ({
		label: s.title || '(untitled)',
		description: [s.id === chat.sessionId ? 'open' : '', s.current ? 'current' : '', `${s.messageCount} messages`].filter(Boolean).join(' · '),
		detail: `updated ${new Date(s.updatedAt).toLocaleString()}`,
		session: s,
	}));
	const picked = await vscode.window.showQuickPick(items, { title: 'tinychat sessions', placeHolder: 'Open a session', matchOnDetail: true });
	if (picked) {
		chat.show();
		await chat.open(picked.session.id);
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
