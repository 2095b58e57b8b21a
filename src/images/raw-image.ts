/** An 8-bit RGB image, interleaved (HWC), as sharp's `raw()` returns and accepts it. */
export interface RawImage {
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes. */
  readonly data: Uint8Array;
}

export function rawImage(width: number, height: number, data: Uint8Array): RawImage {
  if (data.length !== width * height * 3) {
    throw new RangeError(
      `raw image ${width}x${height} needs ${width * height * 3} bytes, got ${data.length}`,
    );
  }
  return { width, height, data };
}
