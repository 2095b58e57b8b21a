import { mayShow, mayUseButtons } from '../../src/discord/job-access.js';

const job = (userId: string, guildId: string | null, channelId: string) => ({
  userId,
  reply: {
    applicationId: 'a',
    interactionToken: 't',
    interactionAt: 0,
    messageId: '@original',
    guildId,
    channelId,
  },
});

describe('buttons', () => {
  test("any member of the job's server may build on it; nobody from another server", () => {
    const record = job('bob', 'g1', 'general');
    expect(mayUseButtons(record, { guildId: 'g1', channelId: 'other', userId: 'cy' })).toBe(true);
    expect(mayUseButtons(record, { guildId: 'g2', channelId: 'general', userId: 'bob' })).toBe(false);
    expect(mayUseButtons(record, { guildId: null, channelId: 'dm', userId: 'bob' })).toBe(false);
  });

  test('in direct messages a job is reachable only by its maker, even with its id in a forged button', () => {
    const record = job('bob', null, 'dm-bob');
    expect(mayUseButtons(record, { guildId: null, channelId: 'dm-bob', userId: 'bob' })).toBe(true);
    expect(mayUseButtons(record, { guildId: null, channelId: 'dm-cy', userId: 'cy' })).toBe(false);
    expect(mayUseButtons(record, { guildId: 'g1', channelId: 'general', userId: 'bob' })).toBe(false);
  });
});

describe('/show', () => {
  test("one's own job anywhere on its server", () => {
    expect(mayShow(job('bob', 'g1', 'general'), { guildId: 'g1', channelId: 'art', userId: 'bob' })).toBe(
      true,
    );
  });

  test("someone else's only in the channel it was made in", () => {
    const record = job('bob', 'g1', 'general');
    expect(mayShow(record, { guildId: 'g1', channelId: 'general', userId: 'cy' })).toBe(true);
    expect(mayShow(record, { guildId: 'g1', channelId: 'art', userId: 'cy' })).toBe(false);
  });

  test('never across servers, and in direct messages only your own', () => {
    expect(mayShow(job('bob', 'g1', 'general'), { guildId: 'g2', channelId: 'general', userId: 'bob' })).toBe(
      false,
    );
    expect(mayShow(job('bob', null, 'dm-bob'), { guildId: null, channelId: 'dm-bob', userId: 'bob' })).toBe(
      true,
    );
    expect(mayShow(job('bob', null, 'dm-bob'), { guildId: null, channelId: 'dm-bob', userId: 'cy' })).toBe(
      false,
    );
  });
});
