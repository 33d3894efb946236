// The best reading through a number's candidate digits: skdigits.reading's
// digit_scores, width_scores, join_scores and best_path (skdigits/reading/_paths.py)
// and its _best_reading, ported so that a drawing reads here as in Python.
//
// Each candidate's log-score: log P(its top class) twice (once as the class, once as
// the chance it is a digit at all), less a cost for a shape wider than tall and for
// the ink the cut after it parts. The reading is the path of candidates covering
// every piece once whose scores sum highest, found by dynamic programming.

const FLOOR = 1e-12;
const WIDE = 4.0;
const JOIN = 0.05;

/**
 * The best reading of a segmentation (segment.mjs) given the model's probabilities.
 * @param {object} segmentation  segmentNumber's result
 * @param {Float32Array} proba  n_candidates * n_classes probabilities, row by row
 * @param {Array} classes  the model's classes
 * @param {[number, number]} lengths  the fewest and most digits
 * @returns {null | {text: string, probability: number,
 *   digits: {label: *, probability: number, box: number[], candidate: number}[]}}
 *   null when no path has an allowed number of digits
 */
export function bestReading(segmentation, proba, classes, lengths = [1, Infinity]) {
  const { spans, widths, joins, nPieces } = segmentation;
  const n = classes.length;
  const best = [], scores = [];
  spans.forEach(([, stop], k) => {
    let top = 0;
    for (let c = 1; c < n; c++) if (proba[k * n + c] > proba[k * n + top]) top = c;
    const log = Math.log(Math.min(Math.max(proba[k * n + top], FLOOR), 1.0));
    const wide = Math.max(widths[k] - 1.0, 0.0);
    const join = stop < nPieces ? -JOIN * joins[stop - 1] : 0;
    best.push(top);
    scores.push(log + log + -WIDE * (wide * wide) + join);
  });
  const path = bestPath(nPieces, spans, scores, lengths);
  if (path === null) return null;
  const digits = path.map((k) => ({
    label: classes[best[k]],
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

/**
 * The candidates of the best path of lengths[0] to lengths[1] digits through the
 * pieces, left to right; null if none has an allowed length. Ties go where Python's
 * best_path sends them: to the later candidate, and to the fewer digits.
 */
export function bestPath(nPieces, spans, scores, lengths) {
  const most = Math.min(lengths[1], nPieces);
  const best = [new Array(nPieces + 1).fill(-Infinity)];
  const came = [new Array(nPieces + 1).fill(-1)];
  best[0][0] = 0;
  for (let k = 1; k <= most; k++) {
    const row = new Array(nPieces + 1).fill(-Infinity);
    const from = new Array(nPieces + 1).fill(-1);
    const reach = spans.map(([start], c) => best[k - 1][start] + scores[c]);
    spans.forEach(([, stop], c) => { if (reach[c] > row[stop]) row[stop] = reach[c]; });
    spans.forEach(([, stop], c) => {
      if (Number.isFinite(reach[c]) && reach[c] === row[stop]) from[stop] = c;
    });
    best.push(row);
    came.push(from);
  }
  let k = -1;
  for (let m = Math.max(lengths[0], 0); m <= most; m++) {
    if (k === -1 || best[m][nPieces] > best[k][nPieces]) k = m;
  }
  if (k === -1 || !Number.isFinite(best[k][nPieces])) return null;
  const path = [];
  for (let j = nPieces; k > 0; k--) {
    const candidate = came[k][j];
    path.push(candidate);
    j = spans[candidate][0];
  }
  return path.reverse();
}
