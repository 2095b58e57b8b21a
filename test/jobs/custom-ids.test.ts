import fc from 'fast-check';
import {
  type ButtonAction,
  encodeButton,
  encodeRemixModal,
  parseButton,
  parseRemixModal,
} from '../../src/jobs/custom-ids.js';

const jobId = 'abc123def456';

test("every button round-trips and stays within Discord's 100 characters", () => {
  const buttons: ButtonAction[] = [
    { action: 'upscale', index: 1, jobId },
    { action: 'vary-strong', index: 4, jobId },
    { action: 'reroll', jobId },
    { action: 'vary-strong', jobId },
    { action: 'vary-subtle', jobId },
    { action: 'upscale-subtle', jobId },
    { action: 'upscale-creative', jobId },
    { action: 'zoom-1.5', jobId },
    { action: 'pan-left', jobId },
    { action: 'make-square', jobId },
    { action: 'vary-region', jobId },
  ];
  for (const button of buttons) {
    const id = encodeButton(button);
    expect(parseButton(id)).toEqual(button);
    expect(parseRemixModal(encodeRemixModal(button))).toEqual(button);
    expect(id.length).toBeLessThanOrEqual(100);
  }
});

test.each([
  'u:5:abc123def456',
  'u:0:abc123def456',
  'v:1:ABC123DEF456',
  'r:abc',
  'x:abc123def456',
  'u:1:abc123def456:extra',
  'r:abc123def456 ',
  '',
])('a tampered id is refused: %p', (id) => {
  expect(parseButton(id)).toBeNull();
});

test('arbitrary strings never parse unless they are exactly a valid id', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 120 }), (id) => {
      const parsed = parseButton(id);
      if (parsed) expect(encodeButton(parsed)).toBe(id);
    }),
  );
});
