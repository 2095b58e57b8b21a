/**
 * /describe: prompts that would draw something like an image, in words the model knows. The shipped
 * model's text and image encoders share one contrastive space (pooled text `pooler_output`, image
 * `image_embeds`), so the image's embedding is compared with the embedding of every concept label it
 * was trained on (`describe/vocabulary.json` in the model folder); the best concepts, each with the tag
 * of its own that is nearest to the image, become four distinct prompts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RawImage } from '../images/raw-image.js';
import { GenerationRequestError } from './request.js';

/** What describing needs of a model: pooled text embeddings and the image embedding, in one space. */
export interface EmbeddingModel {
  embedTexts(texts: readonly string[]): Promise<Float32Array[]>;
  /** Null when the model has no image encoder. */
  embedImage(image: RawImage): Promise<Float32Array | null>;
}

interface Concept {
  label: string;
  tags: string[];
}

/** How many prompts one /describe answers with (Midjourney's four). */
export const DESCRIPTIONS = 4;

export class Describer {
  private labels: Float32Array[] | null = null;

  private constructor(
    private readonly model: EmbeddingModel,
    private readonly concepts: readonly Concept[],
  ) {}

  /** The describer of a model folder, or null when it has no vocabulary to describe with. */
  static forModel(modelDir: string, model: EmbeddingModel): Describer | null {
    const path = join(modelDir, 'describe', 'vocabulary.json');
    if (!existsSync(path)) return null;
    const file = JSON.parse(readFileSync(path, 'utf8')) as { concepts: { en: Concept }[] };
    return new Describer(
      model,
      file.concepts.map((c) => ({ label: c.en.label, tags: c.en.tags })),
    );
  }

  /** Four prompts for the image, passing over the `skip` best (so 🔄 gives four more). */
  async describe(image: RawImage, skip = 0): Promise<string[]> {
    const target = await this.model.embedImage(image);
    if (!target)
      throw new GenerationRequestError('this model has no image encoder, so it cannot describe images');
    const unit = normalize(target);
    // The labels' embeddings do not change: computed once per thread, on the first /describe.
    this.labels ??= (await this.model.embedTexts(this.concepts.map((c) => c.label))).map(normalize);
    const ranked = this.labels
      .map((embedding, index) => ({ index, score: dot(embedding, unit) }))
      .sort((a, b) => b.score - a.score)
      .slice(skip, skip + DESCRIPTIONS);
    return Promise.all(
      ranked.map(async ({ index }) => {
        const concept = this.concepts[index]!;
        const tag = await this.nearestTag(concept, unit);
        return tag ? `${concept.label}, ${tag}` : concept.label;
      }),
    );
  }

  /** The concept's tag nearest to the image that adds a word its label does not have. */
  private async nearestTag(concept: Concept, image: Float32Array): Promise<string | null> {
    const words = new Set(concept.label.toLowerCase().split(/[^\p{L}\p{N}]+/u));
    const tags = concept.tags.filter((t) => !words.has(t.toLowerCase()));
    if (tags.length === 0) return null;
    const embeddings = (await this.model.embedTexts(tags)).map(normalize);
    let best = 0;
    for (let i = 1; i < tags.length; i++)
      if (dot(embeddings[i]!, image) > dot(embeddings[best]!, image)) best = i;
    return tags[best]!;
  }
}

function normalize(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const v of vector) norm += v * v;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  return vector.map((v) => v * scale);
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}
