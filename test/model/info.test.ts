import { readModelInfo } from '../../src/model/info.js';
import { stepsFor } from '../../src/policy/evaluate.js';
import { parsePrompt } from '../../src/prompt/parse.js';

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

test('few-step families: their steps at --q 1 and the --q rule the bot, engine and deadlines share', () => {
  const turbo = readModelInfo('test/fixtures/models/sd-turbo-tiny');
  const lcm = readModelInfo('test/fixtures/models/sd15-lcm-tiny');
  expect(turbo).toMatchObject({ distilled: 'turbo', baseSteps: 2 });
  expect(lcm).toMatchObject({ distilled: 'lcm', baseSteps: 4 });
  expect(readModelInfo('test/fixtures/models/sd15-tiny/')).toMatchObject({
    distilled: 'none',
    baseSteps: 20,
  });
  const job = parsePrompt('a cat --q 2');
  expect(stepsFor(job, turbo.baseSteps, turbo.distilled)).toBe(4);
  expect(stepsFor(job, lcm.baseSteps, lcm.distilled)).toBe(8);
  expect(stepsFor(job, 20)).toBe(40);
});

test('SDXL takes image prompts as init images, and each family says how it takes guidance', () => {
  expect(readModelInfo('test/fixtures/models/sdxl-tiny')).toMatchObject({
    imagePrompts: 'init-image',
    guidance: 'cfg',
  });
  expect(readModelInfo('test/fixtures/models/sd-turbo-tiny').guidance).toBe('none');
  expect(readModelInfo('test/fixtures/models/sd15-lcm-tiny').guidance).toBe('embedded');
});
