// End to end in real VS Code. Run by test/e2e.sh, which installs code-server
// and node 24 and sets the environment below.
//
// code-server runs VS Code 1.139's own workbench and extension host with
// the freshly packaged .vsix installed; Playwright drives it in Debian's
// chromium through the command palette and the chat webview (nested
// iframes). The daemon is the binary built from this repo, talking to the
// fake OpenAI-compatible provider. All state lives in a temp folder;
// code-server runs in its own session and process group, killed whole at
// the end.
//
// Environment: CODE_SERVER, NODE24_BIN, CHROMIUM, VSIX, TINYCHAT_BIN,
// FAKEPROVIDER_BIN, E2E_OUT.

import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const env = (name) => {
	const v = process.env[name];
	if (!v) {
		throw new Error(`e2e: ${name} is not set (run test/e2e.sh)`);
	}
	return v;
};
const CODE_SERVER = env('CODE_SERVER');
const NODE24_BIN = env('NODE24_BIN');
const CHROMIUM = env('CHROMIUM');
const VSIX = env('VSIX');
const TINYCHAT_BIN = env('TINYCHAT_BIN');
const FAKEPROVIDER_BIN = env('FAKEPROVIDER_BIN');
const OUT = env('E2E_OUT');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tinychat-e2e-'));
const dirs = {
	home: path.join(tmp, 'home'),
	userData: path.join(tmp, 'user-data'),
	extensions: path.join(tmp, 'extensions'),
	workspace: path.join(tmp, 'workspace'),
};
for (const d of Object.values(dirs)) {
	fs.mkdirSync(d, { recursive: true });
}
const db = path.join(tmp, 'tinychat.db');

/** Everything code-server and the browser write goes under tmp. */
function sandboxEnv(extra = {}) {
	return {
		...process.env,
		PATH: `${NODE24_BIN}:${process.env.PATH}`,
		HOME: dirs.home,
		XDG_CONFIG_HOME: path.join(dirs.home, '.config'),
		XDG_DATA_HOME: path.join(dirs.home, '.local/share'),
		XDG_CACHE_HOME: path.join(dirs.home, '.cache'),
		...extra,
	};
}

function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

async function waitFor(what, fn, timeoutMs) {
	const end = Date.now() + timeoutMs;
	for (;;) {
		try {
			if (await fn()) {
				return;
			}
		} catch {
			// not yet
		}
		if (Date.now() > end) {
			throw new Error(`e2e: timed out after ${timeoutMs} ms waiting for ${what}`);
		}
		await new Promise((r) => setTimeout(r, 250));
	}
}

let fake;
let codeServer;
let browser;
let page;
let chat;
const started = Date.now();
const log = (msg) => console.log(`# ${((Date.now() - started) / 1000).toFixed(1)}s ${msg}`);

/** killGroup ends code-server and every child of it: it leads its own process group. */
async function killGroup(proc) {
	if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
		try {
			process.kill(-proc.pid, 'SIGKILL');
		} catch {
			// group already gone
		}
		return;
	}
	const exited = new Promise((r) => proc.once('exit', r));
	try {
		process.kill(-proc.pid, 'SIGTERM');
	} catch {
		return;
	}
	const timer = new Promise((r) => setTimeout(r, 5000, 'timeout'));
	if ((await Promise.race([exited, timer])) === 'timeout') {
		log('code-server did not stop on SIGTERM: SIGKILL');
	}
	try {
		process.kill(-proc.pid, 'SIGKILL');
	} catch {
		// all gone
	}
}

/**
 * runCommand runs a command from the command palette. The palette lists
 * what was registered when it opened, so it is opened again until the
 * command shows (the extension's contributions load after the workbench).
 */
async function runCommand(title) {
	const input = page.locator('.quick-input-widget input');
	const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
	const end = Date.now() + 30000;
	for (;;) {
		await page.keyboard.press('Escape');
		await page.keyboard.press('F1');
		await input.waitFor({ state: 'visible', timeout: 10000 });
		await input.fill(`>${title}`);
		try {
			await row.waitFor({ timeout: 2000 });
			break;
		} catch (err) {
			if (Date.now() > end) {
				await screenshot('palette-failed');
				throw err;
			}
		}
	}
	await page.keyboard.press('Enter');
}

/** retry runs fn up to n times, until it does not throw. */
async function retry(n, fn) {
	for (let i = 1; ; i++) {
		try {
			return await fn();
		} catch (err) {
			if (i >= n) {
				throw err;
			}
			console.log(`retrying after: ${String(err.message).split('\n')[0]}`);
			await page.keyboard.press('Escape');
		}
	}
}

/** pick chooses an item of the open quick pick by filtering to it. */
async function pick(label) {
	const input = page.locator('.quick-input-widget input');
	await page.locator('.quick-input-widget .monaco-list-row', { hasText: label }).first().waitFor({ timeout: 10000 });
	await input.fill(label, { timeout: 5000 });
	await page.locator('.quick-input-widget .monaco-list-row.focused', { hasText: label }).waitFor({ timeout: 5000 });
	await page.keyboard.press('Enter');
}

/** daemonPids lists the tinychat daemons running in code-server's process group. */
function daemonPids() {
	const bin = fs.realpathSync(TINYCHAT_BIN);
	const pids = [];
	for (const name of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(name)) {
			continue;
		}
		try {
			const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
			const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
			if (pgrp === codeServer.pid && fs.readlinkSync(`/proc/${name}/exe`) === bin) {
				pids.push(Number(name));
			}
		} catch {
			// gone, or not ours to read
		}
	}
	return pids;
}

async function screenshot(name) {
	const file = path.join(OUT, `${name}.png`);
	await page.screenshot({ path: file });
	log(`screenshot ${path.relative(process.cwd(), file)}`);
}

describe('tinychat in VS Code (code-server)', { timeout: 240000 }, () => {
	before(async () => {
		// The fake OpenAI-compatible provider.
		fake = spawn(FAKEPROVIDER_BIN, ['-pace', '40ms'], { stdio: ['pipe', 'pipe', 'inherit'] });
		const url = await new Promise((resolve, reject) => {
			readline.createInterface({ input: fake.stdout }).once('line', resolve);
			fake.once('error', reject);
		});

		fs.writeFileSync(path.join(dirs.workspace, 'hello.go'), 'package main\n\nfunc main() {\n\tprintln("hello")\n}\n');
		// tinychat.path is a machine setting: in code-server's (remote)
		// window VS Code reads it from the Machine settings, not the User's.
		const machineDir = path.join(dirs.userData, 'Machine');
		fs.mkdirSync(machineDir, { recursive: true });
		fs.writeFileSync(path.join(machineDir, 'settings.json'), JSON.stringify({ 'tinychat.path': TINYCHAT_BIN }, null, 2));
		const userDir = path.join(dirs.userData, 'User');
		fs.mkdirSync(userDir, { recursive: true });
		fs.writeFileSync(
			path.join(userDir, 'settings.json'),
			JSON.stringify(
				{
					'tinychat.provider': 'openai',
					'workbench.colorTheme': 'Default Dark Modern',
					'workbench.startupEditor': 'none',
					'workbench.tips.enabled': false,
					'workbench.secondarySideBar.defaultVisibility': 'hidden',
					'chat.disableAIFeatures': true,
					'security.workspace.trust.enabled': false,
					'telemetry.telemetryLevel': 'off',
					'extensions.autoCheckUpdates': false,
					'extensions.autoUpdate': false,
					'update.mode': 'none',
				},
				null,
				2,
			),
		);

		const port = await freePort();
		const cfg = path.join(tmp, 'code-server.yaml');
		fs.writeFileSync(cfg, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
		const common = ['--config', cfg, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];

		let t = Date.now();
		execFileSync(CODE_SERVER, [...common, '--install-extension', VSIX], { env: sandboxEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
		const installed = fs.readdirSync(dirs.extensions).filter((d) => d.startsWith('tinychat.tinychat-'));
		assert.equal(installed.length, 1, `the .vsix is installed (${fs.readdirSync(dirs.extensions)})`);
		log(`installed ${path.basename(VSIX)} in ${Date.now() - t} ms`);

		const csLog = fs.openSync(path.join(OUT, 'code-server.log'), 'w');
		t = Date.now();
		// detached: the child calls setsid(), so it leads a new session and
		// process group, which killGroup ends whole (its file watcher and
		// extension host included).
		codeServer = spawn(
			CODE_SERVER,
			[...common, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--ignore-last-opened', dirs.workspace],
			{
				detached: true,
				stdio: ['ignore', csLog, csLog],
				env: sandboxEnv({
					TINYCHAT_DB: db,
					OPENAI_API_KEY: 'e2e-test-key',
					OPENAI_BASE_URL: `${url}/v1`,
					TINYCHAT_LOG_LEVEL: 'debug',
				}),
			},
		);
		fs.writeFileSync(path.join(OUT, 'code-server.pgid'), String(codeServer.pid));
		await waitFor('code-server /healthz', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60000);
		log(`code-server up in ${Date.now() - t} ms`);

		browser = await chromium.launch({
			executablePath: CHROMIUM,
			headless: true,
			args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
			env: sandboxEnv(),
		});
		page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
		t = Date.now();
		await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.workspace)}`);
		await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
		log(`workbench loaded in ${Date.now() - t} ms`);
		// The extension's view container in the activity bar: its contributions are in.
		await page.locator('.activitybar [aria-label="tinychat"]').first().waitFor({ timeout: 60000 });
		log(`tinychat contributions loaded after ${Date.now() - t} ms`);
	});

	after(async () => {
		if (page) {
			await page.screenshot({ path: path.join(OUT, 'last.png') }).catch(() => undefined);
		}
		await browser?.close().catch(() => undefined);
		await killGroup(codeServer);
		fs.rmSync(path.join(OUT, 'code-server.pgid'), { force: true });
		fake?.stdin.end();
		fake?.kill();
		const logs = path.join(dirs.userData, 'logs');
		if (fs.existsSync(logs)) {
			fs.cpSync(logs, path.join(OUT, 'vscode-logs'), { recursive: true });
		}
		fs.rmSync(tmp, { recursive: true, force: true });
	});

	it('opens the chat panel with tinychat: Open Chat', async () => {
		await runCommand('tinychat: Open Chat');
		// The webview is two iframes deep: VS Code's host frame, then the page.
		chat = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
		await chat.locator('#input').waitFor({ timeout: 30000 });
		await chat.locator('.empty').waitFor({ timeout: 30000 });
	});

	it('streams a reply to a message sent from the prompt box', async () => {
		await chat.locator('#input').fill('Hello from **VS Code** with `code` words');
		await chat.locator('#input').press('Enter');
		const user = chat.locator('.message.user').last();
		await user.waitFor();
		assert.equal(await user.locator('.body').textContent(), 'Hello from **VS Code** with `code` words');
		const reply = chat.locator('.message.assistant').last();
		await reply.locator('strong', { hasText: 'VS Code' }).waitFor({ timeout: 20000 });
		await chat.locator('#send').waitFor({ state: 'visible', timeout: 20000 });
		await reply.locator('.meta', { hasText: 'openai' }).waitFor({ timeout: 5000 });
		const text = await reply.locator('.body').innerText();
		assert.match(text, /Hello from VS Code with code words/);
		assert.equal(await reply.locator('code').textContent(), 'code');
		assert.equal(await chat.locator('#title').textContent(), 'Hello from **VS Code** with `code` words');
	});

	it('shows HTML in a reply as text, never as markup', async () => {
		const evil = '<b>bold?</b> <img src=x onerror="document.body.dataset.pwned=1"> <script>document.body.dataset.pwned=2</script>';
		await chat.locator('#input').fill(evil);
		await chat.locator('#input').press('Enter');
		// Waiting for .meta alone could find the reply before, already done,
		// if this one's message is not in the panel yet: first its text.
		const reply = chat.locator('.message.assistant').last();
		await reply.locator('.body', { hasText: 'bold?' }).waitFor({ timeout: 20000 });
		await reply.locator('.meta').waitFor({ timeout: 20000 });
		assert.match(await reply.locator('.body').innerText(), /<b>bold\?<\/b> <img src=x/);
		assert.equal(await reply.locator('b, img, script').count(), 0);
		assert.equal(await chat.locator('body').getAttribute('data-pwned'), null);
	});

	it('stops a streaming reply and marks it interrupted', async () => {
		await chat.locator('#input').fill('slow 300');
		await chat.locator('#input').press('Enter');
		const reply = chat.locator('.message.assistant').last();
		await reply.locator('.body', { hasText: 'w4' }).waitFor({ timeout: 20000 });
		// While it streams: a stop button in the panel and an item in the status bar.
		await chat.locator('#stop').waitFor({ state: 'visible', timeout: 5000 });
		assert.equal(await chat.locator('#send').isVisible(), false);
		await page.locator('.statusbar-item', { hasText: 'tinychat: replying' }).waitFor({ timeout: 5000 });
		await screenshot('streaming');
		await chat.locator('#stop').click();
		await reply.locator('.note', { hasText: 'Interrupted' }).waitFor({ timeout: 10000 });
		const text = await reply.locator('.body').innerText();
		assert.ok(!text.includes('w299'), 'the reply was cut short');
		await chat.locator('#send').waitFor({ state: 'visible', timeout: 5000 });
		await page.locator('.statusbar-item', { hasText: 'tinychat: replying' }).waitFor({ state: 'hidden', timeout: 5000 });
	});

	it('stops a streaming reply from the status bar item', async () => {
		await chat.locator('#input').fill('slow 300');
		await chat.locator('#input').press('Enter');
		const reply = chat.locator('.message.assistant').last();
		await reply.locator('.body', { hasText: 'w2' }).waitFor({ timeout: 20000 });
		await page.locator('.statusbar-item', { hasText: 'tinychat: replying' }).click();
		await reply.locator('.note', { hasText: 'Interrupted' }).waitFor({ timeout: 10000 });
		await chat.locator('#send').waitFor({ state: 'visible', timeout: 5000 });
	});

	it("shows the provider's error inline and offers the message again", async () => {
		await chat.locator('#input').fill('error 401 bad key');
		await chat.locator('#input').press('Enter');
		const err = chat.locator('.message.error').last();
		await err.waitFor({ timeout: 20000 });
		assert.equal((await err.locator('.body').textContent()).trim(), 'openai: 401 test_error: bad key');
		await waitFor('the prompt box to get the message back', async () => (await chat.locator('#input').inputValue()) === 'error 401 bad key', 5000);
		await chat.locator('#input').fill('');
		await screenshot('chat');
	});

	it('sends the selection as context with tinychat: Send Selection', async () => {
		await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'hello.go' }).dblclick();
		await page.locator('.monaco-editor .view-lines', { hasText: 'package main' }).first().click();
		await page.keyboard.press('Control+A');
		await runCommand('tinychat: Send Selection');
		const input = page.locator('.quick-input-widget input');
		await input.waitFor({ state: 'visible', timeout: 10000 });
		await input.fill('What does this print?');
		await page.keyboard.press('Enter');
		const user = chat.locator('.message.user').last();
		await user.locator('.body', { hasText: 'What does this print?' }).waitFor({ timeout: 20000 });
		assert.equal(await user.locator('.chip').textContent(), 'hello.go:1-5');
		// The fake provider echoes what it got: the file, quoted, then the question.
		const reply = chat.locator('.message.assistant').last();
		await reply.locator('.body', { hasText: 'println' }).waitFor({ timeout: 20000 });
		await reply.locator('.meta').waitFor({ timeout: 20000 });
		const text = await reply.locator('.body').innerText();
		assert.match(text, /println/);
		assert.match(text, /What does this print\?/);
		await screenshot('selection');
	});

	it('reports a killed daemon and starts a new one with the next message', async () => {
		const [first] = daemonPids();
		assert.ok(first, 'the extension host runs the daemon');
		process.kill(first, 'SIGKILL');
		await page.locator('.notification-toast', { hasText: 'killed by SIGKILL' }).waitFor({ timeout: 15000 });
		await runCommand('Notifications: Clear All Notifications');
		await page.locator('.tab', { hasText: 'tinychat' }).click();
		await chat.locator('#input').fill('still here');
		await chat.locator('#input').press('Enter');
		const reply = chat.locator('.message.assistant').last();
		await reply.locator('.body', { hasText: 'still here' }).waitFor({ timeout: 20000 });
		await chat.locator('#send').waitFor({ state: 'visible', timeout: 10000 });
		const [second] = daemonPids();
		assert.ok(second && second !== first, `a new daemon runs (${first} -> ${second})`);
	});

	it('keeps the conversation in the daemon store', () => {
		const out = execFileSync(TINYCHAT_BIN, ['export', '--format', 'text', '--workspace', dirs.workspace], {
			env: { ...process.env, TINYCHAT_DB: db, XDG_CONFIG_HOME: path.join(tmp, 'config') },
			encoding: 'utf8',
		});
		assert.match(out, /^You: Hello from \*\*VS Code\*\* with `code` words\n\nLLM: Hello from/);
		assert.match(out, /You: slow 300\n\nLLM: w0 w1 w2 w3 w4/);
		assert.doesNotMatch(out, /error 401/, 'a message that got only an error is not kept');
		assert.match(out, /What does this print\?/);
	});

	it('exports the session into an editor with tinychat: Export Session', async () => {
		// A quick pick can lose focus to the workbench on a loaded machine
		// and close; the user would open it again, and so does the test.
		await retry(3, async () => {
			await runCommand('tinychat: Export Session');
			await pick('Markdown');
			await pick('Open in an editor');
		});
		await page.locator('.monaco-editor .view-lines', { hasText: '## You' }).first().waitFor({ timeout: 15000 });
		await screenshot('export');
	});

	it('starts a new session from the panel, then reopens the old one from its history', async () => {
		await page.locator('.tab', { hasText: 'tinychat' }).click();
		// The webview was hidden: it is drawn again from the extension's transcript.
		await chat.locator('.message.assistant').first().waitFor({ timeout: 20000 });
		await chat.locator('button[data-command="newSession"]').click();
		await chat.locator('.empty').waitFor({ timeout: 10000 });
		assert.equal(await chat.locator('#title').textContent(), 'New chat');
		assert.equal(await chat.locator('.message').count(), 0);

		await retry(3, async () => {
			await chat.locator('button[data-command="sessions"]').click();
			await pick('Hello from');
		});
		await chat.locator('.message.user', { hasText: 'slow 300' }).first().waitFor({ timeout: 10000 });
		assert.equal(await chat.locator('.message.assistant.interrupted').count(), 2);
		assert.equal(await chat.locator('.message.user .chip').textContent(), 'hello.go:1-5');
		await screenshot('history');
	});

	it('shows the same transcript in the sidebar view', async () => {
		await page.locator('.activitybar [aria-label="tinychat"]').first().click();
		const frames = page.locator('iframe.webview.ready');
		await waitFor('the sidebar webview', async () => (await frames.count()) === 2, 20000);
		for (const i of [0, 1]) {
			const view = frames.nth(i).contentFrame().frameLocator('#active-frame');
			await view.locator('.message.user', { hasText: 'still here' }).waitFor({ timeout: 20000 });
		}
		await screenshot('sidebar');
	});
});
