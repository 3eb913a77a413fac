// Test fixtures: the real daemon binary built from this repo, the fake
// OpenAI-compatible provider, and a client on a throwaway store.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

import { Client, type ClientOptions } from '../src/client';

let built: { tinychat: string; fakeprovider: string } | undefined;

/**
 * binaries returns the daemon and fake provider named by TINYCHAT_BIN and
 * FAKEPROVIDER_BIN (test.sh builds them), else builds them once with go.
 */
export function binaries(): { tinychat: string; fakeprovider: string } {
	if (process.env.TINYCHAT_BIN && process.env.FAKEPROVIDER_BIN) {
		return { tinychat: process.env.TINYCHAT_BIN, fakeprovider: process.env.FAKEPROVIDER_BIN };
	}
	if (!built) {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinychat-bin-'));
		const root = findRepo();
		execFileSync('go', ['build', '-o', path.join(dir, 'tinychat'), '.'], { cwd: root, stdio: 'inherit' });
		execFileSync('go', ['build', '-o', path.join(dir, 'fakeprovider'), './providers/providertest/fakeprovider'], { cwd: root, stdio: 'inherit' });
		built = { tinychat: path.join(dir, 'tinychat'), fakeprovider: path.join(dir, 'fakeprovider') };
		process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
	}
	return built;
}

/** findRepo is the Go module around the working directory (editors/vscode is two levels in). */
function findRepo(): string {
	for (let dir = process.cwd(); dir !== path.dirname(dir); dir = path.dirname(dir)) {
		if (fs.existsSync(path.join(dir, 'go.mod')) && fs.existsSync(path.join(dir, 'providers'))) {
			return dir;
		}
	}
	throw new Error('run the tests inside the tinychat repo, or set TINYCHAT_BIN and FAKEPROVIDER_BIN');
}

/** FakeProvider is the fake OpenAI-compatible server, running. */
export interface FakeProvider {
	/** The value for OPENAI_BASE_URL. */
	baseURL: string;
	stop(): void;
}

/** startFakeProvider starts the fake provider and reads its URL. */
export async function startFakeProvider(args: string[] = []): Promise<FakeProvider> {
	const proc: ChildProcess = spawn(binaries().fakeprovider, args, { stdio: ['pipe', 'pipe', 'inherit'] });
	const lines = readline.createInterface({ input: proc.stdout! });
	const url = await new Promise<string>((resolve, reject) => {
		lines.once('line', resolve);
		proc.once('error', reject);
		proc.once('exit', (code) => reject(new Error(`fakeprovider exited with ${code}`)));
	});
	lines.close();
	return {
		baseURL: `${url}/v1`,
		stop: () => {
			proc.stdin!.end();
			proc.kill();
		},
	};
}

/** Fixture is a client on its own store and workspace, with what it logged. */
export interface Fixture {
	client: Client;
	workspace: string;
	dir: string;
	log: string[];
	crashes: import('../src/client').Crash[];
	dispose(): Promise<void>;
}

/** newFixture starts a client whose daemon uses a fresh store in a temp dir. */
export function newFixture(opts: { env?: NodeJS.ProcessEnv; client?: Partial<ClientOptions> } = {}): Fixture {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinychat-test-'));
	const workspace = path.join(dir, 'workspace');
	fs.mkdirSync(workspace);
	const log: string[] = [];
	const crashes: import('../src/client').Crash[] = [];
	const env: NodeJS.ProcessEnv = { ...process.env, TINYCHAT_DB: path.join(dir, 'tinychat.db'), ...opts.env };
	for (const k of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'ANTHROPIC_API_KEY', 'MISTRAL_API_KEY', 'GEMINI_API_KEY']) {
		if (!opts.env || !(k in opts.env)) {
			delete env[k];
		}
	}
	env.XDG_CONFIG_HOME = path.join(dir, 'config');
	const client = new Client({
		command: binaries().tinychat,
		env,
		cwd: workspace,
		workspace,
		onLog: (text) => log.push(text),
		onCrash: (c) => crashes.push(c),
		...opts.client,
	});
	return {
		client,
		workspace,
		dir,
		log,
		crashes,
		dispose: async () => {
			await client.dispose();
			fs.rmSync(dir, { recursive: true, force: true });
		},
	};
}
