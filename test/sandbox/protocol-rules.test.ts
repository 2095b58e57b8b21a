/** The sandbox's rule modules on their own: limits, error bodies, rate-limit buckets, image headers, routing. */
import { DiscordApiError } from '../../src/sandbox/discord/api-error.js';
import { AttachmentStore, imageSize, sniffContentType } from '../../src/sandbox/discord/attachments.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/discord/limits.js';
import {
  readMessageInput,
  validateMessageInput,
  validateModal,
} from '../../src/sandbox/discord/message-validation.js';
import { RateLimiter } from '../../src/sandbox/discord/rate-limits.js';
import { Router } from '../../src/sandbox/discord/router.js';
import { SnowflakeGenerator } from '../../src/sandbox/discord/snowflake.js';
import { solidPng } from './png.js';

function refusal(payload: unknown): DiscordApiError {
  try {
    validateMessageInput(readMessageInput(payload), DEFAULT_LIMITS);
  } catch (error) {
    if (error instanceof DiscordApiError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

const button = (id: string) => ({ type: 2, style: 1, label: 'B', custom_id: id });
const row = (...components: unknown[]) => ({ type: 1, components });

describe('message limits', () => {
  test('six action rows are refused with the nested error Discord sends', () => {
    const error = refusal({ components: Array.from({ length: 6 }, (_, i) => row(button(`b${i}`))) });
    expect(error.status).toBe(400);
    expect(error.body()).toEqual({
      code: 50035,
      message: 'Invalid Form Body',
      errors: {
        components: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 5 or fewer in length.' }] },
      },
    });
  });

  test('custom ids: length 1-100 and unique across rows', () => {
    expect(refusal({ components: [row(button('x'.repeat(101)))] }).body().errors).toHaveProperty(
      'components.0.components.0.custom_id',
    );
    expect(refusal({ components: [row(button(''))] }).fieldErrors[0]?.code).toBe('BASE_TYPE_BAD_LENGTH');
    expect(refusal({ components: [row(button('a')), row(button('a'))] }).fieldErrors[0]?.code).toBe(
      'COMPONENT_CUSTOM_ID_DUPLICATED',
    );
    expect(() =>
      validateMessageInput(readMessageInput({ components: [row(button('x'.repeat(100)))] }), DEFAULT_LIMITS),
    ).not.toThrow();
  });

  test('buttons: link buttons take a url and no custom id; a select fills its row', () => {
    expect(
      refusal({ components: [row({ type: 2, style: 5, label: 'L', url: 'https://x', custom_id: 'l' })] })
        .fieldErrors[0]?.code,
    ).toBe('COMPONENT_INVALID_FIELD');
    expect(refusal({ components: [row({ type: 2, style: 1, custom_id: 'n' })] }).fieldErrors[0]?.code).toBe(
      'BUTTON_COMPONENT_INVALID_LABEL',
    );
    const select = { type: 3, custom_id: 's', options: [{ label: 'a', value: 'a' }] };
    expect(refusal({ components: [row(select, button('b'))] }).fieldErrors[0]?.code).toBe(
      'COMPONENT_LAYOUT_WIDTH_EXCEEDED',
    );
  });

  test('content, embeds and their sizes', () => {
    expect(refusal({ content: 'x'.repeat(2001) }).fieldErrors[0]?.path).toEqual(['content']);
    expect(
      refusal({ embeds: Array.from({ length: 11 }, () => ({ title: 't' })) }).fieldErrors[0]?.path,
    ).toEqual(['embeds']);
    expect(refusal({ embeds: [{ title: 't'.repeat(257) }] }).fieldErrors[0]?.path).toEqual([
      'embeds',
      0,
      'title',
    ]);
    const big = { description: 'd'.repeat(4000) };
    expect(refusal({ embeds: [big, big] }).fieldErrors[0]?.code).toBe('MAX_EMBED_SIZE_EXCEEDED');
    expect(refusal({ content: 42 }).fieldErrors[0]?.code).toBe('BASE_TYPE_STRING');
  });

  test('modals: title length, input count, and what a submit must fill', () => {
    const input = (id: string, required?: boolean) =>
      row({ type: 4, custom_id: id, style: 1, label: id, ...(required === undefined ? {} : { required }) });
    const modal = validateModal(
      { custom_id: 'm', title: 'Remix', components: [input('a'), input('b', false)] },
      DEFAULT_LIMITS,
    );
    expect(modal.inputs.map((i) => [i.customId, i.required])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    expect(() =>
      validateModal({ custom_id: 'm', title: 't'.repeat(46), components: [input('a')] }, DEFAULT_LIMITS),
    ).toThrow(DiscordApiError);
    expect(() =>
      validateModal(
        { custom_id: 'm', title: 'T', components: Array.from({ length: 6 }, (_, i) => input(`i${i}`)) },
        DEFAULT_LIMITS,
      ),
    ).toThrow(DiscordApiError);
    const labelled = validateModal(
      {
        custom_id: 'm',
        title: 'T',
        components: [{ type: 18, label: 'P', component: { type: 4, custom_id: 'p', style: 2 } }],
      },
      DEFAULT_LIMITS,
    );
    expect(labelled.layout).toBe('labels');
  });
});

describe('rate limits', () => {
  test('headers count down and the bucket answers 429 with the time left once spent', () => {
    const limiter = new RateLimiter({ limit: 2, windowMs: 10_000, globalPerSecond: 1000 });
    const first = limiter.check(
      'POST',
      '/channels/1/messages',
      'POST /channels/:channelId/messages',
      'k',
      false,
    );
    const second = limiter.check(
      'POST',
      '/channels/1/messages',
      'POST /channels/:channelId/messages',
      'k',
      false,
    );
    const third = limiter.check(
      'POST',
      '/channels/1/messages',
      'POST /channels/:channelId/messages',
      'k',
      false,
    );
    expect([first, second].map((d) => d.headers['x-ratelimit-remaining'])).toEqual(['1', '0']);
    expect(first.headers['x-ratelimit-bucket']).toMatch(/^[0-9a-f]{16}$/);
    expect(third.limited?.global).toBe(false);
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(9);
    // Another major parameter is another bucket.
    expect(
      limiter.check('POST', '/channels/2/messages', 'POST /channels/:channelId/messages', 'k2', false)
        .limited,
    ).toBeNull();
  });

  test('the global limit spares interaction endpoints', () => {
    const limiter = new RateLimiter({ limit: 100, windowMs: 1000, globalPerSecond: 1 });
    expect(limiter.check('GET', '/a', 'GET /a', 'a', false).limited).toBeNull();
    expect(limiter.check('GET', '/b', 'GET /b', 'b', false).limited?.global).toBe(true);
    expect(
      limiter.check('POST', '/interactions/1/t/callback', 'POST /interactions/:id/:token/callback', 'c', true)
        .limited,
    ).toBeNull();
  });

  test('injected 429s match by template or by RegExp and are used up', () => {
    const limiter = new RateLimiter({ limit: 100, windowMs: 1000, globalPerSecond: 1000 });
    limiter.inject({ route: /^PATCH \/webhooks\//, count: 2, retryAfterMs: 250, global: true });
    const hit = limiter.check('PATCH', '/webhooks/1/t/messages/@original', 'PATCH /webhooks/x', 'w', true);
    expect(hit.limited).toEqual({ retryAfterMs: 250, global: true });
    expect(hit.headers['x-ratelimit-global']).toBe('true');
    expect(hit.headers['retry-after']).toBe('0.250');
    expect(limiter.check('GET', '/gateway/bot', 'GET /gateway/bot', 'g', false).limited).toBeNull();
    expect(limiter.pendingInjections()).toBe(1);
    limiter.check('PATCH', '/webhooks/1/t/messages/2', 'PATCH /webhooks/x', 'w', true);
    expect(
      limiter.check('PATCH', '/webhooks/1/t/messages/2', 'PATCH /webhooks/x', 'w', true).limited,
    ).toBeNull();
  });
});

describe('attachments', () => {
  test('image types and sizes come from the file headers', () => {
    expect(imageSize(solidPng(17, 9))).toEqual({ width: 17, height: 9 });
    const gif = Buffer.from('GIF89a\x05\x00\x03\x00', 'latin1');
    expect([sniffContentType(gif), imageSize(gif)]).toEqual(['image/gif', { width: 5, height: 3 }]);
    // SOI, an APP0 segment to skip, then SOF0 with height 20 and width 30.
    const jpeg = Buffer.from([
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x14, 0x00, 0x1e,
      0x01, 0x01, 0x11, 0x00,
    ]);
    expect([sniffContentType(jpeg), imageSize(jpeg)]).toEqual(['image/jpeg', { width: 30, height: 20 }]);
    const webp = Buffer.alloc(30);
    webp.write('RIFF', 0, 'latin1');
    webp.write('WEBPVP8X', 8, 'latin1');
    webp.writeUIntLE(639, 24, 3);
    webp.writeUIntLE(479, 27, 3);
    expect([sniffContentType(webp), imageSize(webp)]).toEqual(['image/webp', { width: 640, height: 480 }]);
    expect(imageSize(Buffer.from('not an image'))).toBeUndefined();
  });
});

describe('attachment storage', () => {
  test('beyond the memory budget the oldest files no message shows are dropped', () => {
    const shown = new Set<string>();
    const store = new AttachmentStore(
      new SnowflakeGenerator(),
      () => 'http://sandbox',
      250,
      () => shown,
    );
    const file = (name: string) =>
      store.store('attachments/1', { filename: name, data: new Uint8Array(100) });
    const kept = file('grid.png');
    shown.add(kept.id);
    const preview = file('preview.png');
    const newest = file('final.png');
    expect(store.byId(preview.id)).toBeUndefined();
    expect(store.byUrl(store.url(kept))?.id).toBe(kept.id);
    expect(store.byId(newest.id)).toBeDefined();
    expect(store.totalBytes).toBe(200);
  });
});

describe('ids and routes', () => {
  test('snowflakes are 19 digits and strictly increasing even when the clock goes back', () => {
    let now = Date.now();
    const ids = new SnowflakeGenerator(() => now);
    const a = ids.next();
    now -= 60_000;
    const b = ids.next();
    expect(a).toMatch(/^\d{19}$/);
    expect(BigInt(b) > BigInt(a)).toBe(true);
  });

  test('the router decodes %40original and tells a wrong method from an unknown path', async () => {
    const router = new Router();
    router.add({
      method: 'PATCH',
      template: '/webhooks/:applicationId/:token/messages/:messageId',
      auth: 'none',
      major: [],
      handle: async () => ({ status: 200 }),
    });
    const found = router.match('PATCH', '/webhooks/1/abc/messages/%40original');
    expect('definition' in found && found.params).toEqual({
      applicationId: '1',
      token: 'abc',
      messageId: '@original',
    });
    expect(router.match('GET', '/webhooks/1/abc/messages/2')).toEqual({ methodNotAllowed: true });
    expect(router.match('GET', '/nowhere')).toEqual({ methodNotAllowed: false });
  });
});
