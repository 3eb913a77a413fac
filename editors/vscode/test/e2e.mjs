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
/** The URLs of every request the browser made (webviews included), for the remote image test. */
const requests = [];
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

/**
 * see waits for locator to reach state (visible by default) and fails
 * saying what was expected, rather than with Playwright's bare timeout.
 */
async function see(locator, what, { timeout = 20000, state = 'visible' } = {}) {
	try {
		await locator.waitFor({ state, timeout });
	} catch (err) {
		throw new Error(`e2e: expected ${what} within ${timeout} ms (${String(err.message).split('\n')[0]})`);
	}
}

/** The file the fake provider's `tool {"path": "a.txt"}` has read_file read, with markup to show as text. */
const aTxt = 'the contents of a.txt <b>not bold</b>\n';
const toolMessage = 'tool {"path": "a.txt"}';
const declined = 'The user declined to run this tool call.';

/** The User settings of the run (userSettingsFile), which a test may change. */
const userSettingsFile = path.join(dirs.userData, 'User', 'settings.json');
const userSettings = {
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
	// For a test that types JSON into settings.json as it is.
	'editor.autoClosingBrackets': 'never',
	'editor.autoIndent': 'none',
};

/**
 * parts lists what a reply's answer shows, in order: each text block's
 * text, "[STATUS]" for a tool block, "[approval]" for an approval card.
 */
function parts(reply) {
	return reply
		.locator('.body')
		.evaluate((body) =>
			[...body.children].map((c) => (c.matches('details.tool') ? `[${c.dataset.status}]` : c.matches('.approval') ? '[approval]' : c.textContent.trim())),
		);
}

/**
 * tidy stops a reply left streaming (a tool test that failed with its
 * card still waiting), so that the tests after it start from a quiet chat.
 */
async function tidy() {
	if (await chat.locator('#stop').isVisible()) {
		await chat.locator('#stop').click();
		await chat.locator('#send').waitFor({ timeout: 10000 }).catch(() => undefined);
	}
}

/** daemonCall runs one request in a tinychat daemon of its own on the run's store (as another editor would). */
async function daemonCall(method, params) {
	const proc = spawn(TINYCHAT_BIN, ['--jsonl'], {
		stdio: ['pipe', 'pipe', 'inherit'],
		env: { ...process.env, TINYCHAT_DB: db, XDG_CONFIG_HOME: path.join(tmp, 'config'), TINYCHAT_LOG_LEVEL: 'error' },
	});
	proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })}\n`);
	const lines = readline.createInterface({ input: proc.stdout });
	try {
		for await (const line of lines) {
			const msg = JSON.parse(line);
			if (msg.id === 1) {
				if (msg.error) {
					throw new Error(`e2e: ${method}: ${msg.error.message}`);
				}
				return msg.result;
			}
		}
		throw new Error(`e2e: the daemon ended without answering ${method}`);
	} finally {
		proc.stdin.end();
	}
}

/**
 * ask sends text from the prompt box and returns the reply's element: the
 * assistant message after those already in the panel.
 */
async function ask(text) {
	const before = await chat.locator('.message.assistant').count();
	await chat.locator('#input').fill(text);
	await chat.locator('#input').press('Enter');
	return chat.locator('.message.assistant').nth(before);
}


/**
 * The folder of the code-block screenshots: test-output/e2e/ with the
 * others, or, with E2E_UPDATE_SHOTS=1, test-output/, where they are kept in
 * git (so that a test run does not change the sources).
 */
const SHOTS = process.env.E2E_UPDATE_SHOTS === '1' ? path.dirname(OUT) : OUT;

/** shot saves a screenshot of the code-block actions in SHOTS. */
async function shot(name) {
	const file = path.join(SHOTS, `${name}.png`);
	await page.screenshot({ path: file });
	log(`screenshot ${path.relative(process.cwd(), file)}`);
}

/** squash is an editor's text as its lines show it: white space, tabs and non-breaking spaces alike, as single spaces. */
function squash(text) {
	return text.replace(/[\s\u00a0]+/g, ' ').trim();
}

/** inView tells whether an element of the transcript shows in it, at least in part. */
function inView(locator) {
	return locator.evaluate((el) => {
		const t = el.closest('#transcript').getBoundingClientRect();
		const r = el.getBoundingClientRect();
		return r.bottom > t.top + 1 && r.top < t.bottom - 1;
	});
}

/** atEnd tells whether the transcript is scrolled to its end. */
function atEnd() {
	return chat.locator('#transcript').evaluate((t) => t.scrollHeight - t.scrollTop - t.clientHeight < 2);
}

/** scrollToTop scrolls the transcript up as the user would (the scroll event included). */
function scrollToTop() {
	return chat.locator('#transcript').evaluate((t) => {
		t.scrollTop = 0;
		t.dispatchEvent(new Event('scroll'));
	});
}

/**
 * writeSettings writes the User settings in VS Code's settings.json editor
 * (a modal one, over the chat; VS Code does not see a change made to the
 * file behind its back); the model label in the panel's header shows
 * that they are read.
 */
async function writeSettings(settings, label) {
	await runCommand('Preferences: Open User Settings (JSON)');
	const editor = page.locator('.monaco-editor', { hasText: 'tinychat.provider' }).first();
	await see(editor, 'the User settings.json editor');
	await editor.locator('.view-lines').click();
	await page.keyboard.press('Control+A');
	await page.keyboard.press('Backspace');
	await page.keyboard.insertText(JSON.stringify(settings, null, 2));
	await page.keyboard.press('Control+S');
	await waitFor('settings.json saved as typed', () => JSON.stringify(JSON.parse(fs.readFileSync(userSettingsFile, 'utf8'))) === JSON.stringify(settings), 10000);
	await page.keyboard.press('Escape');
	await see(editor, 'the settings.json editor closed by Escape', { state: 'hidden', timeout: 10000 });
	await see(chat.locator('#model', { hasText: label }), `the panel to read the changed User settings (model label "${label}")`, { timeout: 10000 });
}

describe('tinychat in VS Code (code-server)', { timeout: 600000 }, () => {
	before(async () => {
		// The fake OpenAI-compatible provider.
		fake = spawn(FAKEPROVIDER_BIN, ['-pace', '40ms'], { stdio: ['pipe', 'pipe', 'inherit'] });
		const url = await new Promise((resolve, reject) => {
			readline.createInterface({ input: fake.stdout }).once('line', resolve);
			fake.once('error', reject);
		});

		fs.writeFileSync(path.join(dirs.workspace, 'hello.go'), 'package main\n\nfunc main() {\n\tprintln("hello")\n}\n');
		// The daemon's config file: replies stop at 4 KiB (stopReason max_size), far above what the tests' replies take.
		fs.mkdirSync(path.join(dirs.home, '.config', 'tinychat'), { recursive: true });
		fs.writeFileSync(path.join(dirs.home, '.config', 'tinychat', 'config.toml'), 'max_reply_bytes = 4096\n');
		fs.writeFileSync(path.join(dirs.workspace, 'a.txt'), aTxt);
		// A workspace may not approve tools for the user: this is ignored
		// (tinychat.tools.autoApprove is an application setting).
		fs.mkdirSync(path.join(dirs.workspace, '.vscode'));
		fs.writeFileSync(path.join(dirs.workspace, '.vscode', 'settings.json'), JSON.stringify({ 'tinychat.tools.autoApprove': ['*'] }, null, 2));
		// tinychat.path is a machine setting: in code-server's (remote)
		// window VS Code reads it from the Machine settings, not the User's.
		const machineDir = path.join(dirs.userData, 'Machine');
		fs.mkdirSync(machineDir, { recursive: true });
		fs.writeFileSync(path.join(machineDir, 'settings.json'), JSON.stringify({ 'tinychat.path': TINYCHAT_BIN }, null, 2));
		fs.mkdirSync(path.dirname(userSettingsFile), { recursive: true });
		fs.writeFileSync(userSettingsFile, JSON.stringify(userSettings, null, 2));

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
		await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: `http://127.0.0.1:${port}` });
		page.context().on('request', (r) => requests.push(r.url()));
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
		// The fake provider counts 10 input tokens a message and one output token a delta.
		assert.equal((await reply.locator('.usage').textContent()).trim(), '10 in · 7 out', 'the reply says its usage');
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

	it('brings a message sent while scrolled up into view, and offers a jump to the latest', async () => {
		// A transcript taller than the panel: a reply of 60 paragraphs.
		const tall = await ask(Array.from({ length: 60 }, (_, i) => `paragraph ${i}`).join('\n\n'));
		await see(tall.locator('.meta'), 'the tall reply to finish');
		await scrollToTop();
		assert.equal(await atEnd(), false, 'the transcript is scrolled up');
		const reply = await ask('sent while scrolled up');
		const user = chat.locator('.message.user', { hasText: 'sent while scrolled up' });
		await see(user, 'the message sent while scrolled up');
		await waitFor('the message sent while scrolled up to come into view', () => inView(user), 5000).catch(() =>
			assert.fail('the message sent while scrolled up stays off screen'),
		);
		await see(reply.locator('.meta'), 'its reply to finish');
		assert.ok(await inView(reply), 'its reply is in view too');
		// Scrolled up again: a button jumps to the latest message.
		await scrollToTop();
		const latest = chat.locator('#latest');
		await see(latest, 'the jump-to-latest button once scrolled up', { timeout: 5000 });
		await screenshot('jump-to-latest');
		await latest.click();
		await waitFor('the transcript scrolled to its end by the jump-to-latest button', atEnd, 5000);
		await see(latest, 'the jump-to-latest button gone at the end', { state: 'hidden', timeout: 5000 });
	});

	it('queues a message sent with Enter while a reply streams, and sends it when the reply ends', async () => {
		const first = await ask('slow 80');
		await see(first.locator('.body', { hasText: 'w2' }), 'the slow reply streaming');
		assert.match(await first.locator('.body').textContent(), /^w0 w1 w2/, 'each delta shows once, in order');
		await chat.locator('#input').fill('queued while streaming');
		await chat.locator('#input').press('Enter');
		assert.equal(await chat.locator('#input').inputValue(), '', 'Enter takes the message out of the prompt box');
		const queued = chat.locator('#queue .queued', { hasText: 'queued while streaming' });
		await see(queued, 'the message shown as queued', { timeout: 5000 });
		assert.match(await chat.locator('#queue').textContent(), /sent when this reply ends/);
		assert.equal(await chat.locator('.message.user', { hasText: 'queued while streaming' }).count(), 0, 'not sent while the reply streams');
		// A second one, taken back out of the queue with its Edit button.
		await chat.locator('#input').fill('taken back');
		await chat.locator('#input').press('Enter');
		const second = chat.locator('#queue .queued', { hasText: 'taken back' });
		await see(second, 'the second message queued', { timeout: 5000 });
		await screenshot('queued');
		await second.locator('button', { hasText: 'Edit' }).click();
		await see(second, 'the second message out of the queue', { state: 'detached', timeout: 5000 });
		assert.equal(await chat.locator('#input').inputValue(), 'taken back', 'back in the prompt box');
		await chat.locator('#input').fill('');
		assert.equal(await chat.locator('#queue .queued').count(), 1, 'the first one still queued');
		await see(first.locator('.meta'), 'the slow reply to finish');
		assert.doesNotMatch(await first.textContent(), /queued/);
		await see(chat.locator('.message.user', { hasText: 'queued while streaming' }), 'the queued message sent once the reply ended');
		const reply = chat.locator('.message.assistant').last();
		await see(reply.locator('.body', { hasText: 'queued while streaming' }), 'the reply to the queued message');
		await see(reply.locator('.meta'), 'the reply to the queued message to finish');
		await see(queued, 'the queue emptied', { state: 'detached', timeout: 5000 });
		assert.equal(await chat.locator('.message.user', { hasText: 'taken back' }).count(), 0, 'the message taken back was not sent');
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

	it('says in the status bar and under the reply that the provider request is retried', async () => {
		const progress = chat.locator('.message.assistant.streaming .progress', { hasText: /^Retrying openai \(retry 1/ });
		await chat.locator('#input').fill('error 503 busy');
		await chat.locator('#input').press('Enter');
		await see(page.locator('.statusbar-item', { hasText: 'tinychat: retrying openai' }), 'the status bar saying the request is retried', { timeout: 10000 });
		await see(progress, 'the streaming reply saying it is retried');
		assert.match(await progress.textContent(), /503 test_error: busy/, 'with the error it retries');
		await screenshot('retrying');
		const err = chat.locator('.message.error').last();
		await see(err.locator('.body', { hasText: 'openai: 503 test_error: busy' }), 'the error once the retries are spent', { timeout: 20000 });
		await see(page.locator('.statusbar-item', { hasText: 'tinychat:' }), 'the status bar item gone', { state: 'hidden', timeout: 5000 });
		await waitFor('the prompt box to get the message back', async () => (await chat.locator('#input').inputValue()) === 'error 503 busy', 5000);
		await chat.locator('#input').fill('');
	});

	it('says so under a reply stopped at the size limit (max_size)', async () => {
		const reply = await ask('endless');
		const note = reply.locator('.note.stop[data-stop="max_size"]');
		await see(note, 'the max_size note under the endless reply');
		assert.match((await note.textContent()).trim(), /^Stopped at the size limit of a reply/);
		assert.equal(await reply.locator('.note').count(), 1, 'one note: the size limit, not "interrupted"');
		const size = Buffer.byteLength((await reply.locator('.body').textContent()).trim());
		assert.ok(size > 3000 && size <= 4096, `the reply stops at 4 KiB (max_reply_bytes): ${size} bytes`);
	});

	it("shows a reply's reasoning in a Thinking block above its answer, collapsed once the answer is in", async () => {
		const reply = await ask('think 3');
		await see(reply.locator('.meta', { hasText: 'openai' }), 'the think 3 reply to finish');
		const thinking = reply.locator('details.thinking');
		assert.equal(await thinking.count(), 1, 'the reply has one Thinking block');
		assert.equal((await thinking.locator('summary').textContent()).trim(), 'Thinking');
		assert.equal(await thinking.evaluate((d) => d.open), false, 'the Thinking block is collapsed once the answer is in');
		const order = await reply.evaluate((el) => [...el.children].map((c) => c.classList[0]));
		assert.ok(order.indexOf('thinking') >= 0 && order.indexOf('thinking') < order.indexOf('body'), `the Thinking block is above the answer: ${order}`);
		assert.equal((await reply.locator('.body').textContent()).trim(), 'w0 w1 w2', 'the answer is the answer deltas alone, no reasoning in it');
		assert.equal((await thinking.locator('.reasoning').textContent()).trim(), 't0 t1 t2', 'the Thinking block holds the reasoning');
		assert.equal(await reply.locator('.note').count(), 0, 'a reply that ended normally has no note');
		// It is a working disclosure: a click opens it.
		await thinking.locator('summary').click();
		await see(thinking.locator('.reasoning', { hasText: 't0 t1 t2' }), 'the reasoning shown once Thinking is clicked', { timeout: 5000 });
		await thinking.locator('summary').click();
		await see(thinking.locator('.reasoning'), 'the reasoning hidden again by a second click', { timeout: 5000, state: 'hidden' });
	});

	it('keeps the Thinking block open while the reasoning streams and collapses it when the answer starts', async () => {
		// 40 reasoning deltas, then 40 answer deltas, 40 ms apart.
		const reply = await ask('think 40');
		await see(reply.locator('details.thinking[open] .reasoning', { hasText: 't3' }), 'an open Thinking block while the reasoning streams');
		assert.match(await reply.locator('.reasoning').textContent(), /^t0 t1 t2 t3/, 'each reasoning delta shows once, in order');
		assert.equal((await reply.locator('.body').textContent()).trim(), '', 'no answer while only reasoning has arrived');
		await screenshot('thinking');
		// One state of the page: still streaming, the answer begun, the block closed.
		await see(
			chat.locator('.message.assistant.streaming:has(.body p) details.thinking:not([open])'),
			'the Thinking block collapsed as the answer started, while the answer streams',
		);
		assert.doesNotMatch(await reply.locator('.body').textContent(), /t\d/, 'no reasoning in the answer');
		await see(reply.locator('.meta'), 'the think 40 reply to finish');
		assert.equal(await reply.locator('details.thinking').evaluate((d) => d.open), false, 'the block stays collapsed once the reply is done');
		assert.match((await reply.locator('.body').textContent()).trim(), /^w0 w1 .* w39$/);
	});

	it('says so under a reply the model declined', async () => {
		const errors = await chat.locator('.message.error').count();
		const reply = await ask('refuse');
		await see(reply.locator('.note.stop', { hasText: 'The model declined to answer.' }), 'the note "The model declined to answer." under the refusal');
		assert.equal((await reply.locator('.body').textContent()).trim(), "I'm sorry, I can't help with that.", 'the refusal text is the reply');
		await see(reply.locator('.meta'), 'the refusal to finish');
		assert.equal(await reply.locator('.note').count(), 1, 'one note: the refusal, not "interrupted"');
		assert.equal(await reply.locator('details.thinking').count(), 0, 'no Thinking block for a reply without reasoning');
		assert.equal(await chat.locator('.message.error').count(), errors, 'a refusal is not shown as an error');
	});

	it("says so under a reply the provider's content filter stopped", async () => {
		const reply = await ask('filter');
		await see(reply.locator('.note.stop', { hasText: "Stopped by the provider's content filter." }), "the note \"Stopped by the provider's content filter.\" under the reply");
		assert.equal((await reply.locator('.body').textContent()).trim(), 'Partial', 'the text that arrived is kept');
		assert.equal(await reply.locator('.note').count(), 1, 'one note: the filter, not "interrupted"');
		await screenshot('stop-notes');
	});

	it('asks before a tool runs with an approval card; Allow once runs it, shown where the reply made the call', async () => {
		try {
			const reply = await ask(toolMessage);
			const card = reply.locator('.approval');
			await see(card, 'an approval card for the read_file call (the workspace\'s own tinychat.tools.autoApprove must not skip it)');
			assert.equal((await card.locator('.approval-title').textContent()).trim(), 'Run the tool read_file?', 'the card names the tool');
			assert.equal(await card.locator('.tool-args').textContent(), '{\n  "path": "a.txt"\n}', 'the card shows the arguments, pretty-printed');
			assert.deepEqual(
				await card.locator('button').allTextContents(),
				['Allow once', 'Always allow', 'Reject', 'Always reject'],
				'the card offers the four answers',
			);
			await waitFor('the card after "Reading." (the reply stopped there to call the tool)', async () => JSON.stringify(await parts(reply)) === '["Reading.","[approval]"]', 5000).catch(
				async (err) => assert.fail(`${err.message}: the answer shows ${JSON.stringify(await parts(reply))}`),
			);
			await screenshot('approval');
			// The reply waits for the answer.
			await new Promise((r) => setTimeout(r, 500));
			assert.equal(await chat.locator('#stop').isVisible(), true, 'the reply is still going while the card waits');
			assert.doesNotMatch(await reply.locator('.body').textContent(), /The tool said/, 'the tool does not run before the answer');

			await card.locator('button', { hasText: 'Allow once' }).click();
			await see(reply.locator('.meta'), 'the reply to finish once Allow once is clicked');
			assert.equal(await reply.locator('.approval').count(), 0, 'the card is gone once answered');
			assert.deepEqual(
				await parts(reply),
				['Reading.', '[completed]', 'The tool said: the contents of a.txt <b>not bold</b>'],
				'a completed tool block between "Reading." and the answer, which has the file\'s text',
			);
			assert.equal(await reply.locator('b, img, script').count(), 0, 'the file\'s markup is text');
			const tool = reply.locator('details.tool');
			assert.equal((await tool.locator('summary .tool-name').textContent()).trim(), 'read_file');
			assert.equal((await tool.locator('summary .tool-status').textContent()).trim(), 'completed');
			assert.equal(await tool.evaluate((d) => d.open), false, 'the tool block is collapsed');
			await tool.locator('summary').click();
			await see(tool.locator('.tool-output'), 'the output once the tool block is opened', { timeout: 5000 });
			assert.equal(await tool.locator('.tool-output').textContent(), aTxt, 'the output is the file\'s text, as text');
			assert.equal(await tool.locator('.tool-args').textContent(), '{\n  "path": "a.txt"\n}');
			assert.equal(await tool.locator('b').count(), 0);
			await screenshot('tool-completed');
		} finally {
			await tidy();
		}
	});

	it('Reject refuses the call: a rejected tool block, and the model is told the user declined', async () => {
		try {
			const reply = await ask(toolMessage);
			const card = reply.locator('.approval');
			await see(card, 'the approval card again (Allow once is not remembered)');
			await card.locator('button', { hasText: /^Reject$/ }).click();
			await see(reply.locator('.meta'), 'the reply to finish once Reject is clicked');
			assert.deepEqual(await parts(reply), ['Reading.', '[rejected]', `The tool said: ${declined}`], 'a rejected tool block between the texts');
			assert.equal((await reply.locator('details.tool .tool-status').textContent()).trim(), 'rejected');
			assert.doesNotMatch(await reply.locator('.body').textContent(), /contents of a\.txt/, 'the file was not read');
		} finally {
			await tidy();
		}
	});

	it('Stop while the card waits: the card goes, the reply is interrupted, the call not run', async () => {
		try {
			const reply = await ask(toolMessage);
			await see(reply.locator('.approval'), 'the approval card');
			await chat.locator('#stop').click();
			await see(reply.locator('.note', { hasText: 'Interrupted' }), 'the reply marked interrupted once stopped');
			assert.equal(await reply.locator('.approval').count(), 0, 'the card is gone: the stop wins over the question');
			assert.deepEqual(await parts(reply), ['Reading.', '[pending]'], 'the call stays where it was made');
			assert.equal((await reply.locator('details.tool .tool-status').textContent()).trim(), 'not run');
			await see(chat.locator('#send'), 'the send button back');
		} finally {
			await tidy();
		}
	});

	it('closing the chat while the card waits refuses the call', async () => {
		try {
			const reply = await ask(toolMessage);
			await see(reply.locator('.approval'), 'the approval card');
			const tab = page.locator('.tab', { hasText: 'tinychat' });
			await tab.click({ button: 'middle' }); // closes the editor tab
			await see(tab, 'the chat panel closed', { state: 'detached', timeout: 10000 });
			await runCommand('tinychat: Open Chat');
			const last = chat.locator('.message.assistant').last();
			await see(last.locator('.meta'), 'the reply to finish, its call refused once the chat was closed (shown in the reopened chat)');
			assert.equal(await chat.locator('.approval').count(), 0, 'no card left');
			assert.deepEqual(await parts(last), ['Reading.', '[rejected]', `The tool said: ${declined}`], 'with no chat to answer in, the call was refused');
		} finally {
			await tidy();
		}
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
		const json = JSON.parse(
			execFileSync(TINYCHAT_BIN, ['export', '--format', 'json', '--workspace', dirs.workspace], {
				env: { ...process.env, TINYCHAT_DB: db, XDG_CONFIG_HOME: path.join(tmp, 'config') },
				encoding: 'utf8',
			}),
		);
		const answerTo = (question) => json.messages[json.messages.findIndex((m) => m.role === 'user' && m.content === question) + 1];
		assert.equal(answerTo('think 3')?.content, 'w0 w1 w2 ', 'the stored answer to think 3 is exactly the answer, without reasoning');
		assert.equal(answerTo('refuse')?.content, "I'm sorry, I can't help with that.", 'the refusal is stored with its text');
		assert.deepEqual(
			answerTo(toolMessage)?.toolCalls?.map((c) => [c.name, c.status, c.textOffset]),
			[['read_file', 'completed', 'Reading. '.length]],
			'the allowed call is stored with the reply',
		);
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

	it("shows a stored session's tool calls where they were made, and the tool-step limit note", async () => {
		// A session another editor stored: two calls, one of an MCP server,
		// cut by the tool-step limit; accents before the first call, whose
		// textOffset counts bytes.
		const content = 'Première étape. Puis la suite.';
		const offset = (s) => Buffer.byteLength(s);
		const exported = {
			version: 1,
			session: { id: '0000000000000001', workspace: '/elsewhere', title: 'Stored tool calls', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', messageCount: 2, current: false },
			messages: [
				{ id: '0000000000000002', role: 'user', content: 'look around', createdAt: '2026-01-01T00:00:00.000Z' },
				{
					id: '0000000000000003',
					role: 'assistant',
					content,
					createdAt: '2026-01-01T00:00:01.000Z',
					provider: 'openai',
					model: 'gpt-4.1-mini',
					stopReason: 'max_tool_steps',
					toolCalls: [
						{ id: 'c1', name: 'grep', arguments: '{"pattern":"x"}', status: 'failed', output: '<img src=x onerror="document.body.dataset.pwned=3">', textOffset: offset('Première étape. ') },
						{ id: 'c2', name: 'fs__read', server: 'fs', arguments: '{}', status: 'completed', output: 'ok', textOffset: offset(content) },
					],
				},
			],
		};
		await daemonCall('session/import', { workspace: dirs.workspace, content: JSON.stringify(exported) });
		await page.locator('.tab', { hasText: 'tinychat' }).click();
		await retry(3, async () => {
			await chat.locator('button[data-command="sessions"]').click();
			await pick('Stored tool calls');
		});
		await see(chat.locator('.message.user', { hasText: 'look around' }), 'the stored session in the panel');
		assert.equal(await chat.locator('#title').textContent(), 'Stored tool calls');
		const reply = chat.locator('.message.assistant');
		assert.equal(await reply.count(), 1);
		assert.deepEqual(await parts(reply), ['Première étape.', '[failed]', 'Puis la suite.', '[completed]'], 'each call between the texts, where it was made');
		const mcp = reply.locator('details.tool[data-status="completed"]');
		assert.equal((await mcp.locator('.tool-server').textContent()).trim(), 'fs', 'a tool of an MCP server names it');
		const failed = reply.locator('details.tool[data-status="failed"]');
		await failed.locator('summary').click();
		assert.equal(await failed.locator('.tool-output').textContent(), '<img src=x onerror="document.body.dataset.pwned=3">', 'the output is shown as text');
		assert.equal(await reply.locator('img').count(), 0, 'never as markup');
		assert.equal(await chat.locator('body').getAttribute('data-pwned'), null);
		const note = reply.locator('.note.stop[data-stop="max_tool_steps"]');
		await see(note, 'the note of a reply stopped at the tool-step limit');
		assert.equal((await note.textContent()).trim(), 'Stopped at the limit of tool steps: the tools the model called last were not run.');
		assert.equal(await reply.locator('.note').count(), 1, 'one note: the limit, not "interrupted"');
		await screenshot('stored-tools');
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
		assert.equal(await chat.locator('.message.assistant.interrupted').count(), 3, 'the two slow 300 replies and the tool call stopped at its card');
		assert.equal(await chat.locator('.message.user .chip').textContent(), 'hello.go:1-5');
		// Reasoning and stop reasons come back from the store.
		const thinking = chat.locator('.message.assistant details.thinking');
		assert.equal(await thinking.count(), 2, 'the reopened session shows the Thinking blocks of think 3 and think 40');
		assert.equal(await chat.locator('details.thinking[open]').count(), 0, 'stored reasoning is shown collapsed');
		assert.equal((await thinking.first().locator('.reasoning').textContent()).trim(), 't0 t1 t2');
		const thought = chat.locator('.message.assistant:has(details.thinking)').first();
		assert.equal((await thought.locator('.body').textContent()).trim(), 'w0 w1 w2', 'the stored answer shows without its reasoning');
		const refusal = chat.locator('.note.stop[data-stop="refusal"]');
		const filtered = chat.locator('.note.stop[data-stop="content_filter"]');
		assert.equal(await refusal.count(), 1, 'the reopened session notes the refusal');
		assert.equal((await refusal.textContent()).trim(), 'The model declined to answer.');
		assert.equal(await filtered.count(), 1, 'the reopened session notes the filtered reply');
		assert.equal((await filtered.textContent()).trim(), "Stopped by the provider's content filter.");
		// Tool calls come back from the store, each where the reply made it.
		assert.deepEqual(
			await chat.locator('details.tool').evaluateAll((els) => els.map((d) => d.dataset.status)),
			['completed', 'rejected', 'pending', 'rejected'],
			'the reopened session shows the tool blocks of the four tool replies',
		);
		const toolReply = chat.locator('.message.assistant:has(details.tool)').first();
		assert.deepEqual(
			await parts(toolReply),
			['Reading.', '[completed]', 'The tool said: the contents of a.txt <b>not bold</b>'],
			'the stored tool block stands between "Reading." and the answer',
		);
		await toolReply.locator('details.tool summary').click();
		assert.equal(await toolReply.locator('.tool-output').textContent(), aTxt, 'the stored output');
		assert.equal((await chat.locator('details.tool[data-status="pending"] .tool-status').textContent()).trim(), 'not run');
		await screenshot('history');
	});

	it('hides reasoning while tinychat.showReasoning is off, turned off and on in the Settings editor', async () => {
		// VS Code's Settings editor opens over the chat, which stays drawn
		// behind it; Escape closes it.
		const checkbox = page.locator('.settings-editor .setting-item-bool', { hasText: 'Show Reasoning' }).locator('.setting-value-checkbox');
		const openSetting = async () => {
			await runCommand('Preferences: Open Settings (UI)');
			await see(page.locator('.settings-editor'), 'the Settings editor');
			await page.keyboard.press('Control+A');
			await page.keyboard.type('tinychat.showReasoning');
			await see(checkbox, 'the tinychat.showReasoning checkbox in the Settings editor', { timeout: 10000 });
		};
		const closeSettings = async () => {
			await page.keyboard.press('Escape');
			await see(page.locator('.settings-editor'), 'the Settings editor closed by Escape', { state: 'hidden', timeout: 10000 });
		};

		try {
			await openSetting();
			assert.equal(await checkbox.getAttribute('aria-checked'), 'true', 'tinychat.showReasoning is on by default');
			assert.ok((await chat.locator('details.thinking').count()) > 0, 'Thinking blocks show before the setting is turned off');
			await checkbox.click();
			await see(chat.locator('details.thinking').first(), 'the Thinking blocks gone once tinychat.showReasoning is off', { state: 'detached', timeout: 10000 });
			assert.ok((await chat.locator('.message.assistant .body', { hasText: 'w0 w1 w2' }).count()) >= 1, 'the answers stay');
			await closeSettings();

			const reply = await ask('think 2');
			await see(reply.locator('.meta'), 'the think 2 reply to finish');
			assert.equal((await reply.locator('.body').textContent()).trim(), 'w0 w1', 'the answer shows');
			assert.equal(await reply.locator('details.thinking').count(), 0, 'no Thinking block while tinychat.showReasoning is off');
			assert.doesNotMatch(await reply.textContent(), /t0/, 'nor the reasoning anywhere else');

			await openSetting();
			assert.equal(await checkbox.getAttribute('aria-checked'), 'false');
			await checkbox.click();
			await see(reply.locator('details.thinking:not([open]) .reasoning', { hasText: 't0 t1' }), 'the reasoning back, collapsed, once tinychat.showReasoning is on', {
				state: 'attached',
				timeout: 10000,
			});
			await closeSettings();
		} finally {
			// Not left over the workbench for the tests after this one.
			if (await page.locator('.settings-editor').isVisible()) {
				await page.keyboard.press('Escape');
			}
		}
	});

	it('runs the tools of tinychat.tools.autoApprove without asking', async () => {
		await writeSettings({ ...userSettings, 'tinychat.model': 'gpt-4.1-mini', 'tinychat.tools.autoApprove': ['read_*'] }, 'openai · gpt-4.1-mini');
		try {
			const reply = await ask(toolMessage);
			await see(reply.locator('.meta'), 'the reply to finish without a question (read_* is auto-approved)');
			assert.equal(await reply.locator('.approval').count(), 0, 'no approval card');
			assert.deepEqual(await parts(reply), ['Reading.', '[completed]', 'The tool said: the contents of a.txt <b>not bold</b>'], 'the auto-approved call ran');
		} finally {
			await tidy();
			await writeSettings(userSettings, /^openai$/);
		}
	});

	it("picks the model from the provider's own list (models/list) with the model button", async () => {
		try {
			await retry(3, async () => {
				await chat.locator('#model').click();
				await pick('openai');
			});
			const rows = page.locator('.quick-input-widget .monaco-list-row');
			await see(rows.filter({ hasText: 'test-model-large' }), "the fake provider's models in a quick pick");
			assert.deepEqual(
				(await rows.locator('.label-name').filter({ visible: true }).allTextContents()).map((t) => t.trim()),
				['Default', 'test-model', 'test-model-large'],
				'the default, then the models the provider lists',
			);
			await pick('test-model-large');
			await see(chat.locator('#model', { hasText: 'openai · test-model-large' }), 'the chosen model in the header');
			const reply = await ask('which model?');
			await see(reply.locator('.meta', { hasText: 'openai · test-model-large' }), 'the reply from the chosen model');
		} finally {
			await writeSettings(userSettings, /^openai$/);
		}
	});

	it('sends the whole file with Ctrl+Alt+Enter when nothing is selected', async () => {
		// hello.go beside the chat, both in view, for this test and those after it.
		await page.locator('.tab', { hasText: 'hello.go' }).click();
		if ((await page.locator('.editor-group-container').count()) < 2) {
			await runCommand('View: Move Editor into Right Group');
			await waitFor('hello.go in a group of its own beside the chat', async () => (await page.locator('.editor-group-container').count()) === 2, 10000);
		}
		await page.locator('.monaco-editor .view-lines', { hasText: 'package main' }).first().click();
		await page.keyboard.press('Control+End');
		await page.keyboard.press('Control+Alt+Enter');
		const input = page.locator('.quick-input-widget input');
		await see(input, 'the question box of Send Selection, opened by Ctrl+Alt+Enter with no selection', { timeout: 10000 });
		await input.fill('The whole file?');
		await page.keyboard.press('Enter');
		const user = chat.locator('.message.user').last();
		await see(user.locator('.body', { hasText: 'The whole file?' }), 'the question in the chat');
		assert.equal(await user.locator('.chip').textContent(), 'hello.go:1-5', 'the whole file went as context');
		const reply = chat.locator('.message.assistant').last();
		await see(reply.locator('.body', { hasText: 'The whole file?' }), 'the reply');
		assert.match(await reply.locator('.body').innerText(), /println/);
		await see(reply.locator('.meta'), 'the reply to finish');
	});

	it('loads no remote image from a reply unless tinychat.allowRemoteImages is on', async () => {
		const remote = () => requests.filter((u) => u.includes('tinychat-e2e.invalid'));
		const reply = await ask('an image: ![pixel](https://tinychat-e2e.invalid/pixel.png?leak=secret) end');
		await see(reply.locator('.meta'), 'the reply with an image to finish');
		await new Promise((r) => setTimeout(r, 1000));
		assert.deepEqual(remote(), [], 'no request for the remote image left the webview');
		assert.equal(await reply.locator('img').count(), 0, 'no remote image in the reply');
		const blocked = reply.locator('.remote-image');
		await see(blocked, 'the blocked image shown as a link');
		assert.equal((await blocked.textContent()).trim(), 'pixel');
		assert.equal(await blocked.getAttribute('href'), 'https://tinychat-e2e.invalid/pixel.png?leak=secret');
		// The setting turned on: the image loads, so the check above can see a request.
		await writeSettings({ ...userSettings, 'tinychat.allowRemoteImages': true }, /^openai$/);
		try {
			await waitFor('the remote image to be requested once tinychat.allowRemoteImages is on', () => remote().length > 0, 15000);
		} finally {
			await writeSettings(userSettings, /^openai$/);
		}
		await see(chat.locator('.message.assistant .remote-image').last(), 'the image blocked again once the setting is off', { timeout: 10000 });
	});

	it("shows a code block highlighted, with its language, and copies, inserts and applies it with VS Code's diff", async () => {
		const code = 'package main\n\nfunc main() {\n\tprintln("hello, tinychat")\n}\n';
		const reply = await ask('Try this:\n\n```go\n' + code + '```\n');
		await see(reply.locator('.meta'), 'the reply with a code block to finish');
		const block = reply.locator('.code-block');
		await see(block, 'the code block');
		assert.equal((await block.locator('.code-lang').textContent()).trim(), 'go', 'the language label');
		assert.equal(await block.locator('pre code').textContent(), code, 'the code, whole');
		assert.ok((await block.locator('pre code .hljs-keyword').count()) >= 2, 'keywords highlighted (package, func)');
		assert.ok((await block.locator('pre code .hljs-string').count()) >= 1, 'the string highlighted');
		assert.deepEqual(
			(await block.locator('.code-actions button').allTextContents()).map((t) => t.trim()),
			['Copy', 'Insert', 'Apply…'],
			'the actions of a code block',
		);
		await block.hover();
		await shot('code-block');

		// Copy: the block goes to the clipboard.
		await block.locator('button', { hasText: 'Copy' }).click();
		await see(block.locator('button', { hasText: 'Copied' }), 'the Copy button saying it copied', { timeout: 5000 });
		await waitFor('the clipboard to hold the block', async () => (await page.evaluate(() => navigator.clipboard.readText())) === code, 5000);

		// Insert: at the cursor of the editor last used, hello.go (beside the chat).
		const helloFile = path.join(dirs.workspace, 'hello.go');
		const original = fs.readFileSync(helloFile, 'utf8');
		const hello = page.locator('.editor-group-container').nth(1);
		const helloText = async () => squash(await hello.locator('.monaco-editor .view-lines').first().innerText());
		await hello.locator('.tab', { hasText: 'hello.go' }).click();
		await page.keyboard.press('Control+End');
		await block.locator('button', { hasText: 'Insert' }).click();
		await waitFor('the block inserted at the end of hello.go', async () => (await helloText()) === squash(original + code), 10000).catch(async (err) =>
			assert.fail(`${err.message}: hello.go shows ${JSON.stringify(await helloText())}`),
		);
		// One undo takes the insertion back.
		await hello.locator('.tab', { hasText: 'hello.go' }).click();
		await page.keyboard.press('Control+Z');
		await waitFor('hello.go back as it was, by one undo', async () => (await helloText()) === squash(original), 10000);

		// Apply: VS Code's diff of hello.go against the change, then the change applied.
		await block.locator('button', { hasText: 'Apply…' }).click();
		const diff = page.locator('.monaco-diff-editor');
		await see(diff, "VS Code's diff editor with the proposed change", { timeout: 15000 });
		await see(page.locator('.tab', { hasText: "hello.go ↔ tinychat's change" }), 'the diff tab named after hello.go and tinychat', { timeout: 5000 });
		await see(diff.locator('.editor.modified .view-lines', { hasText: 'hello, tinychat' }), 'the proposed text on the right of the diff');
		await see(diff.locator('.editor.original .view-lines', { hasText: 'println("hello")' }), 'the file as it is on the left');
		await see(page.locator('.notification-toast', { hasText: "Apply tinychat's change to hello.go?" }), 'the question: Apply or Discard');
		await shot('code-apply-diff');
		await runCommand('tinychat: Apply Change');
		await see(diff, 'the diff closed once applied', { state: 'detached', timeout: 10000 });
		await waitFor('hello.go with the change applied', async () => (await helloText()) === squash(code), 10000).catch(async (err) =>
			assert.fail(`${err.message}: hello.go shows ${JSON.stringify(await helloText())}`),
		);
		assert.equal(fs.readFileSync(helloFile, 'utf8'), original, 'applied as an edit: saving is the user\'s');
		await shot('code-applied');
	});

	it('renames, searches and deletes sessions from the chat', async () => {
		const input = page.locator('.quick-input-widget input');
		const titles = async () => (await daemonCall('session/list', { workspace: dirs.workspace })).sessions.map((s) => s.title);

		// Rename: a click on the title.
		await chat.locator('#title').click();
		await see(input, 'the box to rename the session');
		assert.equal(await input.inputValue(), 'Hello from **VS Code** with `code` words', 'it holds the title');
		await input.fill('Hello from VS Code, renamed');
		await page.keyboard.press('Enter');
		await see(chat.locator('#title', { hasText: 'Hello from VS Code, renamed' }), 'the new title in the chat');
		assert.ok((await titles()).includes('Hello from VS Code, renamed'), 'the store has the new title');

		// Search: the messages that match, and the session of the one picked.
		await chat.locator('button[data-command="searchSessions"]').click();
		await see(input, 'the search box');
		await input.fill('look around');
		await page.keyboard.press('Enter');
		const hit = page.locator('.quick-input-widget .monaco-list-row', { hasText: '«look» «around»' });
		await see(hit, 'the matching message, its words marked');
		assert.match(await hit.textContent(), /Stored tool calls/, 'with its session');
		await hit.click();
		await see(chat.locator('.message.user', { hasText: 'look around' }), 'the session of the hit, opened');
		assert.equal(await chat.locator('#title').textContent(), 'Stored tool calls');

		// Delete: the trash button of History's untitled session (New made it), then the dialog's Delete.
		const before = await titles();
		assert.ok(before.includes(''), `an untitled session to delete: ${JSON.stringify(before)}`);
		await chat.locator('button[data-command="sessions"]').click();
		const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: '(untitled)' });
		await see(row, 'the untitled session in History');
		await row.hover();
		await row.locator('.action-label[aria-label="Delete"]').click();
		const dialog = page.locator('.monaco-dialog-box');
		await see(dialog, 'the dialog asking before the session is deleted');
		assert.match(await dialog.textContent(), /Delete the tinychat session "\(untitled\)"\?/);
		await dialog.locator('.monaco-button', { hasText: /^Delete$/ }).click();
		await see(page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Stored tool calls' }), 'History again, after the deletion');
		await see(row, 'the untitled session gone from History', { state: 'detached', timeout: 5000 });
		assert.deepEqual((await titles()).sort(), before.filter((t) => t !== '').sort(), 'the store lost that session, and only it');
		await pick('Hello from VS Code, renamed');
		await see(chat.locator('.message.user', { hasText: 'still here' }), 'the first session again');
	});

	it('asks before New or History stops a streaming reply; Cancel keeps it streaming', async () => {
		await page.locator('.tab', { hasText: 'tinychat' }).first().click();
		const reply = await ask('slow 300');
		await see(reply.locator('.body', { hasText: 'w2' }), 'the slow reply streaming');
		const dialog = page.locator('.monaco-dialog-box');
		await chat.locator('button[data-command="newSession"]').click();
		await see(dialog, 'a dialog asking before New stops the streaming reply', { timeout: 10000 });
		assert.match(await dialog.textContent(), /still replying/);
		await screenshot('new-while-streaming');
		await dialog.locator('.monaco-button', { hasText: 'Cancel' }).click();
		await see(dialog, 'the dialog closed by Cancel', { state: 'hidden', timeout: 5000 });
		const grown = (await reply.locator('.body').textContent()).length;
		await waitFor('the reply to go on streaming after Cancel', async () => (await reply.locator('.body').textContent()).length > grown, 5000);
		assert.equal(await chat.locator('#stop').isVisible(), true, 'the reply still streams');

		await retry(3, async () => {
			await chat.locator('button[data-command="sessions"]').click();
			await pick('Stored tool calls');
		});
		await see(dialog, 'a dialog asking before History stops the streaming reply', { timeout: 10000 });
		await dialog.locator('.monaco-button', { hasText: 'Cancel' }).click();
		await see(dialog, 'the dialog closed by Cancel', { state: 'hidden', timeout: 5000 });
		assert.equal(await chat.locator('#stop').isVisible(), true, 'the reply still streams');
		assert.equal(await chat.locator('.message.user', { hasText: 'look around' }).count(), 0, 'the other session is not opened');

		await chat.locator('button[data-command="newSession"]').click();
		await see(dialog, 'the dialog again', { timeout: 10000 });
		await dialog.locator('.monaco-button', { hasText: 'Stop and Start New' }).click();
		await see(chat.locator('.empty'), 'the new, empty session once the reply was stopped', { timeout: 10000 });
		await see(chat.locator('#send'), 'the send button back');

		// The stopped reply was kept, as interrupted, in the session it was in.
		await retry(3, async () => {
			await chat.locator('button[data-command="sessions"]').click();
			await pick('Hello from VS Code, renamed');
		});
		await see(chat.locator('.message.user', { hasText: 'still here' }), 'the first session again');
		const stopped = chat.locator('.message.assistant').last();
		assert.match(await stopped.locator('.body').textContent(), /^w0 w1 w2 /);
		await see(stopped.locator('.note', { hasText: 'Interrupted' }), 'the reply stopped by New, kept as interrupted');
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
