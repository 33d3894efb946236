// The best reading through a number's candidate digits: skdigits.reading's
// digit_scores, width_scores (with each label's usual width), lone_widths, join_scores, noise_scores and best_path
// (skdigits/reading/_paths.py) and its _best_reading, ported so that a drawing reads
// here as in Python.
//
// Each candidate's log-score: log P(its top class) plus the log of its digit score,
// less a cost for a shape wider than tall (or than the digit read usually is) and for the ink the cut after it parts. A
// whole mark the model takes for no digit may instead be left out as noise, at a
// cost per digit height of its width. The reading is the path covering every piece once whose scores sum
// highest, found by dynamic programming.

const FLOOR = 1e-12;
const WIDE = 4.0;
const JOIN = 0.05;
const NOISE = 2.5;
// A candidate read as a narrow digit (a 1, a 6, a 9) wider than 90 % of MNIST's
// digits of its label (this many digit heights, at most 1) costs NARROW per height².
const USUAL_ASPECT = [1.11, 0.7, 1.25, 1.0, 1.0, 1.25, 0.95, 1.0, 1.0, 0.9];
const NARROW = 8.0;
// How wide a digit of each class may be, relative to its height, before a picture
// of one mark read whole costs anything.
const LONE_ASPECT = [1.43, 1.0, 1.67, 1.25, 1.25, 1.67, 1.11, 1.25, 1.25, 1.05];

const clip = (p) => Math.min(Math.max(p, FLOOR), 1.0);

/**
 * The best reading of a segmentation (segment.mjs) given the model's outputs.
 * @param {object} segmentation  segmentNumber's result
 * @param {Float32Array} proba  n_candidates * n_classes probabilities, row by row
 * @param {ArrayLike<number>} digitScore  each candidate's digit score
 * @param {{classes: Array, threshold: number}} model  its classes and digit threshold
 *   (0: every candidate is a digit)
 * @param {[number, number]} lengths  the fewest and most digits
 * @returns {null | {text: string, probability: number,
 *   digits: {label: *, probability: number, box: number[], candidate: number}[]}}
 *   null when no path has an allowed number of digits, or when the model takes every
 *   mark for no digit (where Python raises a DataError)
 */
export function bestReading(segmentation, proba, digitScore, model, lengths = [1, Infinity]) {
  const { spans, nPieces } = segmentation;
  const n = model.classes.length;
  const best = spans.map((_, k) => {
    let top = 0;
    for (let c = 1; c < n; c++) if (proba[k * n + c] > proba[k * n + top]) top = c;
    return top;
  });
  const labels = best.map((c) => model.classes[c]);
  const widths = loneWidths(segmentation, labels);
  const scores = spans.map(([, stop], k) => {
    const fit = Math.log(clip(proba[k * n + best[k]])) + Math.log(clip(digitScore[k]));
    const wide = Math.max(widths[k] - 1.0, 0.0);
    const narrow = Math.max(widths[k] - usualWidth(labels[k]), 0.0);
    const shape = -WIDE * (wide * wide) - NARROW * (narrow * narrow);
    const join = stop < nPieces ? -JOIN * segmentation.joins[stop - 1] : 0;
    return fit + shape + join;
  });
  const skips = noiseScores(segmentation, digitScore, model.threshold);
  if (skips.some(Number.isFinite)) {
    const kept = bestPath(nPieces, spans, scores, [0, lengths[1]], skips);
    if (kept !== null && kept.length === 0) return null; // every mark is noise
  }
  const path = bestPath(nPieces, spans, scores, lengths, skips);
  if (path === null) return null;
  const digits = path.map((k) => ({
    label: model.classes[best[k]],
    probability: proba[k * n + best[k]],
    box: segmentation.boxes[k],
    candidate: k,
  }));
  return {
    text: digits.map((d) => String(d.label)).join(""),
    probability: digits.reduce((p, d) => p * d.probability, 1),
    digits,
  };
}

const isDigitLabel = (label) => Number.isInteger(label) && label >= 0 && label < 10;
// The width (in digit heights) 90 % of MNIST's digits of the label stay within, at most 1.
const usualWidth = (label) => (isDigitLabel(label) ? Math.min(USUAL_ASPECT[label], 1.0) : 1.0);

// The widths to judge the candidates by: in a picture of one mark, the mark read
// whole by its own shape, as wide as the digit it is read as may be.
function loneWidths(segmentation, labels) {
  const { widths, marks, spans, boxes, nPieces } = segmentation;
  if (Math.max(...marks) > 0) return widths;
  return widths.map((w, k) => {
    if (spans[k][0] !== 0 || spans[k][1] !== nPieces) return w;
    const [x0, y0, x1, y1] = boxes[k];
    const aspect = (x1 - x0) / Math.max(y1 - y0, 1);
    const widest = isDigitLabel(labels[k]) ? LONE_ASPECT[labels[k]] : 1.0;
    return usualWidth(labels[k]) + Math.max(aspect - widest, 0.0);
  });
}

// Log-scores of leaving each candidate out as noise: a whole mark (all its pieces,
// nothing else) whose digit score is under the threshold, per digit height of its
// width (at least one); -Infinity elsewhere.
function noiseScores(segmentation, digitScore, threshold) {
  const { spans, marks, widths } = segmentation;
  const first = new Map(), last = new Map(), count = new Map();
  marks.forEach((m, p) => {
    if (!first.has(m)) first.set(m, p);
    last.set(m, p);
    count.set(m, (count.get(m) || 0) + 1);
  });
  const cost = 2.0 * Math.log(Math.max(threshold, FLOOR)) - NOISE;
  return spans.map(([start, stop], k) => {
    const m = marks[start];
    const whole = first.get(m) === start && last.get(m) === stop - 1 &&
      stop - start === count.get(m);
    return whole && digitScore[k] < threshold ? cost * Math.max(widths[k], 1.0) : -Infinity;
  });
}

/**
 * The candidates read as digits on the best path of lengths[0] to lengths[1] digits
 * through the pieces, left to right (those left out as noise are not listed); null
 * if none has an allowed length. Ties go where Python's best_path sends them: to the
 * later candidate, and to the fewer digits; noise replaces a path only if strictly better.
 */
export function bestPath(nPieces, spans, scores, lengths, skips = null) {
  const most = Math.min(lengths[1], nPieces);
  const best = [], came = [], left = [];
  const noise = skips === null ? [] : spans.map((_, c) => c).filter((c) => Number.isFinite(skips[c]));
  noise.sort((a, b) => spans[a][0] - spans[b][0]); // stable: left to right, chains of noise
  for (let k = 0; k <= most; k++) {
    const row = new Array(nPieces + 1).fill(-Infinity);
    const from = new Array(nPieces + 1).fill(-1);
    const skipped = new Array(nPieces + 1).fill(false);
    if (k === 0) row[0] = 0;
    else {
      const reach = spans.map(([start], c) => best[k - 1][start] + scores[c]);
      spans.forEach(([, stop], c) => { if (reach[c] > row[stop]) row[stop] = reach[c]; });
      spans.forEach(([, stop], c) => {
        if (Number.isFinite(reach[c]) && reach[c] === row[stop]) from[stop] = c;
      });
    }
    for (const c of noise) {
      const [start, stop] = spans[c];
      const value = row[start] + skips[c];
      if (value > row[stop]) { row[stop] = value; from[stop] = c; skipped[stop] = true; }
    }
    best.push(row);
    came.push(from);
    left.push(skipped);
  }
  let k = -1;
  for (let m = Math.max(lengths[0], 0); m <= most; m++) {
    if (k === -1 || best[m][nPieces] > best[k][nPieces]) k = m;
  }
  if (k === -1 || !Number.isFinite(best[k][nPieces])) return null;
  const path = [];
  for (let j = nPieces; j > 0;) {
    const candidate = came[k][j];
    if (!left[k][j]) {
      path.push(candidate);
      k--;
    }
    j = spans[candidate][0];
  }
  return path.reverse();
}
