import { readModelInfo } from '../../src/model/info.js';

test('the shipped model: sizes and steps as the engine reads them', () => {
  const info = readModelInfo('models/emoji-ld');
  expect(info).toMatchObject({ name: 'emoji-ld', imagePrompts: 'encoder', canDescribe: true });
  expect(info.baseSize % info.sizeMultiple).toBe(0);
  expect(info.baseSteps).toBeGreaterThan(0);
  // Inputs are kept at what the model reads: its encoder's size or an init image at 4:1.
  expect(info.inputSide).toBe(Math.max(32, 2 * info.baseSize));
});

test('a Stable Diffusion layout without an image encoder turns image prompts into init images', () => {
  const info = readModelInfo('test/fixtures/models/sd15-tiny/');
  expect(info).toMatchObject({ name: 'sd15-tiny', imagePrompts: 'init-image', canDescribe: false });
});
