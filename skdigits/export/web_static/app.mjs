// The drawing page of `skdigits export --web`: strokes on a canvas, prepared as MNIST
// was (preprocess.mjs) and classified by the exported ONNX model in onnxruntime-web,
// all in the page. Every file comes from the page's own folder.
import * as ort from "./ort.wasm.min.mjs";
import { preprocess, SIZE } from "./preprocess.mjs";

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
const pad = drawingPad(document.getElementById("canvas"), {
  onStroke: predict,
  canDraw: () => session !== null,
});
const { canvas, ctx } = pad;
let requestId = 0;

// For tests and benchmarks: what the model was given, and how long things took.
const timings = { sessionMs: null, firstPredictionMs: null, predictionsMs: [] };
window.skdigits = { preprocess, timings, lastInput: null, predictCanvas: () => predict() };

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
    answer.clear();
    setState("nodigit", "no digit");
    return;
  }
  showInput(pixels);
  try {
    const feeds = { pixels: new ort.Tensor("float32", pixels, [1, SIZE, SIZE]) };
    const out = await session.run(feeds);
    if (id !== requestId) return; // a newer stroke or a clear came in meanwhile
    answer.show(Number(out.label.data[0]), Array.from(out.probabilities.data));
    const ms = performance.now() - start;
    if (timings.firstPredictionMs === null) timings.firstPredictionMs = ms;
    else timings.predictionsMs.push(ms);
    setState("done");
  } catch (err) {
    if (id !== requestId) return;
    answer.clear();
    setState("error", String(err.message || err));
  }
}

document.getElementById("clear").addEventListener("click", () => {
  requestId++;
  pad.reset();
  resetPreview();
  answer.clear();
  window.skdigits.lastInput = null;
  setState("empty");
});

// One preprocessing of a bar and one run of the model while the page loads, so the
// first stroke does not pay for compiling the JavaScript and the WASM kernels.
async function warmUp() {
  const rgba = new Uint8ClampedArray(canvas.width * canvas.height * 4).fill(255);
  for (let i = 0; i < canvas.width * canvas.height; i++) {
    const x = i % canvas.width, y = Math.floor(i / canvas.width);
    if (!(x > 120 && x < 160 && y > 40 && y < 240)) rgba.fill(0, 4 * i, 4 * i + 3);
  }
  const pixels = preprocess(rgba, canvas.width, canvas.height);
  await session.run({ pixels: new ort.Tensor("float32", pixels, [1, SIZE, SIZE]) });
}

async function load() {
  resetPreview();
  const start = performance.now();
  try {
    const meta = await (await fetch("model.json")).json();
    if (Array.isArray(meta.classes)) answer.build(meta.classes);
    session = await ort.InferenceSession.create(meta.model || "model.onnx", {
      executionProviders: ["wasm"],
    });
    await warmUp();
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
