/**
 * docs/web-view.png: the screenshot of `hive web` for the README, taken in Debian's chromium.
 * Starts a small hive of its own (a private bus, the terminal network, a filter with children),
 * sends it a few commands, stops one node (grey), selects echo (its log and messages) and shoots.
 * Leaves nothing running. Usage: npm run build && node dist/scripts/web-screenshot.js [OUT.png]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { stringify } from 'yaml';
import puppeteer from 'puppeteer-core';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(out: string): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run sudo scripts/install-system-deps`);
  const dir = await mkdtemp(join(tmpdir(), 'hive-shot-'));
  const config = join(dir, 'hive.yaml');
  await writeFile(config, stringify({
    instance: 'demo', bus: 'private', state_dir: join(dir, 'state'),
    networks: { console: { type: 'terminal', quiet_ms: 200 } },
    plugins: [
      { name: 'help', use: 'help' }, { name: 'ping', use: 'ping' },
      { name: 'ratelimit', use: 'ratelimit' },
      { name: 'echo', use: 'echo', parent: 'ratelimit' }, { name: 'text', use: 'text', parent: 'ratelimit' }, { name: 'seen', use: 'seen', parent: 'ratelimit' },
    ],
  }));
  const env = { ...process.env, HIVE_RUNTIME_DIR: join(dir, 'run'), HIVE_LOG_FORMAT: 'json' };
  const hive = execa(join(ROOT, 'bin/hive'), ['up', '--config', config], { env, stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', reject: false, buffer: false });
  let log = '';
  hive.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  await until('the hive', () => log.includes('"tree ready"'));
  const web = execa('node', [join(ROOT, 'dist/tree-supervisor/cli-web.js'), '--config', config, '--json'], { env, reject: false, buffer: false });
  let webOut = '';
  let webErr = '';
  web.stdout!.on('data', (d: Buffer) => { webOut += d.toString(); });
  web.stderr!.on('data', (d: Buffer) => { webErr += d.toString(); });
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const { url, port, token } = JSON.parse(await until('hive web', () => {
      if (web.exitCode !== null) throw new Error(`hive web exited ${web.exitCode}: ${webErr}`);
      return webOut.split('\n').find((l) => l.startsWith('{'));
    })) as { url: string; port: number; token: string };
    const page = await browser.newPage();
    page.on('pageerror', (e) => process.stderr.write(`page error: ${(e as Error).message}\n`));
    await page.setViewport({ width: 1280, height: 760, deviceScaleFactor: 1 });
    await page.goto(url);
    await page.waitForSelector('g.node[data-node="echo"][data-state="running"]').catch((err: unknown) => {
      process.stderr.write(`hive web said:\n${webErr}\n`);
      throw err;
    });
    await page.click('g.node[data-node="echo"]');
    for (const line of ['!ping', '!echo hello, hive', '!reverse stressed', '!echo what does the web view show?', '!help']) {
      hive.stdin!.write(`${line}\n`);
      await new Promise((r) => setTimeout(r, 300));
    }
    await fetch(`http://127.0.0.1:${port}/api/nodes/seen/stop`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    await page.waitForSelector('g.node[data-node="seen"][data-state="stopped"]');
    await page.waitForFunction(() => document.querySelectorAll('#messages li').length >= 4 && document.querySelectorAll('#logs li').length > 0);
    await new Promise((r) => setTimeout(r, 1200));
    await page.screenshot({ path: out });
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    await browser.close();
    web.kill('SIGTERM');
    hive.kill('SIGTERM');
    await Promise.all([web, hive]);
    await rm(dir, { recursive: true, force: true });
  }
}

await main(process.argv[2] ?? join(ROOT, 'docs/web-view.png'));
