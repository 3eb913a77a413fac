// What a reply's code block can become: the clipboard, text at the
// cursor, or a change to a file shown in VS Code's diff editor first and
// applied only when the user says so.

import * as path from 'node:path';
import * as vscode from 'vscode';

/** The scheme of a proposed change's text, which the diff editor shows on its right. */
export const proposalScheme = 'tinychat-proposal';

/** A change shown in a diff, waiting for Apply or Discard. */
interface Proposal {
	/** The proposal's own document (proposalScheme). */
	uri: vscode.Uri;
	/** The file it changes. */
	target: vscode.Uri;
	/** The part of the file it replaces, and the file's version it was made against. */
	range: vscode.Range;
	version: number;
	/** The code that replaces range. */
	code: string;
	/** The whole file as it would be. */
	text: string;
	/** Its diff has been seen open: once its tab is gone, so is the proposal. */
	shown?: boolean;
}

/**
 * CodeActions copies, inserts and applies code blocks. It remembers the
 * text editor used last: while the chat has the focus VS Code has no
 * active text editor, and that one is where the user was working.
 */
export class CodeActions implements vscode.TextDocumentContentProvider, vscode.Disposable {
	private lastEditor?: vscode.TextEditor;
	private readonly proposals = new Map<string, Proposal>();
	private nextId = 0;
	private readonly subs: vscode.Disposable[];

	constructor() {
		this.lastEditor = vscode.window.activeTextEditor;
		this.subs = [
			vscode.workspace.registerTextDocumentContentProvider(proposalScheme, this),
			vscode.window.onDidChangeActiveTextEditor((e) => {
				if (e && e.document.uri.scheme !== proposalScheme && e.document.uri.scheme !== 'output') {
					this.lastEditor = e;
				}
			}),
			vscode.window.tabGroups.onDidChangeTabs(() => this.forgetClosed()),
		];
	}

	provideTextDocumentContent(uri: vscode.Uri): string {
		return this.proposals.get(uri.toString())?.text ?? '';
	}

	/** editor is the text editor to act in: the one used last if it is still open, else a visible one. */
	private editor(): vscode.TextEditor | undefined {
		const visible = vscode.window.visibleTextEditors.filter((e) => e.document.uri.scheme !== proposalScheme && e.document.uri.scheme !== 'output');
		const last = this.lastEditor;
		if (last && !last.document.isClosed) {
			return visible.find((e) => e.document === last.document) ?? last;
		}
		return visible[0];
	}

	async copy(code: string): Promise<void> {
		await vscode.env.clipboard.writeText(code);
		vscode.window.setStatusBarMessage('$(check) tinychat: code copied', 3000);
	}

	/** insert puts code at the cursor (over the selection) of the editor used last; with none, in a new untitled editor. */
	async insert(code: string, language: string): Promise<void> {
		const editor = this.editor();
		if (!editor) {
			const doc = await vscode.workspace.openTextDocument({ content: code, language: language || undefined });
			await vscode.window.showTextDocument(doc);
			return;
		}
		const shown = await vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn, selection: editor.selection });
		const ok = await shown.edit((b) => {
			for (const sel of shown.selections) {
				b.replace(sel, code);
			}
		});
		if (!ok) {
			throw new Error(`could not insert into ${path.basename(editor.document.uri.path)}`);
		}
	}

	/**
	 * apply shows, in VS Code's diff editor, the editor used last against
	 * the same file with code in place of its selection (the whole file
	 * when nothing is selected), and asks: Apply changes the file (as an
	 * edit the user can undo; saving is theirs), Discard closes the diff.
	 * The diff's title bar has the same two actions.
	 */
	async apply(code: string): Promise<void> {
		const editor = this.editor();
		if (!editor) {
			void vscode.window.showInformationMessage('tinychat: open the file to change first (its selection, or the whole file, is what Apply replaces).');
			return;
		}
		const doc = editor.document;
		const range = editor.selection.isEmpty ? doc.validateRange(new vscode.Range(0, 0, doc.lineCount, 0)) : editor.selection;
		const text = doc.getText(new vscode.Range(doc.positionAt(0), range.start)) + code + doc.getText(new vscode.Range(range.end, doc.positionAt(doc.getText().length)));
		const name = path.basename(doc.uri.path);
		const uri = vscode.Uri.from({ scheme: proposalScheme, path: `/${++this.nextId}/${name}` });
		this.proposals.set(uri.toString(), { uri, target: doc.uri, range, version: doc.version, code, text });
		const what = editor.selection.isEmpty ? name : `${name}:${range.start.line + 1}-${range.end.line + 1}`;
		await vscode.commands.executeCommand('vscode.diff', doc.uri, uri, `${name} ↔ tinychat's change`, { viewColumn: editor.viewColumn, preview: true });
		await this.setContext();
		const choice = await vscode.window.showInformationMessage(`Apply tinychat's change to ${what}?`, 'Apply', 'Discard');
		if (!this.proposals.has(uri.toString())) {
			return; // settled from the diff's title bar, or its tab closed
		}
		if (choice === 'Apply') {
			await this.settle(uri, true);
		} else if (choice === 'Discard') {
			await this.settle(uri, false);
		}
	}

	/** settle applies (or discards) the proposal shown by the active diff, else the latest one. */
	async settleActive(apply: boolean): Promise<void> {
		const active = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
		let uri: vscode.Uri | undefined;
		if (active instanceof vscode.TabInputTextDiff && active.modified.scheme === proposalScheme) {
			uri = active.modified;
		} else {
			uri = [...this.proposals.values()].pop()?.uri;
		}
		if (!uri) {
			void vscode.window.showInformationMessage('tinychat: no change is waiting to be applied.');
			return;
		}
		await this.settle(uri, apply);
	}

	private async settle(uri: vscode.Uri, apply: boolean): Promise<void> {
		const p = this.proposals.get(uri.toString());
		if (!p) {
			return;
		}
		this.proposals.delete(uri.toString());
		await this.closeDiff(uri);
		await this.setContext();
		if (!apply) {
			return;
		}
		const doc = await vscode.workspace.openTextDocument(p.target);
		if (doc.version !== p.version) {
			void vscode.window.showWarningMessage(`tinychat: ${path.basename(p.target.path)} changed since the diff was made; the change was not applied. Apply the code block again.`);
			return;
		}
		const edit = new vscode.WorkspaceEdit();
		edit.replace(p.target, p.range, p.code);
		if (!(await vscode.workspace.applyEdit(edit))) {
			throw new Error(`could not change ${path.basename(p.target.path)}`);
		}
		await vscode.window.showTextDocument(doc, { preview: false });
	}

	private async closeDiff(uri: vscode.Uri): Promise<void> {
		const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === uri.toString());
		if (tabs.length) {
			await vscode.window.tabGroups.close(tabs);
		}
	}

	/** forgetClosed drops the proposals whose diff the user closed. */
	private forgetClosed(): void {
		const open = new Set(
			vscode.window.tabGroups.all.flatMap((g) => g.tabs).flatMap((t) => (t.input instanceof vscode.TabInputTextDiff ? [t.input.modified.toString()] : [])),
		);
		let dropped = false;
		for (const [key, p] of [...this.proposals]) {
			if (open.has(key)) {
				p.shown = true;
			} else if (p.shown) {
				this.proposals.delete(key);
				dropped = true;
			}
		}
		if (dropped) {
			void this.setContext();
		}
	}

	private async setContext(): Promise<void> {
		await vscode.commands.executeCommand('setContext', 'tinychat.hasProposal', this.proposals.size > 0);
	}

	dispose(): void {
		this.subs.forEach((s) => s.dispose());
	}
}
