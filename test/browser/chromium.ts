/**
 * The browser for the page test: Debian's chromium, driven by playwright-core (no browser download).
 * Installed with apt when missing and we are root; otherwise the test says what to run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Without an emoji font the bot's 🔄 buttons draw as empty boxes in the screenshots. */
const EMOJI_FONT = '/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf';

export function ensureChromium(): void {
  const missing = [
    ...(existsSync(CHROMIUM) ? [] : ['chromium']),
    ...(existsSync(EMOJI_FONT) ? [] : ['fonts-noto-color-emoji']),
  ];
  if (missing.length === 0) return;
  const command = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    if (!existsSync(CHROMIUM)) {
      process.stderr.write(`Chromium is missing at ${CHROMIUM}. Install it with:\n  sudo ${command}\n`);
      process.exit(1);
    }
    process.stderr.write(`Screenshots will lack emoji; to fix: sudo ${command}\n`);
    return;
  }
  process.stderr.write(`Installing ${missing.join(', ')} (${command})...\n`);
  const update = spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  const install = spawnSync('apt-get', ['install', '-y', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (update.status !== 0 || install.status !== 0 || !existsSync(CHROMIUM)) {
    process.stderr.write(`Could not install chromium; run: ${command}\n`);
    process.exit(1);
  }
}

/** A fresh profile each run, headless, with everything that would reach outside the machine off. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'latentbot-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      // Chromium may still be finishing its cache writes as it exits; a leftover profile is harmless.
      try {
        rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
      } catch {}
    },
  };
}
