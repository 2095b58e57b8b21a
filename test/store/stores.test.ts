import { DEFAULT_POLICY } from '../../src/policy/index.js';
import { openStores } from '../../src/store/index.js';
import { withRedis } from '../helpers/redis.js';

let redis: Awaited<ReturnType<typeof withRedis>>;
beforeAll(async () => {
  redis = await withRedis();
});
afterAll(async () => redis?.stop());

test('policies default, validate on update, and fill new fields for old records', async () => {
  const { policies, keys } = openStores(redis.client, 60, 'p');
  expect(await policies.get('g1')).toEqual(DEFAULT_POLICY);
  expect((await policies.update('g1', { maxSteps: 30, bannedWords: ['gore'] })).maxSteps).toBe(30);
  await expect(policies.update('g1', { maxSteps: -1 })).rejects.toThrow();
  expect((await policies.get('g1')).maxSteps).toBe(30);
  await redis.client.set(keys.policy('old'), JSON.stringify({ maxSteps: 12 }));
  expect(await policies.get('old')).toEqual({ ...DEFAULT_POLICY, maxSteps: 12 });
});

test('images resolve by reference; unknown or malformed references resolve to null', async () => {
  const { images } = openStores(redis.client, 60, 'i');
  await images.putJobImages(
    'abcdefabcdef',
    new Map([
      ['0', Buffer.from('png0')],
      ['grid', Buffer.from('grid')],
    ]),
  );
  await images.putUpload('uploaduplo12', Buffer.from('up'));
  expect((await images.resolve('job:abcdefabcdef/0'))?.toString()).toBe('png0');
  expect((await images.resolve('job:abcdefabcdef/grid'))?.toString()).toBe('grid');
  expect((await images.resolve('upload:uploaduplo12'))?.toString()).toBe('up');
  expect(await images.resolve('job:abcdefabcdef/7')).toBeNull();
  expect(await images.resolve('job:../../x/0')).toBeNull();
  expect(await images.resolve('https://example.com/a.png')).toBeNull();
  expect(await redis.client.ttl('i:img:abcdefabcdef:0')).toBeGreaterThan(0);
});

test('settings default and refuse values outside the choices', async () => {
  const { settings } = openStores(redis.client, 60, 's');
  expect(await settings.get('u')).toEqual({ stylize: 100, quality: 1, remix: false });
  expect(await settings.update('u', { remix: true })).toMatchObject({ remix: true });
  await expect(settings.update('u', { quality: 3 as 1 })).rejects.toThrow();
});
