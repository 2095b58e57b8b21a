/** Why an input image was refused; thrown before any inference runs. */
export type ImageInputErrorCode =
  | 'too-many-bytes'
  | 'not-an-image'
  | 'unsupported-format'
  | 'too-many-pixels'
  | 'too-large'
  | 'missing';

export class ImageInputError extends Error {
  override readonly name = 'ImageInputError';
  constructor(
    readonly code: ImageInputErrorCode,
    message: string,
  ) {
    super(message);
  }
}
