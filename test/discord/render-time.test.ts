import { renderTime } from '../../src/discord/messages.js';

test('render times in a reply: one decimal, and "<0.1 s" for the few-millisecond jobs (upscales)', () => {
  expect(renderTime(1.44)).toBe('1.4 s');
  expect(renderTime(0.05)).toBe('0.1 s');
  expect(renderTime(0.012)).toBe('<0.1 s');
  expect(renderTime(0)).toBe('<0.1 s');
});
