// Bundles the extension (node) and the chat webview's script (browser) with
// esbuild; with --tests DIR, also bundles test/*.test.ts into DIR for
// node --test.
//
//   node build.mjs [--watch] [--minify] [--tests DIR]
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const args = process.argv.slice(2);
const watch = args.includes('--watch');
const minify = args.includes('--minify');
const testsAt = args.indexOf('--tests');
const testsDir = testsAt >= 0 ? args[testsAt + 1] : undefined;

const common = { bundle: true, minify, sourcemap: !minify, logLevel: 'warning' };
const builds = [
	{ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', target: 'node18', external: ['vscode'] },
	{ ...common, entryPoints: ['media/chat.ts'], outfile: 'dist/chat.js', platform: 'browser', format: 'iife', target: 'es2022' },
];
if (testsDir) {
	const entryPoints = fs.readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => path.join('test', f));
	builds.push({ ...common, minify: false, sourcemap: 'inline', entryPoints, outdir: testsDir, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'] });
}

if (watch) {
	for (const b of builds) {
		await (await esbuild.context(b)).watch();
	}
} else {
	await Promise.all(builds.map((b) => esbuild.build(b)));
}
