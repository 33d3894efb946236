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
// probability of the i-th class as `data-p`).
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

  function show(label, probabilities) {
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

  function clear() {
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

  build([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return { build, show, clear, classes: () => classes };
}

// The footer's description of the model, from its metadata.
export function describeModel(meta) {
  const accuracy = typeof meta.test_accuracy === "number"
    ? ", test accuracy " + (100 * meta.test_accuracy).toFixed(1) + " %" : "";
  return "Model: " + (meta.architecture || "ONNX") + accuracy;
}
