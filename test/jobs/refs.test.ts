import {
  JOB_ID_PATTERN,
  jobImageRef,
  newJobId,
  parseImageRef,
  uploadIdOf,
  uploadRef,
} from '../../src/jobs/refs.js';

test('new ids match the one id pattern and do not repeat', () => {
  const ids = new Set(Array.from({ length: 1000 }, newJobId));
  expect(ids.size).toBe(1000);
  for (const id of ids) expect(id).toMatch(JOB_ID_PATTERN);
});

test('references round-trip through build and parse', () => {
  const id = newJobId();
  expect(parseImageRef(jobImageRef(id, 2))).toEqual({ kind: 'job', jobId: id, slot: 2 });
  expect(parseImageRef(jobImageRef(id, 'grid'))).toEqual({ kind: 'job', jobId: id, slot: 'grid' });
  expect(parseImageRef(uploadRef(id))).toEqual({ kind: 'upload', id });
  expect(uploadIdOf(uploadRef(id))).toBe(id);
  expect(uploadIdOf(jobImageRef(id, 0))).toBeNull();
});

test('anything else is not a reference: links, other slots, forged or traversing ids', () => {
  for (const reference of [
    'https://example.com/a.png',
    'job:abcdefabcdef/4',
    'job:abcdefabcdef/0/x',
    'job:../../x/0',
    'upload:ABCDEFABCDEF',
    'upload:abc',
    'upload:abcdefabcdef\n',
    ' job:abcdefabcdef/0',
  ])
    expect(parseImageRef(reference)).toBeNull();
});
