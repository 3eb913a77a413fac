// The extension's settings (package.json "contributes.configuration").

import * as vscode from 'vscode';

import type { ChatDefaults } from './client';

/** Settings are the tinychat.* settings as the extension uses them. */
export interface Settings {
	/** The daemon binary: a path, or a name looked up on PATH. */
	path: string;
	provider: string;
	model: string;
	temperature: number | null;
	system: string;
	/** Show a reply's reasoning in the chat. */
	showReasoning: boolean;
	/** Let replies load images from the network. */
	allowRemoteImages: boolean;
	/** Tools (names, `*` globs) allowed to run without asking. */
	autoApprove: string[];
}

export function readSettings(): Settings {
	const c = vscode.workspace.getConfiguration('tinychat');
	return {
		path: c.get<string>('path')?.trim() || 'tinychat',
		provider: c.get<string>('provider')?.trim() ?? '',
		model: c.get<string>('model')?.trim() ?? '',
		temperature: c.get<number | null>('temperature') ?? null,
		system: c.get<string>('system') ?? '',
		showReasoning: c.get<boolean>('showReasoning') ?? true,
		allowRemoteImages: c.get<boolean>('allowRemoteImages') ?? false,
		autoApprove: (c.get<unknown[]>('tools.autoApprove') ?? []).filter((x): x is string => typeof x === 'string'),
	};
}

/** chatOptions are the chat/send params that the settings name; empty ones are left to the daemon. */
export function chatOptions(s: Settings): ChatDefaults {
	const o: ChatDefaults = {};
	if (s.provider) {
		o.provider = s.provider;
	}
	if (s.model) {
		o.model = s.model;
	}
	if (s.temperature !== null) {
		o.temperature = s.temperature;
	}
	if (s.system) {
		o.system = s.system;
	}
	return o;
}

/** modelLabel is how the panel names the model the settings choose. */
export function modelLabel(s: Settings): string {
	if (!s.provider && !s.model) {
		return 'default model';
	}
	return [s.provider, s.model].filter(Boolean).join(' · ');
}

/**
 * updateSetting writes a setting where it is set now: in the workspace if
 * the workspace sets it, else in the user's settings.
 */
export async function updateSetting(key: string, value: unknown): Promise<void> {
	const c = vscode.workspace.getConfiguration('tinychat');
	const where = c.inspect(key)?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
	await c.update(key, value, where);
}
