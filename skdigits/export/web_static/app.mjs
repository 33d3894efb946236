// The drawing page of `skdigits export --web`: strokes on a canvas, prepared as MNIST
// was (preprocess.mjs) and classified by the exported ONNX model in onnxruntime-web,
// all in the page; and a wide canvas where a whole number is cut into candidate
// digits (segment.mjs), classified in one batch and read along the best path
// (read.mjs), as skdigits.read_numbers reads it. Every file comes from the page's
// own folder.
import * as ort from "./ort.wasm.min.mjs";
import { preprocess, SIZE } from "./preprocess.mjs";
import { bestReading } from "./read.mjs";
import { segmentNumber } from "./segment.mjs";

// @include drawing.mjs

// One thread: no SharedArrayBuffer, so no cross-origin isolation headers are needed.
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
ort.env.wasm.wasmPaths = new URL("./", import.meta.url).href;

const preview = document.getElementById("preview").getContext("2d");
const statusEl = document.getElementById("status");
const answer = answerView({
  labelEl: document.getElementById("label"),
  confidenceEl: document.getElementById("confidence"),
  barsEl: document.getElementById("bars"),
});
let session = null;
let meta = {};
const pad = drawingPad(document.getElementById("canvas"), {
  onStroke: predict,
  canDraw: () => session !== null,
});
const { canvas, ctx } = pad;
let requestId = 0;

// For tests and benchmarks: what the model was given, and how long things took.
const timings = { sessionMs: null, firstPredictionMs: null, predictionsMs: [], readingsMs: [] };
window.skdigits = {
  preprocess, segmentNumber, bestReading, timings, lastInput: null, lastScore: null,
  lastReading: null, predictCanvas: () => predict(), readNumberCanvas: () => readNumber(),
};

// One run at a time: a session of onnxruntime-web refuses a run while another is going.
let queue = Promise.resolve();
function runModel(images, count) {
  const result = queue.then(() =>
    session.run({ pixels: new ort.Tensor("float32", images, [count, SIZE, SIZE]) }));
  queue = result.catch(() => {});
  return result;
}

// Each image's digit score: the model's `digit_score` output, or for a model exported
// without one, the score its `digit_score_kind` names, as skdigits computes it: the
// float32 sum of the two largest probabilities (`top2_probability`, over more than two
// classes), or the largest alone (`max_probability`, and a model that names none).
function digitScores(out, count) {
  if (out.digit_score) return Array.from(out.digit_score.data);
  const p = out.probabilities.data, n = p.length / count;
  const two = meta.digit_score_kind === "top2_probability" && n > 2;
  return Array.from({ length: count }, (_, k) => {
    const row = Array.from(p.subarray(k * n, (k + 1) * n)).sort((a, b) => b - a);
    return two ? Math.fround(row[0] + row[1]) : row[0];
  });
}

// A model without a threshold takes every image for a digit, as before it had one.
function threshold() {
  const t = meta.digit_threshold;
  return typeof t === "number" && Number.isFinite(t) ? Math.min(Math.max(t, 0), 1) : 0;
}

function isDigit(score) {
  return score >= threshold();
}

function setState(state, message = "") {
  statusEl.textContent = message;
  document.body.dataset.state = state;
}

function showInput(pixels) {
  const image = preview.createImageData(SIZE, SIZE);
  for (let i = 0; i < pixels.length; i++) {
    const v = Math.round(pixels[i]);
    image.data.set([v, v, v, 255], 4 * i);
  }
  preview.putImageData(image, 0, 0);
}

function resetPreview() {
  preview.fillStyle = "#000";
  preview.fillRect(0, 0, SIZE, SIZE);
}

async function predict() {
  const id = ++requestId;
  const start = performance.now();
  setState("predicting");
  const pixels = preprocess(ctx.getImageData(0, 0, canvas.width, canvas.height).data,
    canvas.width, canvas.height);
  window.skdigits.lastInput = pixels && Array.from(pixels);
  if (pixels === null) {
    resetPreview();
    clearAnswer();
    setState("nodigit", "no digit");
    return;
  }
  showInput(pixels);
  try {
    const out = await runModel(pixels, 1);
    if (id !== requestId) return; // a newer stroke or a clear came in meanwhile
    const [score] = digitScores(out, 1);
    window.skdigits.lastScore = score;
    answer.show(Number(out.label.data[0]), Array.from(out.probabilities.data), isDigit(score));
    document.body.dataset.digit = isDigit(score) ? "yes" : "no";
    const ms = performance.now() - start;
    if (timings.firstPredictionMs === null) timings.firstPredictionMs = ms;
    else timings.predictionsMs.push(ms);
    setState("done");
  } catch (err) {
    if (id !== requestId) return;
    clearAnswer();
    setState("error", String(err.message || err));
  }
}

function clearAnswer() {
  answer.clear();
  delete document.body.dataset.digit;
}

document.getElementById("clear").addEventListener("click", () => {
  requestId++;
  pad.reset();
  resetPreview();
  clearAnswer();
  window.skdigits.lastInput = null;
  window.skdigits.lastScore = null;
  setState("empty");
});

// --- a whole number on the wide canvas --------------------------------------------------

const numberStatus = document.getElementById("number-status");
const readingShown = readingView({
  textEl: document.getElementById("number-text"),
  confidenceEl: document.getElementById("number-confidence"),
  digitsEl: document.getElementById("number-digits"),
  boxesEl: document.getElementById("boxes"),
});
const numberPad = drawingPad(document.getElementById("number-canvas"), {
  onStroke: readNumber,
  canDraw: () => session !== null,
});
let numberRequest = 0;

function setNumberState(state, message = "") {
  numberStatus.textContent = message;
  document.body.dataset.numberState = state;
}

// The number on the wide canvas, read as skdigits.read_numbers reads a picture (whole
// marks under the digit threshold left out as noise); each digit also carries its
// digit score, for a look from the console.
async function readNumber() {
  const id = ++numberRequest;
  const start = performance.now();
  setNumberState("reading");
  const { canvas: wide, ctx: wideCtx } = numberPad;
  try {
    const segmentation = segmentNumber(wideCtx.getImageData(0, 0, wide.width, wide.height).data,
      wide.width, wide.height);
    let reading = null;
    if (segmentation !== null) {
      const count = segmentation.spans.length;
      const out = await runModel(segmentation.images, count);
      const scores = digitScores(out, count);
      reading = bestReading(segmentation, out.probabilities.data, scores,
        { classes: answer.classes(), threshold: threshold() });
      for (const d of reading ? reading.digits : []) d.digit_score = scores[d.candidate];
    }
    if (id !== numberRequest) return null; // a newer stroke or a clear came in meanwhile
    window.skdigits.lastReading = reading;
    showReading(reading);
    if (reading === null) { // nothing drawn, or only marks the model takes for no digit
      setNumberState("nonumber", segmentation === null ? "no number"
        : "no number: the model takes each mark for no digit");
      return null;
    }
    timings.readingsMs.push(performance.now() - start);
    setNumberState("done");
    return reading;
  } catch (err) {
    if (id !== numberRequest) return null;
    showReading(null);
    setNumberState("error", String(err.message || err));
    return null;
  }
}

function showReading(reading) {
  if (reading === null) readingShown.clear();
  else readingShown.show(reading, numberPad.canvas.width, numberPad.canvas.height);
}

document.getElementById("number-clear").addEventListener("click", () => {
  numberRequest++;
  numberPad.reset();
  showReading(null);
  window.skdigits.lastReading = null;
  setNumberState("empty");
});

// One preprocessing of a bar and one run of the model while the page loads, so the
// first stroke does not pay for compiling the JavaScript and the WASM kernels.
async function warmUp() {
  const rgba = new Uint8ClampedArray(canvas.width * canvas.height * 4).fill(255);
  for (let i = 0; i < canvas.width * canvas.height; i++) {
    const x = i % canvas.width, y = Math.floor(i / canvas.width);
    if (!(x > 120 && x < 160 && y > 40 && y < 240)) rgba.fill(0, 4 * i, 4 * i + 3);
  }
  await runModel(preprocess(rgba, canvas.width, canvas.height), 1);
}

async function load() {
  resetPreview();
  const start = performance.now();
  try {
    meta = await (await fetch("model.json")).json();
    if (Array.isArray(meta.classes)) answer.build(meta.classes);
    session = await ort.InferenceSession.create(meta.model || "model.onnx", {
      executionProviders: ["wasm"],
    });
    await warmUp();
    setNumberState("empty");
    timings.sessionMs = performance.now() - start;
    document.getElementById("model").textContent = describeModel(meta) +
      "; exported by skdigits " + (meta.skdigits_version || "") +
      ", running in onnxruntime-web " + ort.env.versions.web;
    setState("empty");
  } catch (err) {
    setState("error", "could not load the model: " + String(err.message || err));
  }
}

load();
