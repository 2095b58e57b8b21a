/** Why a prompt was refused; `culprit` is the piece of the prompt the message is about. */
export type PromptErrorCode =
  | 'empty'
  | 'too-long'
  | 'unknown-parameter'
  | 'duplicate-parameter'
  | 'bad-value'
  | 'out-of-range'
  | 'missing-value'
  | 'bad-url'
  | 'url-position'
  | 'bad-weight'
  | 'image-only'
  | 'permutation';

/** A malformed prompt. The message is written for the person who typed it. */
export class PromptError extends Error {
  override readonly name = 'PromptError';
  constructor(
    readonly code: PromptErrorCode,
    message: string,
    readonly culprit?: string,
  ) {
    super(message);
  }
}
