// Wiring: the daemon client, the chat panel, the code-block actions,
// commands, the status bar item and the output channel.

import * as os from 'node:os';
import * as vscode from 'vscode';

import { Client, DaemonError, errorMessage, type Crash } from './client';
import { CodeActions } from './code';
import { deleteSession, exportSession, pickSession, renameSession, searchSessions, selectModel, selectionContext } from './commands';
import { readSettings } from './config';
import { contextLabel } from './context';
import { ChatPanel } from './panel';

let client: Client | undefined;

export function activate(context: vscode.ExtensionContext): void {
	const output = vscode.window.createOutputChannel('tinychat');
	const folder = vscode.workspace.workspaceFolders?.[0];
	const workspace = folder?.uri.toString();

	const reportCrash = (crash: Crash) => {
		output.appendLine(`[tinychat] ${crash.message}`);
		void vscode.window.showWarningMessage(`${crash.message}. It starts again with the next message.`, 'Show Log').then((choice) => {
			if (choice) {
				output.show(true);
			}
		});
	};
	const newClient = () =>
		new Client({
			command: readSettings().path,
			cwd: folder?.uri.scheme === 'file' ? folder.uri.fsPath : os.homedir(),
			workspace,
			// The chat answers chat/requestPermission: an approval card, or tinychat.tools.autoApprove.
			initializationOptions: { permissions: true },
			onLog: (text) => output.append(text),
			onCrash: reportCrash,
		});
	client = newClient();
	const current = () => client!;

	const code = new CodeActions();
	const chat = new ChatPanel(context.extensionUri, current, workspace, code);

	// While a reply streams: what it is doing (waiting for the provider,
	// retrying, thinking, replying, running a tool); a click stops it.
	const status = vscode.window.createStatusBarItem('tinychat.streaming', vscode.StatusBarAlignment.Right, 100);
	status.name = 'tinychat';
	status.command = 'tinychat.cancel';
	chat.onDidChangeProgress((what) => {
		if (what === undefined) {
			status.hide();
			return;
		}
		const retrying = /^retrying/.test(what);
		const text = `${retrying ? '$(sync~spin)' : '$(loading~spin)'} tinychat: ${what.length > 60 ? `${what.slice(0, 59)}…` : what}`;
		if (status.text !== text) {
			status.text = text;
			status.tooltip = `tinychat: ${what}. Click to stop the reply.`;
			status.backgroundColor = retrying ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
		}
		status.show();
	});
	chat.onDidChangeStreaming((on) => {
		void vscode.commands.executeCommand('setContext', 'tinychat.streaming', on);
	});

	const command = (name: string, fn: (...args: unknown[]) => unknown) =>
		vscode.commands.registerCommand(name, async (...args: unknown[]) => {
			try {
				await fn(...args);
			} catch (err) {
				await showError(err);
			}
		});

	context.subscriptions.push(
		output,
		status,
		code,
		chat,
		vscode.window.registerWebviewViewProvider(ChatPanel.viewId, chat),
		vscode.window.registerWebviewPanelSerializer(ChatPanel.viewType, chat),
		command('tinychat.openChat', () => chat.show()),
		command('tinychat.send', async (message?: unknown) => {
			const text = typeof message === 'string' ? message : await vscode.window.showInputBox({ title: 'tinychat', prompt: 'Message to send' });
			if (text?.trim()) {
				chat.show();
				await chat.send(text);
			}
		}),
		command('tinychat.sendSelection', async (message?: unknown) => {
			const editor = vscode.window.activeTextEditor;
			if (!editor) {
				void vscode.window.showInformationMessage('tinychat: open a file to send: its selection, or the whole file when nothing is selected.');
				return;
			}
			const ctx = selectionContext(editor);
			const text =
				typeof message === 'string'
					? message
					: await vscode.window.showInputBox({
							title: editor.selection.isEmpty ? `tinychat: ask about ${contextLabel(ctx)} (the whole file)` : `tinychat: ask about ${contextLabel(ctx)}`,
							placeHolder: 'Explain this code.',
						});
			if (text === undefined) {
				return;
			}
			chat.show();
			await chat.send(text.trim() || 'Explain this code.', [ctx]);
		}),
		command('tinychat.cancel', () => {
			if (!chat.cancel()) {
				void vscode.window.showInformationMessage('tinychat: no reply is streaming.');
			}
		}),
		command('tinychat.newSession', async () => {
			chat.show();
			await chat.newSession();
		}),
		command('tinychat.sessions', () => pickSession(current(), chat, workspace)),
		command('tinychat.searchSessions', () => searchSessions(current(), chat, workspace)),
		command('tinychat.renameSession', () => renameSession(current(), chat, workspace)),
		command('tinychat.deleteSession', () => deleteSession(current(), chat, workspace)),
		command('tinychat.applyChange', () => code.settleActive(true)),
		command('tinychat.discardChange', () => code.settleActive(false)),
		command('tinychat.export', () => exportSession(current(), chat, workspace)),
		command('tinychat.selectModel', () => selectModel(current())),
		vscode.workspace.onDidChangeConfiguration((e) => {
			if (e.affectsConfiguration('tinychat.path')) {
				const old = client;
				client = newClient();
				void old?.dispose();
			}
			if (e.affectsConfiguration('tinychat')) {
				chat.refreshModel();
			}
			if (e.affectsConfiguration('tinychat.showReasoning')) {
				chat.refreshReasoning();
			}
			if (e.affectsConfiguration('tinychat.allowRemoteImages')) {
				chat.refreshImages();
			}
		}),
	);
}

export async function deactivate(): Promise<void> {
	await client?.dispose();
	client = undefined;
}

async function showError(err: unknown): Promise<void> {
	const msg = `tinychat: ${errorMessage(err)}`;
	if (err instanceof DaemonError && /could not start/.test(err.message)) {
		const choice = await vscode.window.showErrorMessage(msg, 'Open Settings');
		if (choice) {
			await vscode.commands.executeCommand('workbench.action.openSettings', 'tinychat.path');
		}
		return;
	}
	await vscode.window.showErrorMessage(msg);
}
