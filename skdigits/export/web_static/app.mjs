// The drawing page of `skdigits export --web`: strokes on a canvas, prepared as MNIST
// was (preprocess.mjs) and classified by the exported ONNX model in onnxruntime-web,
// all in the page. Every file comes from the page's own folder.
import * as ort from "./ort.wasm.min.mjs";
import { preprocess, SIZE } from "./preprocess.mjs";

// One thread: no SharedArrayBuffer, so no cross-origin isolation headers are needed.
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
ort.env.wasm.wasmPaths = new URL("./", import.meta.url).href;

const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d", { willReadFrequently: true });
const preview = document.getElementById("preview").getContext("2d");
const labelEl = document.getElementById("label");
const confidenceEl = document.getElementById("confidence");
const barsEl = document.getElementById("bars");
const statusEl = document.getElementById("status");
const bars = [];
let classes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
let session = null;
let drawing = false;
let last = null;
let requestId = 0;

// For tests and benchmarks: what the model was given, and how long things took.
const timings = { sessionMs: null, firstPredictionMs: null, predictionsMs: [] };
window.skdigits = { preprocess, timings, lastInput: null, predictCanvas: () => predict() };

function setState(state, message = "") {
  statusEl.textContent = message;
  document.body.dataset.state = state;
}

function buildBars() {
  barsEl.replaceChildren();
  bars.length = 0;
  classes.forEach((c, i) => {
    const li = document.createElement("li");
    li.dataset.digit = String(c);
    li.innerHTML = '<span class="digit"></span><span class="track"><span class="fill"></span></span>' +
      '<span class="pct"></span>';
    li.querySelector(".digit").textContent = String(c);
    li.querySelector(".pct").id = "p" + i;
    barsEl.append(li);
    bars.push(li);
  });
}

function resetCanvas() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineWidth = 18;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  resetPreview();
}

function showInput(pixels) {
  const image = preview.createImageData(SIZE, SIZE);
  for (let i = 0; i < pixels.length; i++) {
    const v = Math.round(pixels[i]);
    image.data.set([v, v, v, 255], 4 * i);
  }
  preview.putImageData(image, 0, 0);
}

function showResult(label, probabilities) {
  probabilities.forEach((p, i) => {
    const pct = bars[i].querySelector(".pct");
    bars[i].querySelector(".fill").style.width = (100 * p).toFixed(1) + "%";
    pct.textContent = (100 * p).toFixed(1) + " %";
    pct.dataset.p = String(p);
    bars[i].classList.toggle("top", classes[i] === label);
  });
  labelEl.textContent = String(label);
  confidenceEl.textContent = (100 * Math.max(...probabilities)).toFixed(1) + " % sure";
}

function clearResult() {
  labelEl.textContent = "";
  confidenceEl.textContent = "";
  for (const li of bars) {
    li.querySelector(".fill").style.width = "0";
    const pct = li.querySelector(".pct");
    pct.textContent = "";
    delete pct.dataset.p;
    li.classList.remove("top");
  }
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
    clearResult();
    setState("nodigit", "no digit");
    return;
  }
  showInput(pixels);
  try {
    const feeds = { pixels: new ort.Tensor("float32", pixels, [1, SIZE, SIZE]) };
    const out = await session.run(feeds);
    if (id !== requestId) return; // a newer stroke or a clear came in meanwhile
    const label = Number(out.label.data[0]);
    showResult(label, Array.from(out.probabilities.data));
    const ms = performance.now() - start;
    if (timings.firstPredictionMs === null) timings.firstPredictionMs = ms;
    else timings.predictionsMs.push(ms);
    setState("done");
  } catch (err) {
    if (id !== requestId) return;
    clearResult();
    setState("error", String(err.message || err));
  }
}

function resetPreview() {
  preview.fillStyle = "#000";
  preview.fillRect(0, 0, SIZE, SIZE);
}

function point(event) {
  const rect = canvas.getBoundingClientRect();
  return {
    x: (event.clientX - rect.left) * (canvas.width / rect.width),
    y: (event.clientY - rect.top) * (canvas.height / rect.height),
  };
}

canvas.addEventListener("pointerdown", (event) => {
  if (event.button !== 0 || session === null) return;
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  drawing = true;
  last = point(event);
  ctx.beginPath();
  ctx.arc(last.x, last.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
  ctx.fill();
});

canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) {
    const p = point(e);
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    last = p;
  }
});

function endStroke() {
  if (!drawing) return;
  drawing = false;
  predict();
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);

document.getElementById("clear").addEventListener("click", () => {
  requestId++;
  resetCanvas();
  clearResult();
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
  resetCanvas();
  buildBars();
  const start = performance.now();
  try {
    const meta = await (await fetch("model.json")).json();
    if (Array.isArray(meta.classes)) classes = meta.classes;
    buildBars();
    session = await ort.InferenceSession.create(meta.model || "model.onnx", {
      executionProviders: ["wasm"],
    });
    await warmUp();
    timings.sessionMs = performance.now() - start;
    const accuracy = typeof meta.test_accuracy === "number"
      ? ", test accuracy " + (100 * meta.test_accuracy).toFixed(1) + " %" : "";
    document.getElementById("model").textContent =
      "Model: " + (meta.architecture || "ONNX") + accuracy + "; exported by skdigits " +
      (meta.skdigits_version || "") + ", running in onnxruntime-web " + ort.env.versions.web;
    setState("empty");
  } catch (err) {
    setState("error", "could not load the model: " + String(err.message || err));
  }
}

load();
