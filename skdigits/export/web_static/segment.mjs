// A picture of a whole number → candidate digits, each MNIST-style: skdigits.io's
// segment_number (skdigits/io/_segment.py) ported step by step, so a drawing gives
// the same pieces, candidates, boxes and 28x28 images here as in Python
// (tests/export/test_web_numbers.py checks it). The Python module's docstrings say
// why each step is there; the comments here say where JavaScript must take care.
//
// Pixels are visited in numpy's order (row by row) wherever a float sum or a tie
// depends on it; ties go where numpy's argmin, argsort(kind="stable") and max() send
// them. The photo route (lighting and ruled lines taken away) is not ported: a
// drawing on the page is never one.
import { centred, composite, inkMap, INK_THRESHOLD, roundHalfEven } from "./preprocess.mjs";

export const MAX_PIECES = 256;
const CORE_LEVEL = 64;
const RIM_STEPS = 2;
const SPECK = 0.25;
const MAX_SPAN = 6;
const MAX_WIDTH = 1.3;
const MAX_SLANT = 0.7;
const CUT_COST = 1.5;
const FORCED_CUTS = 3;
const CUT_DEPTH = 0.25;
const CUT_MARGIN = 0.1;
const SHORT = 0.6;
const SMALL = 0.6;
const BEND = 0.25;
const STEP = 0.1;
const STRAY = 0.5;
const PATH_COST = 2.0;
const APART = 0.25;
const PATH_CELLS = 1 << 20;
const TWO = 1.3;
const f = Math.fround;

/**
 * Cut a drawing of a number into candidate digits.
 * @param {Uint8ClampedArray} rgba  width * height * 4 bytes (a canvas's ImageData.data)
 * @returns {null | {nPieces: number, spans: number[][], images: Float32Array,
 *   boxes: number[][], widths: number[], joins: number[], marks: number[]}}  null when
 *   nothing is drawn; images holds 784 values per candidate, boxes are x0, y0, x1, y1
 *   (ends exclusive), marks the mark (connected stroke) each piece was cut from
 */
export function segmentNumber(rgba, width, height) {
  const ink = inkMap(composite(rgba, width * height), width, height);
  if (ink === null) return null;
  for (let i = 0; i < ink.length; i++) {
    if (ink[i] > 255) ink[i] = 255;
    if (ink[i] < INK_THRESHOLD) ink[i] = 0;
  }
  const image = { data: ink, width, height };
  const { labels, runs } = label(image);
  const keep = marks(runs);
  const pieces = cutPieces(image, labels, runs, keep);
  const spans = candidateSpans(pieces);
  const images = new Float32Array(spans.length * 784);
  const boxes = [];
  spans.forEach(([start, stop], k) => {
    const { pixels, box } = render(pieces, ink, width, start, stop);
    images.set(pixels, 784 * k);
    boxes.push(box);
  });
  return {
    nPieces: pieces.count,
    spans,
    images,
    boxes,
    widths: boxes.map((b) => (b[2] - b[0]) / pieces.height),
    joins: joins(pieces),
    marks: marksOf(pieces),
  };
}

// ---------------------------------------------------------------- components

// 8-connected components of the core ink, numbered as Python numbers them: by the
// first run (row by row) of each, so that a rim shared by two goes to the same one.
function label({ data, width, height }) {
  const row = [], start = [], stop = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] >= CORE_LEVEL && (x === 0 || data[y * width + x - 1] < CORE_LEVEL)) {
        let end = x + 1;
        while (end < width && data[y * width + end] >= CORE_LEVEL) end++;
        row.push(y); start.push(x); stop.push(end);
      }
    }
  }
  const parent = Int32Array.from(row, (_, i) => i);
  const find = (i) => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  let above = 0; // the first run of the row above that may touch
  for (let b = 0; b < row.length; b++) {
    while (above < b && (row[above] < row[b] - 1 || (row[above] === row[b] - 1 && stop[above] < start[b]))) above++;
    for (let a = above; a < b && row[a] === row[b] - 1 && start[a] <= stop[b]; a++) {
      const ra = find(a), rb = find(b);
      if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb); // the root is the first run
    }
  }
  const runLabel = new Int32Array(row.length);
  let n = 0;
  for (let i = 0; i < row.length; i++) runLabel[i] = find(i) === i ? ++n : runLabel[find(i)];
  const labels = new Int32Array(width * height);
  for (let i = 0; i < row.length; i++) labels.fill(runLabel[i], row[i] * width + start[i], row[i] * width + stop[i]);
  return { labels, runs: { row, start, stop, label: runLabel, n } };
}

// Bounding boxes (y0, y1, x0, x1; ends exclusive) of components 1..n, from their runs.
function runBoxes(runs) {
  const n = runs.n;
  const y0 = new Array(n + 1).fill(Infinity), x0 = new Array(n + 1).fill(Infinity);
  const y1 = new Array(n + 1).fill(0), x1 = new Array(n + 1).fill(0);
  for (let i = 0; i < runs.row.length; i++) {
    const c = runs.label[i];
    y0[c] = Math.min(y0[c], runs.row[i]);
    y1[c] = Math.max(y1[c], runs.row[i] + 1);
    x0[c] = Math.min(x0[c], runs.start[i]);
    x1[c] = Math.max(x1[c], runs.stop[i]);
  }
  y0[0] = x0[0] = 0;
  return { y0, y1, x0, x1 };
}

// Which component labels are marks of writing, not specks (index 0 is the background).
function marks(runs) {
  const { y0, y1, x0, x1 } = runBoxes(runs);
  let tallest = 0;
  for (let c = 1; c <= runs.n; c++) tallest = Math.max(tallest, y1[c] - y0[c]);
  const keep = y0.map((_, c) => c > 0 && Math.max(y1[c] - y0[c], x1[c] - x0[c]) >= SPECK * tallest);
  return keep;
}

function digitHeight(runs, keep) {
  const { y0, y1 } = runBoxes(runs);
  const tall = [];
  for (let c = 1; c <= runs.n; c++) if (keep[c]) tall.push(y1[c] - y0[c]);
  const most = maxOf(tall);
  return percentile(tall.filter((h) => h >= 0.5 * most), 75);
}

// numpy's percentile (method "linear", its lerp taken from the nearer end).
function percentile(values, q) {
  const a = Float64Array.from(values).sort();
  const index = (q / 100) * (a.length - 1);
  const lo = Math.floor(index), hi = Math.min(lo + 1, a.length - 1);
  const t = index - lo, diff = a[hi] - a[lo];
  return t >= 0.5 ? a[hi] - diff * (1 - t) : a[lo] + diff * t;
}

// The shear under which the ink's column counts are most peaked, and the centre row.
function slantOf(ys, xs) {
  let sum = 0;
  for (const y of ys) sum += y;
  const centre = sum / ys.length;
  const u = new Float64Array(xs.length);
  const peaked = (shear) => {
    let low = Infinity, high = -Infinity;
    for (let i = 0; i < xs.length; i++) {
      u[i] = Math.floor(xs[i] - shear * (ys[i] - centre));
      if (u[i] < low) low = u[i];
      if (u[i] > high) high = u[i];
    }
    const counts = new Float64Array(high - low + 1);
    for (let i = 0; i < u.length; i++) counts[u[i] - low] += 1;
    let total = 0;
    for (const c of counts) total += c * c;
    return total;
  };
  const coarse = [];
  for (let k = -7; k <= 7; k++) coarse.push(k / 10);
  coarse.sort((a, b) => Math.abs(a) - Math.abs(b)); // stable: -0.1 before 0.1
  let slant = firstMax(coarse, peaked);
  slant = firstMax([slant, slant - 0.05, slant + 0.05], peaked);
  return { slant, centre };
}

function firstMax(values, key) {
  let best = values[0], bestKey = key(best);
  for (const v of values.slice(1)) {
    const k = key(v);
    if (k > bestKey) { best = v; bestKey = k; }
  }
  return best;
}

// The pen's width: twice the ink's area over its edge (a 4-neighbour erosion).
function strokeWidth(core, w, h) {
  let area = 0, inner = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!core[y * w + x]) continue;
      area++;
      if ((y === 0 || core[(y - 1) * w + x]) && (y === h - 1 || core[(y + 1) * w + x]) &&
          (x === 0 || core[y * w + x - 1]) && (x === w - 1 || core[y * w + x + 1])) inner++;
    }
  }
  return (2.0 * area) / Math.max(area - inner, 1);
}

// Labels spread into unlabelled ink up to RIM_STEPS pixels away (8-neighbours).
function grow(owner, ink, w, h) {
  for (let step = 0; step < RIM_STEPS; step++) {
    const todo = [];
    for (let i = 0; i < owner.length; i++) if (ink[i] && owner[i] === 0) todo.push(i);
    if (!todo.length) break;
    const near = todo.map((i) => {
      const y = Math.floor(i / w), x = i % w;
      let best = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) best = Math.max(best, owner[yy * w + xx]);
        }
      }
      return best;
    });
    todo.forEach((i, k) => { owner[i] = near[k]; });
  }
  return owner;
}

// ---------------------------------------------------------------- cuts

// Where to cut one component (upright columns u and rows y of its core pixels).
function cutsOf(u, y, height, stroke) {
  const low = Math.floor(minOf(u));
  const col = u.map((v) => Math.trunc(v - low));
  const width = maxOf(col) + 1;
  const margin = Math.max(stroke, CUT_MARGIN * height);
  const yMin = minOf(y), yMax = maxOf(y);
  if (width < 2 * margin || yMax - yMin + 1 < SHORT * height) return [];
  const crossing = new Float64Array(width);
  const top = new Float64Array(width).fill(Infinity);
  const bottom = new Float64Array(width).fill(-Infinity);
  col.forEach((c, i) => {
    crossing[c] += 1;
    top[c] = Math.min(top[c], y[i]);
    bottom[c] = Math.max(bottom[c], y[i]);
  });
  for (let c = 0; c < width; c++) {
    if (crossing[c] === 0) { top[c] = yMax; bottom[c] = yMin; }
  }
  const cost = new Float64Array(width);
  const depth = new Float64Array(width);
  const topLeft = accumulate(top, Math.min, false), topRight = accumulate(top, Math.min, true);
  const bottomLeft = accumulate(bottom, Math.max, false), bottomRight = accumulate(bottom, Math.max, true);
  for (let c = 0; c < width; c++) {
    const rise = Math.max(topLeft[c], topRight[c]);
    const fall = Math.min(bottomLeft[c], bottomRight[c]);
    depth[c] = (top[c] - rise) + (fall - bottom[c]);
    cost[c] = crossing[c] - depth[c];
  }
  const apart = (c) => depth[c] >= CUT_DEPTH * height && c >= margin && c <= width - margin;
  const chosen = [];
  for (let a = 0; a < width; a++) { // one cut per valley, at its cheapest column
    if (!apart(a) || (a > 0 && apart(a - 1))) continue;
    let b = a;
    while (b < width && apart(b)) b++;
    let x = a;
    for (let c = a + 1; c < b; c++) if (cost[c] < cost[x]) x = c;
    if (cost[x] <= CUT_COST * stroke) chosen.push(x);
  }
  const ends = [0, ...[...chosen].sort((p, q) => p - q), width];
  for (let k = 0; k + 1 < ends.length; k++) { // a piece too wide for one digit holds two
    const a = ends[k], b = ends[k + 1];
    if (b - a <= MAX_WIDTH * height) continue;
    const inner = [];
    for (let x = Math.ceil(a + margin); x <= Math.floor(b - margin); x++) inner.push(x);
    inner.sort((p, q) => cost[p] - cost[q]);
    const forced = [];
    for (const x of inner) {
      if (forced.length === FORCED_CUTS) break;
      if (forced.every((c) => Math.abs(x - c) >= margin)) forced.push(x);
    }
    chosen.push(...forced);
  }
  return chosen.sort((p, q) => p - q).map((x) => x + low);
}

// numpy's minimum/maximum.accumulate, from the left or (reversed) from the right.
function accumulate(values, pick, fromRight) {
  const out = new Float64Array(values.length);
  const n = values.length;
  for (let k = 0; k < n; k++) {
    const i = fromRight ? n - 1 - k : k;
    out[i] = k === 0 ? values[i] : pick(out[fromRight ? i + 1 : i - 1], values[i]);
  }
  return out;
}

// How many cuts lie left of each pixel (uAll, yAll) of one component, each cut bent
// to cross as little of the core ink (u, y) as it can; more cuts where such a bent
// path is cheap, in a component wide enough for two digits.
function sidesOf(cuts, u, y, uAll, yAll, height, stroke) {
  const low = Math.floor(minOf(u)), top = minOf(y);
  const col = u.map((v) => Math.floor(v - low));
  const rows = maxOf(y) - top + 1, width = maxOf(col) + 1;
  const margin = Math.max(stroke, CUT_MARGIN * height);
  const none = () => new Array(uAll.length).fill(0);
  if (width < 2 * margin || rows < SHORT * height || (!cuts.length && width < TWO * height)) return none();
  const reach = Math.max(1, roundHalfEven(BEND * height));
  if (rows * (width + 1) * (2 * reach + 1) > PATH_CELLS) { // straight cuts cost less
    return uAll.map((v) => cuts.filter((c) => c <= v).length);
  }
  const grid = new Float64Array(rows * (width + 1));
  col.forEach((c, i) => { grid[(y[i] - top) * (width + 1) + c] += 1; });
  const chosen = cuts.map((x) => roundHalfEven(x - low));
  const edge = Math.max(margin, APART * height);
  let inner = [];
  if (width >= TWO * height) for (let x = Math.ceil(edge); x <= Math.floor(width - edge); x++) inner.push(x);
  const starts = [...new Set([...chosen, ...inner])].sort((p, q) => p - q);
  const { paths, costs } = bentPaths(grid, rows, width + 1, reach, starts);
  const pathOf = new Map(starts.map((x, k) => [x, paths[k]]));
  const costOf = new Map(starts.map((x, k) => [x, costs[k]]));
  inner = inner.filter((x) => costOf.get(x) <= PATH_COST * stroke);
  inner.sort((p, q) => costOf.get(p) - costOf.get(q));
  for (const x of inner) {
    if (chosen.every((c) => Math.abs(x - c) >= APART * height)) chosen.push(x);
  }
  if (!chosen.length) return none();
  const bent = [...chosen].sort((p, q) => p - q).map((x) => Int32Array.from(pathOf.get(x)));
  for (let k = 1; k < bent.length; k++) { // cuts never cross: each right of the one before
    for (let r = 0; r < rows; r++) bent[k][r] = Math.max(bent[k][r], bent[k - 1][r]);
  }
  return uAll.map((v, i) => {
    const r = Math.min(Math.max(yAll[i] - top, 0), rows - 1);
    const c = Math.floor(v - low);
    let side = 0;
    for (const path of bent) if (c >= path[r]) side++;
    return side;
  });
}

// From each start column, the cheapest path down the grid (ink per row and column),
// a column at most either way per row, within reach of its start.
function bentPaths(grid, rows, width, reach, starts) {
  const band = 2 * reach + 1;
  const n = starts.length;
  const stray = Array.from({ length: band }, (_, j) => STRAY * Math.abs(j - reach));
  const cell = (r, s, j) => {
    const x = starts[s] + j - reach;
    return x >= 0 && x < width ? grid[r * width + x] : Infinity;
  };
  let total = new Float64Array(n * band);
  for (let s = 0; s < n; s++) for (let j = 0; j < band; j++) total[s * band + j] = cell(0, s, j) + stray[j];
  const came = new Int8Array(rows * n * band);
  for (let r = 1; r < rows; r++) {
    const best = Float64Array.from(total);
    const at = r * n * band;
    for (let s = 0; s < n; s++) {
      const o = s * band;
      for (let j = 1; j < band; j++) {
        const left = total[o + j - 1] + STEP;
        if (left < best[o + j]) { best[o + j] = left; came[at + o + j] = -1; }
      }
      for (let j = 0; j < band - 1; j++) {
        const right = total[o + j + 1] + STEP;
        if (right < best[o + j]) { best[o + j] = right; came[at + o + j] = 1; }
      }
      for (let j = 0; j < band; j++) best[o + j] = best[o + j] + cell(r, s, j) + stray[j];
    }
    total = best;
  }
  const paths = [], costs = [];
  for (let s = 0; s < n; s++) {
    const o = s * band;
    let j = 0;
    for (let k = 1; k < band; k++) if (total[o + k] < total[o + j]) j = k;
    costs.push(total[o + j]);
    const path = new Array(rows);
    path[rows - 1] = j;
    for (let r = rows - 1; r > 0; r--) path[r - 1] = path[r] + came[r * n * band + o + path[r]];
    paths.push(path.map((p) => p + starts[s] - reach));
  }
  return { paths, costs };
}

// ---------------------------------------------------------------- pieces

// The kept components cut into pieces; each owns its core and nearby faint rim.
function cutPieces(image, labels, runs, keep) {
  const height = digitHeight(runs, keep);
  const box = runBoxes(runs);
  const kept = (v) => keep.map((k, c) => (k ? v[c] : null)).filter((x) => x !== null);
  const ya = Math.max(minOf(kept(box.y0)) - RIM_STEPS, 0), yb = Math.min(maxOf(kept(box.y1)) + RIM_STEPS, image.height);
  const xa = Math.max(minOf(kept(box.x0)) - RIM_STEPS, 0), xb = Math.min(maxOf(kept(box.x1)) + RIM_STEPS, image.width);
  const w = xb - xa, h = yb - ya;
  const owner = new Int32Array(w * h), core = new Uint8Array(w * h), inked = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y + ya) * image.width + x + xa, c = labels[i];
      if (keep[c]) { owner[y * w + x] = c; core[y * w + x] = 1; }
      inked[y * w + x] = image.data[i] > 0 ? 1 : 0;
    }
  }
  const stroke = strokeWidth(core, w, h);
  grow(owner, inked, w, h);
  const ys = [], xs = [], component = [], inCore = [];
  for (let i = 0; i < owner.length; i++) {
    if (!owner[i]) continue;
    ys.push(Math.floor(i / w) + ya); xs.push((i % w) + xa);
    component.push(owner[i]); inCore.push(core[i] === 1);
  }
  const { slant, centre } = slantOf(ys.filter((_, i) => inCore[i]), xs.filter((_, i) => inCore[i]));
  const u = xs.map((x, i) => x - slant * (ys[i] - centre));
  const piece = new Array(ys.length).fill(0);
  const byComponent = keep.map(() => []);
  component.forEach((c, i) => byComponent[c].push(i));
  let first = 0;
  for (let c = 1; c < keep.length; c++) {
    if (!keep[c]) continue;
    const mine = byComponent[c];
    const inner = mine.filter((i) => inCore[i]);
    const uIn = inner.map((i) => u[i]), yIn = inner.map((i) => ys[i]);
    const cuts = cutsOf(uIn, yIn, height, stroke);
    const side = sidesOf(cuts, uIn, yIn, mine.map((i) => u[i]), mine.map((i) => ys[i]), height, stroke);
    const dense = [...new Set(side)].sort((p, q) => p - q); // bent cuts may meet
    mine.forEach((i, k) => { piece[i] = first + dense.indexOf(side[k]); });
    first += dense.length;
  }
  if (first > MAX_PIECES) {
    throw new Error(`the drawing breaks into ${first} pieces of writing, over the limit of ` +
      `${MAX_PIECES}; clear it and write one number`);
  }
  return ordered(ys, xs, piece, u, component, first, height);
}

// Pieces renumbered left to right (by their upright centre), pixels sorted by piece.
function ordered(ys, xs, piece, u, component, n, height) {
  const sizes = new Array(n).fill(0), sums = new Array(n).fill(0);
  piece.forEach((p, i) => { sizes[p] += 1; sums[p] += u[i]; });
  const middle = sums.map((s, p) => s / Math.max(sizes[p], 1));
  const rank = new Array(n);
  Array.from({ length: n }, (_, p) => p).sort((a, b) => middle[a] - middle[b])
    .forEach((p, r) => { rank[p] = r; });
  const offsets = new Array(n + 1).fill(0);
  for (const p of piece) offsets[rank[p] + 1] += 1;
  for (let k = 0; k < n; k++) offsets[k + 1] += offsets[k];
  const order = new Array(piece.length); // a stable sort by piece
  const next = offsets.slice(0, n);
  piece.forEach((p, i) => { order[next[rank[p]]++] = i; });
  const pieces = {
    ys: order.map((i) => ys[i]), xs: order.map((i) => xs[i]), offsets, height, count: n,
    left: [], right: [], x0: [], x1: [], tall: [], component: [],
  };
  const us = order.map((i) => u[i]);
  for (let k = 0; k < n; k++) {
    const a = offsets[k], b = offsets[k + 1];
    const part = (v) => v.slice(a, b);
    pieces.left.push(minOf(part(us))); pieces.right.push(maxOf(part(us)));
    pieces.x0.push(minOf(part(pieces.xs))); pieces.x1.push(maxOf(part(pieces.xs)) + 1);
    pieces.tall.push(maxOf(part(pieces.ys)) - minOf(part(pieces.ys)) + 1);
    pieces.component.push(component[order[a]]);
  }
  return pieces;
}

function joinable(p, k) {
  if (p.component[k] === p.component[k + 1]) return true;
  const overlap = Math.min(p.right[k], p.right[k + 1]) - Math.max(p.left[k], p.left[k + 1]);
  const small = Math.min(p.tall[k], p.tall[k + 1]) < SMALL * p.height;
  return small && overlap >= -CUT_MARGIN * p.height;
}

// Every candidate digit: runs of joinable pieces not too wide, each whole component,
// and each piece tall enough alone (every piece alone if that leaves one out).
function candidateSpans(p) {
  const runs = [];
  for (let start = 0; start < p.count; start++) {
    for (let stop = start + 2; stop <= Math.min(start + MAX_SPAN, p.count); stop++) {
      const wide = maxOf(p.x1.slice(start, stop)) - minOf(p.x0.slice(start, stop));
      if (!joinable(p, stop - 2) || wide > MAX_WIDTH * p.height) break;
      runs.push([start, stop]);
    }
  }
  for (const c of [...new Set(p.component)].sort((a, b) => a - b)) {
    const members = [];
    p.component.forEach((d, k) => { if (d === c) members.push(k); });
    const whole = [members[0], members[members.length - 1] + 1];
    const known = runs.some(([a, b]) => a === whole[0] && b === whole[1]);
    if (members.length > 1 && whole[1] - whole[0] === members.length && !known) runs.push(whole);
  }
  const joined = new Array(p.count).fill(false);
  for (const [a, b] of runs) for (let k = a; k < b; k++) joined[k] = true;
  let alone = [];
  for (let k = 0; k < p.count; k++) {
    if (p.tall[k] >= SHORT * p.height || !joined[k]) alone.push([k, k + 1]);
  }
  if (!covers([...alone, ...runs], p.count)) alone = Array.from({ length: p.count }, (_, k) => [k, k + 1]);
  return [...alone, ...runs].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

function covers(spans, count) {
  const reached = new Array(count + 1).fill(false);
  reached[0] = true;
  for (const [a, b] of [...spans].sort((s, t) => s[0] - t[0] || s[1] - t[1])) reached[b] ||= reached[a];
  return reached[count];
}

// The mark each piece was cut from, numbered in the order of their first pieces.
function marksOf(p) {
  const number = new Map();
  return p.component.map((c) => {
    if (!number.has(c)) number.set(c, number.size);
    return number.get(c);
  });
}

// Between each piece and the next, the ink a cut parted (4-neighbour contacts), in
// tenths of the digit height.
function joins(p) {
  const y0 = minOf(p.ys), x0 = minOf(p.xs);
  const w = maxOf(p.xs) - x0 + 2, h = maxOf(p.ys) - y0 + 2;
  const image = new Int32Array(w * h).fill(-1);
  for (let k = 0; k < p.count; k++) {
    for (let i = p.offsets[k]; i < p.offsets[k + 1]; i++) image[(p.ys[i] - y0) * w + p.xs[i] - x0] = k;
  }
  const contacts = new Array(Math.max(p.count - 1, 0)).fill(0);
  const touch = (a, b) => {
    const low = Math.min(a, b);
    if (low >= 0 && Math.max(a, b) === low + 1) contacts[low] += 1;
  };
  for (let y = 0; y < h; y++) for (let x = 0; x + 1 < w; x++) touch(image[y * w + x], image[y * w + x + 1]);
  for (let y = 0; y + 1 < h; y++) for (let x = 0; x < w; x++) touch(image[y * w + x], image[(y + 1) * w + x]);
  return contacts.map((c) => c / (0.1 * p.height));
}

// Pieces start..stop-1 alone, MNIST-style, and their box (x0, y0, x1, y1).
function render(p, ink, width, start, stop) {
  const ys = p.ys.slice(p.offsets[start], p.offsets[stop]);
  const xs = p.xs.slice(p.offsets[start], p.offsets[stop]);
  const y0 = minOf(ys), x0 = minOf(xs), y1 = maxOf(ys) + 1, x1 = maxOf(xs) + 1;
  const w = x1 - x0, data = new Float32Array(w * (y1 - y0));
  let peak = 0;
  ys.forEach((y, i) => {
    const v = ink[y * width + xs[i]];
    data[(y - y0) * w + xs[i] - x0] = v;
    peak = Math.max(peak, v);
  });
  const stretch = f(255 / peak);
  for (let i = 0; i < data.length; i++) {
    data[i] = f(data[i] * stretch);
    if (data[i] < INK_THRESHOLD) data[i] = 0;
  }
  return { pixels: centred({ data, width: w, height: y1 - y0 }), box: [x0, y0, x1, y1] };
}

function minOf(values) {
  let m = Infinity;
  for (const v of values) if (v < m) m = v;
  return m;
}

function maxOf(values) {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  return m;
}
