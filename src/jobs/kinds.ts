/**
 * Every kind of job the bot makes, and what each one produces. Adding a kind is an entry here, its
 * engine task (src/diffusion) and the component or command that starts it.
 */
export const JOB_KINDS = {
  /** `/imagine`: a 2x2 grid from a prompt. */
  imagine: { engineTask: 'generate', output: 'grid' },
  /** 🔄: the same prompt again with a new seed. */
  reroll: { engineTask: 'generate', output: 'grid' },
  /** V1-V4, Vary (Strong/Subtle): a grid that starts from one earlier image. */
  variation: { engineTask: 'generate', output: 'grid' },
  /** Zoom Out, Pan, Make Square, Vary (Region): a grid that keeps one image and paints around or in it. */
  canvas: { engineTask: 'generate', output: 'grid' },
  /** Opposite: a grid pushed away from one image (that image at weight -1, plus any remix text). */
  opposite: { engineTask: 'generate', output: 'grid' },
  /** `/blend`: a grid from 2-5 uploads as equal image prompts. */
  blend: { engineTask: 'generate', output: 'grid' },
  /** U1-U4, Upscale 2x: one image at twice the size. */
  upscale: { engineTask: 'upscale', output: 'image' },
  /** `/describe`: four prompts in words the model knows, for an image (a text result). */
  describe: { engineTask: 'describe', output: 'text' },
} as const satisfies Record<string, { engineTask: EngineTaskName; output: 'grid' | 'image' | 'text' }>;

/** What a worker runs; the engine keeps one handler for each (src/diffusion/run-job.ts). */
export type EngineTaskName = 'generate' | 'upscale' | 'describe';

export type JobKind = keyof typeof JOB_KINDS;
export type JobOutputKind = (typeof JOB_KINDS)[JobKind]['output'];

export const outputOf = (kind: JobKind): JobOutputKind => JOB_KINDS[kind].output;
export const engineTaskOf = (kind: JobKind): EngineTaskName => JOB_KINDS[kind].engineTask;
