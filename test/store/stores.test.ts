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
  expect(await settings.get('u')).toEqual({
    stylize: 100,
    quality: 1,
    remix: false,
    options: {},
    suffix: '',
  });
  expect(await settings.update('u', { remix: true })).toMatchObject({ remix: true });
  await expect(settings.update('u', { quality: 3 as 1 })).rejects.toThrow();
});

test('/prefer options are bounded in number, name and length; a refused change stores nothing', async () => {
  const { settings } = openStores(redis.client, 60, 'pref');
  const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`o${i}`, '--s 10']));
  expect(Object.keys((await settings.update('u', { options: twenty })).options)).toHaveLength(20);
  await expect(settings.update('u', { options: { ...twenty, o20: '--s 10' } })).rejects.toThrow();
  await expect(settings.update('u', { options: { 'Bad Name': '--s 10' } })).rejects.toThrow();
  await expect(settings.update('u', { suffix: `--s 1 ${'x'.repeat(300)}` })).rejects.toThrow();
  expect(Object.keys((await settings.get('u')).options)).toHaveLength(20);
});

const sized = (side: number) => ({ width: side, height: side });

test('image fingerprints: exact and near copies are recognised, far ones and refused origins are not', async () => {
  const { hashes } = openStores(redis.client, 60, 'h');
  await hashes.remember('abcdefabcdef', 2, { exact: 'e1', perceptual: '0123456789abcdef', ...sized(64) });
  await hashes.remember('bbbbbbbbbbbb', 'grid', {
    exact: 'e2',
    perceptual: 'fedcba9876543210',
    ...sized(128),
  });
  const yes = async () => true;
  expect(await hashes.recognise({ exact: 'e1', perceptual: '0000000000000000', ...sized(300) }, yes)).toEqual(
    {
      jobId: 'abcdefabcdef',
      index: 2,
    },
  );
  // Eight bits off (a re-encoded copy), found through a shared band; the grid slot is index null.
  expect(await hashes.recognise({ exact: 'x', perceptual: 'fedcba98765432ef', ...sized(300) }, yes)).toEqual({
    jobId: 'bbbbbbbbbbbb',
    index: null,
  });
  expect(
    await hashes.recognise({ exact: 'x', perceptual: 'f0f0f0f0f0f0f0f0', ...sized(300) }, yes),
  ).toBeNull();
  // An origin the member may not see (another server's job) is not offered.
  expect(
    await hashes.recognise({ exact: 'e1', perceptual: '0123456789abcdef', ...sized(300) }, async () => false),
  ).toBeNull();
});

test('image fingerprints: of copies of one picture the bot made, the largest is taken', async () => {
  const { hashes } = openStores(redis.client, 60, 'copies');
  // A grid image (64 px), its U upscale (128 px, one bit off) and that upscale's Upscale (Subtle) (256 px).
  await hashes.remember('gggggggggggg', 1, { exact: 'g', perceptual: '00000000000000ff', ...sized(64) });
  await hashes.remember('uuuuuuuuuuuu', 0, { exact: 'u', perceptual: '00000000000001ff', ...sized(128) });
  await hashes.remember('ssssssssssss', 0, { exact: 's', perceptual: '00000000000003ff', ...sized(256) });
  const yes = async () => true;
  const back = (side: number, perceptual = '00000000000000ff') =>
    hashes.recognise({ exact: '-', perceptual, ...sized(side) }, yes);
  // Whatever size the member saved it at, and even at 0 bits from the grid image.
  expect(await back(64)).toEqual({ jobId: 'ssssssssssss', index: 0 });
  expect(await back(300)).toEqual({ jobId: 'ssssssssssss', index: 0 });
  // Past SAME_COPY_BITS the nearer hash wins whatever the sizes: the grid image at 0 bits against a
  // 700 px picture 3 bits away.
  const apart = openStores(redis.client, 60, 'apart').hashes;
  await apart.remember('gggggggggggg', 1, { exact: 'g', perceptual: '00000000000000ff', ...sized(64) });
  await apart.remember('oooooooooooo', 2, { exact: 'o', perceptual: '00000000000007ff', ...sized(700) });
  expect(await apart.recognise({ exact: '-', perceptual: '00000000000000ff', ...sized(700) }, yes)).toEqual({
    jobId: 'gggggggggggg',
    index: 1,
  });
  // Refused origins fall through to the next copy.
  expect(
    await hashes.recognise(
      { exact: '-', perceptual: '00000000000000ff', ...sized(700) },
      async ({ jobId }) => jobId !== 'ssssssssssss',
    ),
  ).toEqual({ jobId: 'uuuuuuuuuuuu', index: 0 });
});
