/**
 * The canvas actions (Zoom Out, Pan, Make Square, Vary (Region)): what the new image's canvas is and
 * where the source sits on it, in the model's pixels. The source is first brought to the model's native
 * area (as Midjourney keeps the size: a zoomed image zoomed again shows its source smaller), so a canvas
 * is never more than MAX_CANVAS_AREA times the native area.
 */
import { type AspectRatio, dimensionsFor } from '../model/dimensions.js';

export type PanDirection = 'left' | 'right' | 'up' | 'down';

export type CanvasSpec =
  /** Zoom Out (`zoom` 1-2; a new `aspect` from Custom Zoom), a pan, or Make Square: paint around the source. */
  | { mode: 'outpaint'; zoom: number; aspect?: AspectRatio; pan?: PanDirection; square?: boolean }
  /** Vary (Region): repaint the chosen cells of a 3x3 grid over the source (0-8, row by row). */
  | { mode: 'region'; cells: number[] };

export interface CanvasLayout {
  width: number;
  height: number;
  /** Where the source sits, in canvas pixels. */
  place: { x: number; y: number; width: number; height: number };
}

/** Largest canvas, in native areas (a 2x zoom of a native image). */
export const MAX_CANVAS_AREA = 4;

export function canvasLayout(
  spec: CanvasSpec,
  source: { width: number; height: number },
  baseSize: number,
  multiple: number,
): CanvasLayout {
  const native = dimensionsFor(source, baseSize, multiple);
  const round = (v: number) => Math.max(multiple, Math.round(v / multiple) * multiple);
  if (spec.mode === 'region') {
    return { ...native, place: { x: 0, y: 0, ...native } };
  }
  let width: number;
  let height: number;
  if (spec.pan === 'left' || spec.pan === 'right') {
    width = round(native.width * 1.5);
    height = native.height;
  } else if (spec.pan === 'up' || spec.pan === 'down') {
    width = native.width;
    height = round(native.height * 1.5);
  } else if (spec.square) {
    width = height = Math.max(native.width, native.height);
  } else {
    const zoom = Math.min(2, Math.max(1, spec.zoom));
    const ratio = spec.aspect ? spec.aspect.width / spec.aspect.height : native.width / native.height;
    const area = zoom * zoom * native.width * native.height;
    width = Math.max(native.width, round(Math.sqrt(area * ratio)));
    height = Math.max(native.height, round(Math.sqrt(area / ratio)));
  }
  // A canvas past the largest area shrinks as a whole, the source with it.
  let scale = 1;
  const limit = MAX_CANVAS_AREA * baseSize * baseSize;
  if (width * height > limit) scale = Math.sqrt(limit / (width * height));
  const w = Math.min(round(width * scale), Math.floor((width * scale) / multiple) * multiple || multiple);
  const h = Math.min(round(height * scale), Math.floor((height * scale) / multiple) * multiple || multiple);
  const sw = Math.min(w, Math.round(native.width * scale));
  const sh = Math.min(h, Math.round(native.height * scale));
  const x = spec.pan === 'right' ? 0 : spec.pan === 'left' ? w - sw : Math.round((w - sw) / 2);
  const y = spec.pan === 'down' ? 0 : spec.pan === 'up' ? h - sh : Math.round((h - sh) / 2);
  return { width: w, height: h, place: { x, y, width: sw, height: sh } };
}

/** The named regions Vary (Region) offers, as cells of a 3x3 grid (0-8, row by row). */
export const REGIONS: Readonly<Record<string, { label: string; cells: readonly number[] }>> = {
  'top-left': { label: 'Top left', cells: [0] },
  top: { label: 'Top', cells: [1] },
  'top-right': { label: 'Top right', cells: [2] },
  left: { label: 'Left', cells: [3] },
  centre: { label: 'Centre', cells: [4] },
  right: { label: 'Right', cells: [5] },
  'bottom-left': { label: 'Bottom left', cells: [6] },
  bottom: { label: 'Bottom', cells: [7] },
  'bottom-right': { label: 'Bottom right', cells: [8] },
  'left-half': { label: 'Left half', cells: [0, 3, 6] },
  'right-half': { label: 'Right half', cells: [2, 5, 8] },
  'top-half': { label: 'Top half', cells: [0, 1, 2] },
  'bottom-half': { label: 'Bottom half', cells: [6, 7, 8] },
};

/**
 * Per canvas pixel, 1 where the model paints and 0 where the source is kept: outside the source for an
 * outpaint, inside the chosen cells for a region.
 */
export function paintMask(spec: CanvasSpec, layout: CanvasLayout): Float32Array {
  const { width, height, place } = layout;
  const mask = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let paint: boolean;
      if (spec.mode === 'region') {
        const cell = Math.min(2, Math.floor((3 * y) / height)) * 3 + Math.min(2, Math.floor((3 * x) / width));
        paint = spec.cells.includes(cell);
      } else {
        paint = x < place.x || y < place.y || x >= place.x + place.width || y >= place.y + place.height;
      }
      mask[y * width + x] = paint ? 1 : 0;
    }
  }
  return mask;
}
