/**
 * Prompt tokenization through @huggingface/tokenizers (no hand-rolled BPE). A folder with `tokenizer.json`
 * loads as is; a stock Stable Diffusion folder with only `vocab.json` + `merges.txt` (CLIP BPE) is turned into
 * the `tokenizer.json` that transformers' CLIPTokenizerFast would write, then loaded the same way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelFolderError } from '../model/config.js';

export interface PromptTokenizer {
  /** Sequence length the text encoder expects (model_max_length). */
  readonly maxLength: number;
  readonly padId: number;
  /** Token ids with special tokens, truncated (keeping the final special token) and padded to maxLength. */
  encode(text: string): number[];
  /** What `encode` cuts off a text too long for the encoder's window (null when it fits). */
  overflow(text: string): { kept: number; cut: string } | null;
}

interface TokenizerConfig {
  model_max_length?: number;
  pad_token?: string | { content: string };
  bos_token?: string | { content: string };
  eos_token?: string | { content: string };
  unk_token?: string | { content: string };
  [key: string]: unknown;
}

function tokenContent(token: TokenizerConfig['pad_token']): string | undefined {
  return typeof token === 'string' ? token : token?.content;
}

/** CLIP's pre-tokenizer pattern (lowercased text: contractions, letters, single digits, other symbols). */
const CLIP_SPLIT =
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** The tokenizer.json of openai/clip-vit-* (CLIPTokenizerFast) built from vocab.json + merges.txt. */
export function clipTokenizerJson(vocab: Record<string, number>, merges: string[], config: TokenizerConfig) {
  const bos = tokenContent(config.bos_token) ?? '<|startoftext|>';
  const eos = tokenContent(config.eos_token) ?? '<|endoftext|>';
  const unk = tokenContent(config.unk_token) ?? eos;
  const special = (content: string) => {
    const id = vocab[content];
    if (id === undefined) throw new ModelFolderError(`vocab.json has no ${content}`);
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true };
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(bos), special(eos)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [eos, vocab[eos]],
      cls: [bos, vocab[bos]],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ModelFolderError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

class FixedLengthTokenizer implements PromptTokenizer {
  constructor(
    private readonly tokenizer: Tokenizer,
    readonly maxLength: number,
    readonly padId: number,
  ) {}

  encode(text: string): number[] {
    let ids = this.tokenizer.encode(text, { add_special_tokens: true }).ids;
    if (ids.length > this.maxLength) {
      // Keep the closing special token (CLIP's EOS, BERT's [SEP]): encoders pool or attend on it.
      ids = [...ids.slice(0, this.maxLength - 1), ids[ids.length - 1]!];
    }
    return [...ids, ...new Array<number>(this.maxLength - ids.length).fill(this.padId)];
  }

  overflow(text: string): { kept: number; cut: string } | null {
    const plain = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const specials = this.tokenizer.encode('', { add_special_tokens: true }).ids.length;
    const room = this.maxLength - specials;
    if (plain.length <= room) return null;
    return {
      kept: room,
      cut: this.tokenizer.decode(plain.slice(room), { skip_special_tokens: true }).trim(),
    };
  }
}

/** Loads `<dir>` (a model's `tokenizer/` folder); `fallbackLength` is used when the config names none. */
export function loadPromptTokenizer(dir: string, fallbackLength = 77): PromptTokenizer {
  const configPath = join(dir, 'tokenizer_config.json');
  const config = (existsSync(configPath) ? readJson(configPath) : {}) as TokenizerConfig;
  let json: Record<string, unknown>;
  if (existsSync(join(dir, 'tokenizer.json'))) {
    json = readJson(join(dir, 'tokenizer.json')) as Record<string, unknown>;
  } else if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) {
    const vocab = readJson(join(dir, 'vocab.json')) as Record<string, number>;
    const merges = readFileSync(join(dir, 'merges.txt'), 'utf8')
      .split('\n')
      .filter((line) => line.length > 0 && !line.startsWith('#version'));
    json = clipTokenizerJson(vocab, merges, config);
  } else {
    throw new ModelFolderError(`${dir} has neither tokenizer.json nor vocab.json + merges.txt`);
  }
  const tokenizer = new Tokenizer(json, config);
  // Huge sentinel values (1e30) mean "no limit" in transformers; the encoder's own length wins then.
  const configured = config.model_max_length;
  const maxLength = configured !== undefined && configured < 100_000 ? configured : fallbackLength;
  const padToken = tokenContent(config.pad_token);
  const padding = json['padding'] as { pad_id?: number } | null | undefined;
  const padId =
    (padToken === undefined ? undefined : tokenizer.token_to_id(padToken)) ?? padding?.pad_id ?? 0;
  return new FixedLengthTokenizer(tokenizer, maxLength, padId);
}
