/**
 * `npm run test:browser`: the sandbox page driven in Chromium as people would use it. The whole
 * project runs as under `npm start`; two tabs view the channel as Ada (a moderator) and Bob.
 *
 * Checks: the command picker (and that /policy is offered to moderators only), /imagine from typing to
 * the finished grid, V2 making a variation, the variation's lineage drawn with both generations and
 * their images, /blend with two uploaded PNGs, the ephemeral refusal of a weight sum below zero seen
 * only by its user, a grid with a named style, /settings turning remix on and V1 opening the remix
 * modal, and Bob's tab following every public message live. Also: the page takes its key from the
 * printed address (a tab without it is refused), under a Content-Security-Policy that nothing on the
 * page violates (a violation is a console error, and console errors fail the run). Screenshots go to
 * docs/screenshots/. Exits non-zero on any failure.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import sharp from 'sharp';
import { ensureChromium, launchChromium } from './chromium.js';
import { modelDir, type RunningSandbox, startSandbox } from './stack.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const SHOTS = join(ROOT, 'docs/screenshots');
/**
 * Renders on two shared CPU cores with the real model take a while; the tiny model is quick.
 * BROWSER_RENDER_MS raises the limit on a slower machine.
 */
const RENDER_MS = Number(process.env.BROWSER_RENDER_MS) || 240_000;
const UI_MS = 15_000;

const errors: string[] = [];

function watch(page: Page, who: string): void {
  page.on('pageerror', (error) => errors.push(`${who}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${who}: console: ${message.text()}`);
  });
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, name) });
  console.log(`  screenshot docs/screenshots/${name}`);
}

/** Two tabs in one picture: the same channel as two people see it (each with their own ephemerals). */
async function sideBySide(left: Page, right: Page, name: string): Promise<void> {
  const [a, b] = await Promise.all([left.screenshot(), right.screenshot()]);
  const { width = 1400, height = 900 } = await sharp(a).metadata();
  const joined = await sharp({
    create: { width: width * 2 + 16, height, channels: 3, background: '#111214' },
  })
    .composite([
      { input: a, left: 0, top: 0 },
      { input: b, left: width + 16, top: 0 },
    ])
    .png()
    .toBuffer();
  // sharp resizes before it composites within one pipeline, so the smaller copy is a second step.
  await sharp(joined).resize({ width: 2000 }).png().toFile(join(SHOTS, name));
  console.log(`  screenshot docs/screenshots/${name}`);
}

function step(text: string): void {
  console.log(`- ${text}`);
}

/** Types `/`, picks the entry from the command list, fills the fields, sends with Enter or Send. */
async function runCommand(
  page: Page,
  entry: string,
  fill: (page: Page) => Promise<void> = async () => {},
): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.click();
  await box.fill('/');
  await page.getByRole('option', { name: new RegExp(`^/${entry}\\b`) }).click();
  await fill(page);
  await page.getByRole('button', { name: 'Send' }).click();
}

async function pickUser(page: Page, name: string): Promise<void> {
  await page.getByLabel('Viewing as').selectOption({ label: name });
}

/** A message that contains `text`, the newest of them. */
const messageWith = (page: Page, text: string | RegExp): Locator =>
  page.locator('article.message', { hasText: text }).last();

/** A finished grid: the message with a V2 button and the grid image. */
const gridWith = (page: Page, text: string | RegExp): Locator =>
  page
    .locator('article.message', { hasText: text })
    .filter({ has: page.locator('button[data-custom-id^="v:2:"]') })
    .filter({ has: page.locator('img[alt^="grid-"]') })
    .last();

async function imageLoaded(image: Locator): Promise<boolean> {
  return image.evaluate((element) => {
    const img = element as unknown as { complete: boolean; naturalWidth: number };
    return img.complete && img.naturalWidth > 0;
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = UI_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function pngOf(colors: [string, string]): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128"><defs><linearGradient id="g"><stop offset="0" stop-color="${colors[0]}"/><stop offset="1" stop-color="${colors[1]}"/></linearGradient></defs><rect width="128" height="128" fill="url(#g)"/><circle cx="64" cy="64" r="36" fill="${colors[1]}"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

async function scenario(sandbox: RunningSandbox): Promise<void> {
  const browser = await launchChromium();
  const { context } = browser;
  try {
    const ada = await context.newPage();
    watch(ada, 'ada');
    const served = await ada.goto(sandbox.url);
    assert.match(served?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await ada.locator('body.ready').waitFor();
    // The page keeps the key for the tab and takes it out of the address bar.
    assert.equal(new URL(ada.url()).searchParams.get('key'), null);
    await pickUser(ada, 'Ada (admin)');

    // A second tab of the same browser: the user choice is per tab (sessionStorage).
    const bob = await context.newPage();
    watch(bob, 'bob');
    await bob.goto(sandbox.url);
    await bob.locator('body.ready').waitFor();
    await pickUser(bob, 'Bob');
    await ada.bringToFront();
    assert.equal(await ada.getByLabel('Viewing as').locator('option:checked').textContent(), 'Ada (admin)');
    assert.equal(await bob.getByLabel('Viewing as').locator('option:checked').textContent(), 'Bob');

    step('a tab opened without the key is refused and says where the address is');
    const stranger = await context.newPage();
    await stranger.goto(`${sandbox.origin}/`);
    await stranger
      .getByRole('alert')
      .filter({ hasText: 'printed when it started' })
      .waitFor({ timeout: UI_MS });
    await stranger.close();

    step('the command picker lists the deployed commands; /policy only for the moderator');
    await ada.getByRole('textbox', { name: 'Message' }).fill('/');
    for (const name of ['imagine', 'blend', 'settings', 'info', 'show', 'policy show', 'policy set'])
      await ada.getByRole('option', { name: new RegExp(`^/${name}\\b`) }).waitFor({ timeout: UI_MS });
    await shot(ada, 'sandbox-commands.png');
    await ada.keyboard.press('Escape');
    await ada.getByRole('textbox', { name: 'Message' }).fill('');
    await bob.getByRole('textbox', { name: 'Message' }).fill('/');
    await bob.getByRole('option', { name: /^\/imagine\b/ }).waitFor({ timeout: UI_MS });
    assert.equal(await bob.getByRole('option', { name: /^\/policy/ }).count(), 0, 'Bob must not see /policy');
    await bob.getByRole('textbox', { name: 'Message' }).fill('');

    step('/imagine: thinking, progress, then the grid with U1-U4, V1-V4 and reroll');
    // A weighted multi-prompt, the emoji model's kind of subject.
    const prompt = 'fox face::2 snowflake';
    // By keyboard alone: `/ima` filters the list, Enter picks, the prompt field has the focus, Enter sends.
    await ada.getByRole('textbox', { name: 'Message' }).focus();
    await ada.keyboard.type('/ima');
    assert.equal(await ada.getByRole('listbox').getByRole('option').count(), 1, 'only /imagine matches /ima');
    await ada.keyboard.press('Enter');
    await ada.keyboard.type(prompt);
    assert.equal(await ada.getByLabel('prompt', { exact: true }).inputValue(), prompt);
    await ada.keyboard.press('Enter');
    await messageWith(ada, 'used /imagine').waitFor({ timeout: UI_MS });
    const grid = gridWith(ada, prompt);
    await grid.waitFor({ timeout: RENDER_MS });
    for (const label of ['U1', 'U2', 'U3', 'U4', 'V1', 'V2', 'V3', 'V4', 'Reroll'])
      assert.equal(
        await grid.getByRole('button', { name: label, exact: true }).count(),
        1,
        `grid button ${label}`,
      );
    assert.match((await grid.textContent()) ?? '', /Ada \(admin\) used \/imagine/);
    await waitUntil('the grid image to load', () => imageLoaded(grid.locator('img[alt^="grid-"]')));
    const gridId = await grid.getAttribute('data-message-id');
    assert.ok(gridId);
    await shot(ada, 'sandbox-grid.png');

    step(
      'a slower grid (--q 2, four parts) shows the picture forming: a preview frame from the tiny decoder',
    );
    {
      // Not containing the first prompt: later steps find that grid by its text.
      const slow = 'penguin::2 snowflake::1 blue::0.5 ice::0.5 --q 2';
      await ada.getByRole('textbox', { name: 'Message' }).focus();
      await ada.keyboard.type('/ima');
      await ada.keyboard.press('Enter');
      await ada.keyboard.type(slow);
      await ada.keyboard.press('Enter');
      const preview = ada.locator('img.preview').last();
      await preview.waitFor({ timeout: RENDER_MS });
      // Hold the workers still while the frame is photographed, so the finished grid cannot replace it.
      const workers = execFileSync('pgrep', ['-f', 'src/queue/worker-main'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map(Number);
      for (const pid of workers) process.kill(pid, 'SIGSTOP');
      try {
        await waitUntil('the preview image to load', () => imageLoaded(preview));
        await shot(ada, 'sandbox-progress.png');
      } finally {
        for (const pid of workers) process.kill(pid, 'SIGCONT');
      }
      await gridWith(ada, slow).waitFor({ timeout: RENDER_MS });
    }

    step("Bob's tab shows the same grid, live, without reloading");
    const bobGrid = bob.locator(`article[data-message-id="${gridId}"]`);
    await bobGrid.locator('img[alt^="grid-"]').waitFor({ timeout: UI_MS });
    await waitUntil("Bob's copy of the grid image", () => imageLoaded(bobGrid.locator('img[alt^="grid-"]')));

    step('V2 makes a variation of image 2');
    await grid.getByRole('button', { name: 'V2', exact: true }).click();
    const variation = gridWith(ada, /Variations \(Strong\)/);
    await variation.waitFor({ timeout: RENDER_MS });
    const variationId = await variation.getAttribute('data-message-id');
    const variationJob = await variation.getAttribute('data-job-id');
    assert.ok(variationId && variationJob && variationId !== gridId);
    await bob
      .locator(`article[data-message-id="${variationId}"] img[alt^="grid-"]`)
      .waitFor({ timeout: UI_MS });

    step("U1 on the variation: one image with Midjourney's rows of buttons");
    await variation.getByRole('button', { name: 'U1', exact: true }).click();
    const upscale = ada
      .locator('article.message', { hasText: /Image #1/ })
      .filter({ has: ada.getByRole('button', { name: 'Vary (Subtle)' }) })
      .filter({ has: ada.locator('img[alt^="image-"]') })
      .last();
    await upscale.waitFor({ timeout: RENDER_MS });
    for (const label of [
      'Upscale (Subtle)',
      'Upscale (Creative)',
      'Vary (Subtle)',
      'Vary (Strong)',
      'Vary (Region)',
      'Zoom Out 2x',
      'Zoom Out 1.5x',
      'Custom Zoom',
      'Opposite',
    ])
      assert.equal(await upscale.getByRole('button', { name: label, exact: true }).count(), 1, label);
    assert.equal(
      (await upscale.locator('.components button').count()) >= 14 ||
        (await upscale.getByRole('button').count()) >= 14,
      true,
    );
    await upscale.scrollIntoViewIfNeeded();
    await shot(ada, 'sandbox-upscale.png');

    step('Zoom Out 2x on the upscale: a grid painted around the image');
    await upscale.getByRole('button', { name: 'Zoom Out 2x', exact: true }).click();
    const zoomed = gridWith(ada, /Zoom Out 2x/);
    await zoomed.waitFor({ timeout: RENDER_MS });
    await waitUntil('the zoomed grid', () => imageLoaded(zoomed.locator('img[alt^="grid-"]')));
    await zoomed.scrollIntoViewIfNeeded();
    await shot(ada, 'sandbox-zoom.png');

    step("the upscale's lineage: three generations");
    await upscale.hover();
    await upscale.getByRole('button', { name: 'Lineage' }).click();
    const upscalePanel = ada.getByRole('dialog', { name: /Lineage of/ });
    await upscalePanel.locator('.lineage-node').nth(2).waitFor({ timeout: UI_MS });
    assert.equal(await upscalePanel.locator('.lineage-row').count(), 3);
    await upscalePanel.locator('svg text', { hasText: 'upscale · #1' }).waitFor({ timeout: UI_MS });
    for (const image of await upscalePanel.locator('.lineage-node img').all())
      await waitUntil('a lineage thumbnail', () => imageLoaded(image));
    // Three generations need a taller window to be seen whole.
    await ada.setViewportSize({ width: 1400, height: 1150 });
    await shot(ada, 'sandbox-lineage-upscale.png');
    await ada.setViewportSize({ width: 1400, height: 900 });
    await upscalePanel.getByRole('button', { name: 'Close lineage' }).click();
    await upscalePanel.waitFor({ state: 'detached', timeout: UI_MS });

    step("the variation's lineage: two generations, pictures, the edge's role");
    await variation.hover();
    await variation.getByRole('button', { name: 'Lineage' }).click();
    const panel = ada.getByRole('dialog', { name: /Lineage of/ });
    await panel.waitFor({ timeout: UI_MS });
    await panel.locator('.lineage-node').nth(1).waitFor({ timeout: UI_MS });
    assert.equal(await panel.locator('.lineage-row').count(), 2, 'two generations');
    assert.equal(await panel.locator('.lineage-node').count(), 2, 'two images');
    assert.equal(await panel.locator(`.lineage-node.root[data-job-id="${variationJob}"]`).count(), 1);
    assert.equal(await panel.locator('.lineage-node[data-kind="imagine"]').count(), 1);
    await panel.locator('svg text', { hasText: 'variation-strong · #2' }).waitFor({ timeout: UI_MS });
    for (const image of await panel.locator('.lineage-node img').all())
      await waitUntil('a lineage thumbnail', () => imageLoaded(image));
    await shot(ada, 'sandbox-lineage.png');
    // A card leads back to its message in the channel.
    await panel
      .locator('.lineage-node[data-kind="imagine"]')
      .getByRole('button', { name: 'Show in channel' })
      .click();
    await panel.waitFor({ state: 'detached', timeout: UI_MS });
    await ada.locator(`article.flash[data-message-id="${gridId}"]`).waitFor({ timeout: UI_MS });

    step('the lineage routes: JSON with image paths, PNGs, 404 for unknown ids');
    const keyed = { headers: { 'x-sandbox-key': sandbox.key } };
    const lineage = (await (
      await ada.request.get(`${sandbox.origin}/lineage/${variationJob}`, keyed)
    ).json()) as {
      root: string;
      nodes: Array<{
        jobId: string;
        kind: string;
        image: string | null;
        parents: Array<{ role: string; index: number | null }>;
      }>;
    };
    assert.equal(lineage.root, variationJob);
    assert.deepEqual(
      lineage.nodes.map((n) => n.kind),
      ['variation', 'imagine'],
    );
    assert.deepEqual(
      lineage.nodes[0]?.parents.map((p) => [p.role, p.index]),
      [['variation-strong', 1]],
    );
    const png = await ada.request.get(`${sandbox.origin}${lineage.nodes[1]?.image}`);
    assert.equal(png.status(), 200);
    assert.equal(png.headers()['content-type'], 'image/png');
    assert.equal((await ada.request.get(`${sandbox.origin}/lineage/zzzzzzzzzzzz`, keyed)).status(), 404);
    assert.equal((await ada.request.get(`${sandbox.origin}/images/zzzzzzzzzzzz/grid`)).status(), 404);
    // Without the page key the lineage is refused; so is the page API.
    assert.equal((await ada.request.get(`${sandbox.origin}/lineage/${variationJob}`)).status(), 401);
    assert.equal((await ada.request.get(`${sandbox.origin}/sandbox/state`)).status(), 401);

    step('/blend with two uploaded PNGs (Bob)');
    await bob.bringToFront();
    const [first, second] = await Promise.all([pngOf(['#ff7a00', '#ffe14d']), pngOf(['#1f6feb', '#7ee787'])]);
    await runCommand(bob, 'blend', async (page) => {
      await page
        .getByLabel('image1', { exact: true })
        .setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: first });
      await page
        .getByLabel('image2', { exact: true })
        .setInputFiles({ name: 'lagoon.png', mimeType: 'image/png', buffer: second });
      // The optional fields open on request; `dimensions` offers the command's choices.
      await page.getByRole('button', { name: /^\+\d+ optional$/ }).click();
      await page.getByLabel('dimensions', { exact: true }).selectOption('square');
      await shot(page, 'sandbox-blend-command.png');
    });
    const blend = gridWith(bob, /Blend of 2 images/);
    await blend.waitFor({ timeout: RENDER_MS });
    assert.match((await blend.textContent()) ?? '', /Bob used \/blend/);
    await shot(bob, 'sandbox-blend.png');
    await ada
      .locator(`article[data-message-id="${await blend.getAttribute('data-message-id')}"]`)
      .waitFor({ timeout: UI_MS });

    step("the blend's lineage: the two uploaded images, joined by blend edges");
    await blend.hover();
    await blend.getByRole('button', { name: 'Lineage' }).click();
    const blendPanel = bob.getByRole('dialog', { name: /Lineage of/ });
    await blendPanel.locator('.lineage-node[data-kind="upload"]').nth(1).waitFor({ timeout: UI_MS });
    assert.equal(await blendPanel.locator('.lineage-node').count(), 3, 'the blend and its two uploads');
    assert.equal(await blendPanel.locator('.lineage-node.root[data-kind="blend"]').count(), 1);
    assert.equal(await blendPanel.locator('svg text', { hasText: /^blend$/ }).count(), 2);
    for (const image of await blendPanel.locator('.lineage-node img').all())
      await waitUntil('an uploaded image in the lineage', () => imageLoaded(image));
    await shot(bob, 'sandbox-lineage-blend.png');
    await blendPanel.getByRole('button', { name: 'Close lineage' }).click();

    step('a weight sum below zero is refused, visibly to Bob only');
    await runCommand(bob, 'imagine', (page) =>
      page.getByLabel('prompt', { exact: true }).fill('DIGITA PNTICS skyline logo::-99.99'),
    );
    const refusal = bob.locator('article.message.ephemeral', {
      hasText: 'The weights add up to -99.99; this server requires a sum above 0',
    });
    await refusal.waitFor({ timeout: UI_MS });
    assert.match((await refusal.textContent()) ?? '', /Only you can see this/);
    await shot(bob, 'sandbox-refusal.png');
    await ada.waitForTimeout(500);
    assert.equal(await ada.locator('article.message', { hasText: 'The weights add up to' }).count(), 0);

    step('a named style: --style fluent-3d gives a grid like any other, in that style');
    {
      const styled = 'red apple --style fluent-3d';
      await runCommand(bob, 'imagine', (page) => page.getByLabel('prompt', { exact: true }).fill(styled));
      const styledGrid = gridWith(bob, styled);
      await styledGrid.waitFor({ timeout: RENDER_MS });
      assert.equal(await styledGrid.getByRole('button', { name: 'U1', exact: true }).count(), 1);
      await waitUntil('the styled grid image to load', () =>
        imageLoaded(styledGrid.locator('img[alt^="grid-"]')),
      );
      await shot(bob, 'sandbox-style.png');
    }

    step('/settings: remix on (ephemeral, buttons and selects); V1 then opens the remix modal');
    await ada.bringToFront();
    await runCommand(ada, 'settings');
    const settings = ada.locator('article.message.ephemeral', { hasText: 'Your settings' }).last();
    await settings.getByRole('button', { name: 'Remix mode: off' }).click();
    await settings.getByRole('button', { name: 'Remix mode: on' }).waitFor({ timeout: UI_MS });
    assert.equal(await settings.locator('select').count(), 2, 'stylize and quality menus');
    await shot(ada, 'sandbox-settings.png');
    assert.equal(await bob.locator('article.message', { hasText: 'Your settings' }).count(), 0);
    await grid.getByRole('button', { name: 'V1', exact: true }).click();
    const modal = ada.getByRole('dialog');
    const remixPrompt = modal.getByRole('textbox');
    await remixPrompt.waitFor({ timeout: UI_MS });
    // The modal is Ada's: viewing as Cy hides it, viewing as Ada again brings it back.
    await pickUser(ada, 'Cy');
    await modal.waitFor({ state: 'detached', timeout: UI_MS });
    await pickUser(ada, 'Ada (admin)');
    await remixPrompt.waitFor({ timeout: UI_MS });
    await remixPrompt.fill('cat face::2 snowflake');
    await shot(ada, 'sandbox-remix.png');
    await modal.getByRole('button', { name: 'Submit' }).click();
    await gridWith(ada, 'cat face::2 snowflake').waitFor({ timeout: RENDER_MS });

    step('/info (ephemeral) and /show job:<id> (posts the variation again, with buttons)');
    await runCommand(ada, 'info');
    await ada.locator('article.message.ephemeral', { hasText: 'Your jobs' }).waitFor({ timeout: UI_MS });
    await runCommand(ada, 'show', (page) => page.getByLabel('job', { exact: true }).fill(variationJob));
    const shown = gridWith(ada, 'used /show');
    await shown.waitFor({ timeout: UI_MS });
    assert.equal(await shown.getAttribute('data-job-id'), variationJob);
    const shownId = await shown.getAttribute('data-message-id');
    await bob.locator(`article[data-message-id="${shownId}"]`).waitFor({ timeout: UI_MS });

    step('/policy show, for the moderator');
    await runCommand(ada, 'policy show');
    await ada.locator('article.message.ephemeral', { hasText: 'Server policy' }).waitFor({ timeout: UI_MS });
    await sideBySide(ada, bob, 'sandbox-two-users.png');

    assert.deepEqual(errors, [], 'no errors in the page');
  } catch (error) {
    // What each tab showed when it went wrong, beside the sandbox's log.
    for (const [n, page] of context.pages().entries())
      await page.screenshot({ path: join(dirname(sandbox.logFile), `failure-${n}.png`) }).catch(() => {});
    console.error(`Failure screenshots: ${dirname(sandbox.logFile)}/failure-*.png`);
    throw error;
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  ensureChromium();
  mkdirSync(SHOTS, { recursive: true });
  console.log(`Starting the sandbox (model ${modelDir()})...`);
  const sandbox = await startSandbox();
  console.log(`Page at ${sandbox.url}`);
  try {
    await scenario(sandbox);
  } catch (error) {
    console.error(`\nFAILED: ${(error as Error).stack ?? error}\nSandbox log: ${sandbox.logFile}`);
    if (errors.length) console.error(`Page errors:\n${errors.join('\n')}`);
    process.exitCode = 1;
  } finally {
    await sandbox.stop();
  }
  if (!process.exitCode) {
    sandbox.removeData();
    console.log('\nBrowser test passed.');
  }
}

await main();
