/**
 * Checks of the lineage walk behind GET /lineage/:jobId (src/sandbox/web/lineage.ts) on made-up job
 * records, no Redis or browser needed: the generation cap, a reroll of a variation (two edges to
 * different jobs), expired parents, /blend's uploads, and image prompts that repeat a recorded parent.
 * Run first by `npm run test:browser`; exits non-zero on failure.
 */
import assert from 'node:assert/strict';
import type { JobKind } from '../../src/jobs/kinds.js';
import type { ParentRef, WeightedPrompt } from '../../src/jobs/spec.js';
import { DEFAULT_PARAMS } from '../../src/prompt/index.js';
import { MAX_GENERATIONS, readLineage } from '../../src/sandbox/web/lineage.js';
import type { JobRecord } from '../../src/store/job-records.js';

const id = (n: number | string) => String(n).padStart(12, 'j');

function record(
  jobId: string,
  kind: JobKind,
  parents: ParentRef[],
  prompts: WeightedPrompt[] = [{ kind: 'text', text: 'a fox', weight: 1, normalized: 1 }],
): JobRecord {
  return {
    id: jobId,
    kind,
    userId: 'u',
    description: {
      prompt: '',
      prompts,
      weightSum: 1,
      params: { ...DEFAULT_PARAMS, seed: 7 },
      parents,
      notes: [],
    },
    reply: {
      applicationId: 'a',
      interactionToken: 't',
      interactionAt: 0,
      messageId: '@original',
      channelId: 'c',
      guildId: 'g',
    },
    createdAt: 0,
    status: 'done',
  };
}

function store(records: JobRecord[]) {
  const byId = new Map(records.map((r) => [r.id, r]));
  return { records: { get: async (jobId: string) => byId.get(jobId) ?? null } } as unknown as Parameters<
    typeof readLineage
  >[0];
}

const image = (url: string): WeightedPrompt => ({ kind: 'image', url, weight: 1, normalized: 0.5 });

// A chain of 20 variations: the walk stops after MAX_GENERATIONS and says so.
{
  const chain = [record(id(0), 'imagine', [])];
  for (let n = 1; n < 20; n++)
    chain.push(record(id(n), 'variation', [{ jobId: id(n - 1), index: 0, role: 'variation-strong' }]));
  const lineage = await readLineage(store(chain), id(19));
  assert.ok(lineage);
  assert.equal(lineage.nodes.length, MAX_GENERATIONS + 1);
  assert.equal(lineage.truncated, true);
  assert.equal(Math.max(...lineage.nodes.map((n) => n.generation)), MAX_GENERATIONS);
}

// A reroll of a variation points at the variation's source and at the rerolled job; an upscale shows
// image 0 of itself; a parent that expired is a node without a picture.
{
  const records = [
    record(id('a'), 'imagine', []),
    record(
      id('v'),
      'variation',
      [{ jobId: id('a'), index: 2, role: 'variation-subtle' }],
      [image(`job:${id('a')}/2`)],
    ),
    record(id('r'), 'reroll', [
      { jobId: id('a'), index: 2, role: 'variation-subtle' },
      { jobId: id('v'), index: null, role: 'reroll' },
    ]),
    // The upscale's copied image prompt belongs to an ancestor; it adds no edge here.
    {
      ...record(
        id('u'),
        'upscale',
        [{ jobId: id('r'), index: 1, role: 'upscale' }],
        [image(`job:${id('a')}/2`)],
      ),
      index: 1,
    },
    record(id('x'), 'variation', [{ jobId: id('gone'), index: 0, role: 'variation-strong' }]),
  ];
  const lineage = await readLineage(store(records), id('u'));
  assert.ok(lineage);
  assert.deepEqual(
    lineage.nodes.map((n) => [n.jobId, n.generation]),
    [
      [id('u'), 0],
      [id('r'), 1],
      [id('a'), 2],
      [id('v'), 2],
    ],
  );
  assert.equal(lineage.truncated, false);
  const [upscale, reroll, , variation] = lineage.nodes;
  assert.equal(upscale?.image, `/images/${id('u')}/0`);
  assert.equal(upscale?.index, 1);
  assert.equal(reroll?.image, `/images/${id('r')}/grid`);
  assert.deepEqual(
    reroll?.parents.map((p) => p.role),
    ['variation-subtle', 'reroll'],
  );
  assert.equal(variation?.parents.length, 1);
  assert.equal(upscale?.parents.length, 1);

  const orphan = await readLineage(store(records), id('x'));
  assert.deepEqual(
    orphan?.nodes.map((n) => [n.kind, n.image]),
    [
      ['variation', `/images/${id('x')}/grid`],
      ['expired', null],
    ],
  );
  assert.equal(await readLineage(store(records), id('none')), null);
}

// /blend records no parents; its uploads become `upload` nodes with blend edges. An /imagine with an
// earlier grid image as its image prompt links to that job.
{
  const blend = record(id('b'), 'blend', [], [image(`upload:${id('p1')}`), image(`upload:${id('p2')}`)]);
  const lineage = await readLineage(store([blend]), id('b'));
  const prompted = record(id('i'), 'imagine', [], [image(`job:${id('b')}/3`), image(`job:${id('b')}/3`)]);
  const withPrompt = await readLineage(store([blend, prompted]), id('i'));
  assert.deepEqual(withPrompt?.nodes[0]?.parents, [{ jobId: id('b'), index: 3, role: 'image-prompt' }]);
  assert.equal(withPrompt?.nodes.length, 4);
  assert.deepEqual(
    lineage?.nodes.map((n) => [n.kind, n.image]),
    [
      ['blend', `/images/${id('b')}/grid`],
      ['upload', `/images/${id('p1')}/upload`],
      ['upload', `/images/${id('p2')}/upload`],
    ],
  );
  assert.deepEqual(
    lineage?.nodes[0]?.parents.map((p) => p.role),
    ['blend', 'blend'],
  );
}

console.log('Lineage walk checks passed.');
