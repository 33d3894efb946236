// The drawing pad and the answer of skdigits' two drawing pages: the page `skdigits serve`
// serves and the static site `skdigits export --web` writes. Each page's source says
// `// @include drawing.mjs` where this file goes (skdigits/_page.py inlines it).

// The canvas is drawn as MNIST is: white strokes on black. `onStroke` runs when a
// stroke ends; `canDraw` may refuse strokes (while a model loads).
export function drawingPad(canvas, { onStroke, canDraw = () => true }) {
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  let drawing = false;
  let inked = false;
  let last = null;

  function reset() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#fff";
    ctx.lineWidth = 18;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    inked = false;
  }

  function point(event) {
    const rect = canvas.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left) * (canvas.width / rect.width),
      y: (event.clientY - rect.top) * (canvas.height / rect.height),
    };
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !canDraw()) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    drawing = true;
    inked = true;
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
    if (inked) onStroke();
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);

  reset();
  return { canvas, ctx, reset };
}

// The label, how sure the model is, and one bar per class (`#p<i>` holds the
// probability of the i-th class as `data-p`). An image the model does not take for
// a digit (`isDigit` false) shows "not a digit" instead of the label; its bars
// stay, the best guess among them muted.
export function answerView({ labelEl, confidenceEl, barsEl }) {
  const bars = [];
  let classes = [];

  function build(newClasses) {
    classes = newClasses;
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

  function show(label, probabilities, isDigit = true) {
    probabilities.forEach((p, i) => {
      const pct = bars[i].querySelector(".pct");
      bars[i].querySelector(".fill").style.width = (100 * p).toFixed(1) + "%";
      pct.textContent = asPercent(p) + " %";
      pct.dataset.p = String(p);
      bars[i].classList.toggle("top", classes[i] === label);
    });
    const top = asPercent(Math.max(...probabilities)) + " %";
    labelEl.classList.toggle("refused", !isDigit);
    barsEl.classList.toggle("refused", !isDigit);
    labelEl.textContent = isDigit ? String(label) : "not a digit";
    confidenceEl.textContent = isDigit ? top + " sure" : "best guess " + label + ", " + top;
  }

  function clear() {
    labelEl.textContent = "";
    confidenceEl.textContent = "";
    labelEl.classList.remove("refused");
    barsEl.classList.remove("refused");
    for (const li of bars) {
      li.querySelector(".fill").style.width = "0";
      const pct = li.querySelector(".pct");
      pct.textContent = "";
      delete pct.dataset.p;
      li.classList.remove("top");
    }
  }

  build([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return { build, show, clear, classes: () => classes };
}

// A number read from a drawing: its text, how sure the reader is, a box over each
// digit and each digit's label and probability. `show` takes one reading of
// `POST /read` (or the offline reader) and the width and height of the image it
// read: boxes are in that image's pixels and are placed in percent of it, so they
// sit on the digits however large the canvas is shown (`boxesEl` covers it).
export function readingView({ textEl, confidenceEl, digitsEl, boxesEl }) {
  function show(reading, width, height) {
    clear();
    textEl.textContent = reading.text;
    confidenceEl.textContent = asPercent(reading.probability) + " % sure";
    reading.digits.forEach((digit, i) => {
      const [x0, y0, x1, y1] = digit.box;
      const words = digit.label + ", " + asPercent(digit.probability) + " %";
      const box = document.createElement("div");
      box.className = "digit-box";
      box.id = "box" + i;
      Object.assign(box.style, {
        left: (100 * x0 / width) + "%", top: (100 * y0 / height) + "%",
        width: (100 * (x1 - x0) / width) + "%", height: (100 * (y1 - y0) / height) + "%",
      });
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = words;
      box.append(tag);
      boxesEl.append(box);
      const li = document.createElement("li");
      li.dataset.digit = String(digit.label);
      li.dataset.p = String(digit.probability);
      li.innerHTML = '<span class="digit"></span><span class="pct"></span>';
      li.querySelector(".digit").textContent = String(digit.label);
      li.querySelector(".pct").textContent = asPercent(digit.probability) + " %";
      li.setAttribute("aria-label", "digit " + (i + 1) + ": " + words);
      digitsEl.append(li);
    });
  }

  function clear() {
    textEl.textContent = "";
    confidenceEl.textContent = "";
    digitsEl.replaceChildren();
    boxesEl.replaceChildren();
  }

  return { show, clear };
}

function asPercent(p) {
  return (100 * p).toFixed(1);
}

// The footer's description of the model, from its metadata.
export function describeModel(meta) {
  const accuracy = typeof meta.test_accuracy === "number"
    ? ", test accuracy " + (100 * meta.test_accuracy).toFixed(1) + " %" : "";
  return "Model: " + (meta.architecture || "ONNX") + accuracy;
}
