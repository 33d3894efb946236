// MNIST preprocessing in the browser: the steps of skdigits.images.preprocess_digit,
// operation for operation, so a drawing gives the model the same 28x28 pixels here as
// it does in Python (tests/export/test_web.py checks it on drawings and random arrays).
//
// Python computes in float32 where numpy does; Math.fround rounds each JavaScript
// (float64) result to float32, which for +, -, * and / gives exactly numpy's value.
// Sums follow numpy's order (pairwise along rows, sequential down columns) and the
// resize is Pillow's separable filter (box when shrinking, Lanczos when enlarging),
// because a centre of mass that lands on a half pixel is rounded either way by the
// last bit of a sum.

const f = Math.fround;
export const SIZE = 28; // side of an MNIST image
const BOX = 20; // the digit's longer side is scaled to this
const CENTRE = 14; // where the centre of mass goes
const MIN_CONTRAST = 24; // ink must stand this far above the background
const NOISE_SIGMAS = 3;
export const INK_THRESHOLD = 5;
const INK_THRESHOLD_LARGE = 32;

/**
 * RGBA pixels (a canvas's ImageData.data) → MNIST input, or null when there is no digit.
 * @param {Uint8ClampedArray} rgba  width * height * 4 bytes
 * @returns {Float32Array | null}  784 raw intensities 0-255, white digit on black
 */
export function preprocess(rgba, width, height) {
  const ink = inkMap(composite(rgba, width * height), width, height);
  if (ink === null) return null; // blank: no digit
  for (let i = 0; i < ink.length; i++) if (ink[i] < INK_THRESHOLD) ink[i] = 0;
  return centred({ data: ink, width, height });
}

// Pillow's RGBA -> LA conversion (integer ITU-R 601 luma), scaled to 0-255 in float32
// as skdigits.images reads uint8; transparent pixels become the contrasting background.
export function composite(rgba, n) {
  const grey = new Float32Array(n);
  const alpha = new Float32Array(n);
  let opaque = true;
  for (let i = 0; i < n; i++) {
    const r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2], a = rgba[4 * i + 3];
    const luma = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
    grey[i] = f(f(luma / 255) * 255);
    alpha[i] = f(f(f(a / 255) * 255) / 255);
    if (alpha[i] < 1) opaque = false;
  }
  if (opaque) return grey;
  const opacity = pairwiseSum(alpha, 0, n);
  if (opacity === 0) return new Float32Array(n);
  const weighted = new Float32Array(n);
  for (let i = 0; i < n; i++) weighted[i] = f(alpha[i] * grey[i]);
  const background = pairwiseSum(weighted, 0, n) / opacity < 127.5 ? 255 : 0;
  for (let i = 0; i < n; i++) grey[i] = f(weighted[i] + f(f(1 - alpha[i]) * background));
  return grey;
}

/**
 * Greyscale 0-255 → white ink on black with its peak stretched to 255 (skdigits.io's
 * _ink_map on a picture that is no photo), or null when no ink stands out.
 * @returns {Float32Array | null}
 */
export function inkMap(grey, width, height) {
  let border = borderOf(grey, width, height);
  if (median(border) > 127.5) { // dark ink on light paper
    for (let i = 0; i < grey.length; i++) grey[i] = f(255 - grey[i]);
    border = border.map((v) => f(255 - v));
  }
  const background = median(border);
  const sigma = 1.4826 * median(border.map((v) => Math.abs(f(v - background))));
  const level = f(background + NOISE_SIGMAS * sigma);
  const ink = new Float32Array(grey.length);
  let peak = 0;
  for (let i = 0; i < ink.length; i++) {
    ink[i] = Math.max(f(grey[i] - level), 0);
    if (ink[i] > peak) peak = ink[i];
  }
  if (peak < Math.max(MIN_CONTRAST, NOISE_SIGMAS * sigma)) return null;
  const stretch = f(255 / peak);
  for (let i = 0; i < ink.length; i++) ink[i] = f(ink[i] * stretch);
  return ink;
}

/**
 * White ink on black (some of it nonzero) → cropped to its box, fitted to 20 × 20 and
 * pasted into 28 × 28 with its centre of mass at (14, 14): skdigits.io's _centred.
 * @param {{data: Float32Array, width: number, height: number}} image
 * @returns {Float32Array}  784 values
 */
export function centred(image) {
  let crop = cropToInk(image);
  if (Math.max(crop.width, crop.height) >= 2 * BOX) {
    for (let i = 0; i < crop.data.length; i++) if (crop.data[i] < INK_THRESHOLD_LARGE) crop.data[i] = 0;
    crop = cropToInk(crop);
  }
  return centre(fitBox(crop));
}

// The pixels of a frame about 2% of the shorter side thick, in numpy's order.
function borderOf(image, width, height) {
  const band = Math.max(1, Math.floor(Math.min(height, width) / 50));
  if (2 * band >= Math.min(height, width)) return Array.from(image);
  const out = [];
  const rows = (y0, y1, x0, x1) => {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) out.push(image[y * width + x]);
  };
  rows(0, band, 0, width);
  rows(height - band, height, 0, width);
  rows(band, height - band, 0, band);
  rows(band, height - band, width - band, width);
  return out;
}

// numpy's median of float32 values: the middle one, or the float32 mean of the two.
function median(values) {
  const sorted = Float32Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : f(f(sorted[mid - 1] + sorted[mid]) / 2);
}

function cropToInk(image) {
  const { data, width, height } = image;
  let top = height, bottom = -1, left = width, right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] !== 0) {
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  const w = right - left + 1, h = bottom - top + 1;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    out.set(data.subarray((top + y) * width + left, (top + y) * width + left + w), y * w);
  }
  return { data: out, width: w, height: h };
}

// Python's round(): halves go to the even neighbour.
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function fitBox(crop) {
  const scale = BOX / Math.max(crop.width, crop.height);
  const width = Math.max(1, roundHalfEven(crop.width * scale));
  const height = Math.max(1, roundHalfEven(crop.height * scale));
  const filter = scale <= 1 ? BOX_FILTER : LANCZOS_FILTER;
  const out = resize(crop, width, height, filter);
  for (let i = 0; i < out.data.length; i++) out.data[i] = Math.min(Math.max(out.data[i], 0), 255);
  return out;
}

// --- Pillow's resample (libImaging/Resample.c) for 32-bit float images ---------------

const BOX_FILTER = { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) };
const sinc = (x) => (x === 0 ? 1 : Math.sin(x * Math.PI) / (x * Math.PI));
const LANCZOS_FILTER = { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) };

function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ss = 1 / filterScale;
  const bounds = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const weights = [];
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * ss);
      weights.push(w);
      total += w;
    }
    bounds.push({ xmin, weights: total !== 0 ? weights.map((w) => w / total) : weights });
  }
  return bounds;
}

function resize(image, width, height, filter) {
  if (width === image.width && height === image.height) {
    return { data: Float32Array.from(image.data), width, height };
  }
  const vertical = coefficients(image.height, height, filter);
  let src = image;
  if (width !== image.width) { // horizontal pass first, over the rows the vertical one reads
    const first = vertical[0].xmin;
    const last = vertical[height - 1].xmin + vertical[height - 1].weights.length;
    const horizontal = coefficients(image.width, width, filter);
    const data = new Float32Array(width * (last - first));
    for (let y = first; y < last; y++) {
      for (let xx = 0; xx < width; xx++) {
        const { xmin, weights } = horizontal[xx];
        let sum = 0;
        for (let x = 0; x < weights.length; x++) sum += image.data[y * image.width + xmin + x] * weights[x];
        data[(y - first) * width + xx] = sum;
      }
    }
    for (const b of vertical) b.xmin -= first;
    src = { data, width, height: last - first };
  }
  if (height === image.height) return src;
  const data = new Float32Array(width * height);
  for (let yy = 0; yy < height; yy++) {
    const { xmin, weights } = vertical[yy];
    for (let xx = 0; xx < width; xx++) {
      let sum = 0;
      for (let y = 0; y < weights.length; y++) sum += src.data[(xmin + y) * width + xx] * weights[y];
      data[yy * width + xx] = sum;
    }
  }
  return { data, width, height };
}

// --- centring by mass, summed as numpy sums float32 ------------------------------------

// numpy's pairwise summation of float32 (blocks of 128, eight accumulators).
function pairwiseSum(a, start, n) {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = f(res + a[start + i]);
    return res;
  }
  if (n <= 128) {
    const r = Array.from(a.subarray(start, start + 8));
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = f(r[j] + a[start + i + j]);
    let res = f(f(f(r[0] + r[1]) + f(r[2] + r[3])) + f(f(r[4] + r[5]) + f(r[6] + r[7])));
    for (; i < n; i++) res = f(res + a[start + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return f(pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2));
}

function centre(patch) {
  const { data, width, height } = patch;
  const total = pairwiseSum(data, 0, data.length);
  let cy = (height - 1) / 2, cx = (width - 1) / 2;
  if (total > 0) {
    let rowMoment = 0;
    for (let y = 0; y < height; y++) rowMoment += pairwiseSum(data, y * width, width) * y;
    // Down the columns numpy adds row after row, except for a single column, which
    // it sums pairwise like a row.
    const columns = width === 1 ? [total] : new Float32Array(width);
    for (let y = 0; y < height && width > 1; y++) {
      for (let x = 0; x < width; x++) columns[x] = f(columns[x] + data[y * width + x]);
    }
    let columnMoment = 0;
    for (let x = 0; x < width; x++) columnMoment += columns[x] * x;
    cy = rowMoment / total;
    cx = columnMoment / total;
  }
  // Round half up, and keep a lopsided digit whole inside the field, as Python does.
  const top = Math.min(Math.max(Math.floor(CENTRE - cy + 0.5), 0), SIZE - height);
  const left = Math.min(Math.max(Math.floor(CENTRE - cx + 0.5), 0), SIZE - width);
  const out = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < height; y++) {
    out.set(data.subarray(y * width, (y + 1) * width), (top + y) * SIZE + left);
  }
  return out;
}
