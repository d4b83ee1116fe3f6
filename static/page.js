// Page tasks: the page image with a box per token; spans as coloured boxes with their label.
// Click, shift+click or drag over tokens (reading order), or drag from empty space to draw a box.
// Zoom with the toolbar, + - 0 keys or ctrl+wheel; pan by scrolling or alt+drag.

import { el, finishSelection, spanIndex } from "./util.js";

const ZOOM_STEP = 1.25;
const MIN_ZOOM = 0.1;
const MAX_ZOOM = 6;

export class PageView {
  // options: {editable, colors(label), onSelect(a, b, t0), onRemove(k), imageUrl, perf}
  constructor(container, task, spans, options) {
    const t0 = performance.now();
    this.task = task;
    this.tokens = task.tokens || [];
    this.W = Number(task.width);
    this.H = Number(task.height);
    this.spans = spans;
    this.opt = options;
    this.anchor = null;
    this.drag = null;
    this.sel = null;
    this.zoom = 1;
    this.build(container);
    this.renderBoxes();
    this.owner = new Int32Array(this.tokens.length).fill(-1);
    this.applySpans(spans);
    this.fit();
    this.stage.getBoundingClientRect(); // force style and layout: the page is ready to paint
    if (options.perf) options.perf.mark("render", t0);
  }

  build(container) {
    const meta = this.task.meta || {};
    this.root = el("div", "page-view" + (this.opt.editable ? " editable" : ""));
    const bar = el("div", "page-toolbar");
    const button = (text, title, fn) => {
      const b = el("button", "tool", text);
      b.type = "button";
      b.title = title;
      b.addEventListener("click", fn);
      bar.appendChild(b);
      return b;
    };
    button("−", "Zoom out (-)", () => this.setZoom(this.zoom / ZOOM_STEP));
    this.zoomLabel = el("span", "zoom-label", "100%");
    bar.appendChild(this.zoomLabel);
    button("+", "Zoom in (+)", () => this.setZoom(this.zoom * ZOOM_STEP));
    button("Fit", "Fit the width (0)", () => this.fit());
    const where = el("span", "page-where");
    if (meta.page) where.textContent = `page ${meta.page} of ${meta.pages || "?"}`;
    bar.appendChild(where);
    const name = el("span", "page-file", meta.path ? String(meta.path).split("/").pop() : "");
    bar.appendChild(name);
    this.root.appendChild(bar);

    this.viewport = el("div", "page-viewport");
    this.sizer = el("div", "page-sizer");
    this.stage = el("div", "page-stage");
    this.stage.style.width = this.W + "px";
    this.stage.style.height = this.H + "px";
    const img = el("img", "page-img");
    img.alt = "";
    img.draggable = false;
    img.width = this.W;
    img.height = this.H;
    img.decoding = "async";
    img.addEventListener("error", () => this.stage.classList.add("no-image"));
    if (this.opt.imageUrl) img.src = this.opt.imageUrl;
    else this.stage.classList.add("no-image");
    this.img = img;
    this.boxes = el("div", "boxes");
    this.tags = el("div", "tags");
    this.band = el("div", "band");
    this.band.hidden = true;
    this.stage.append(img, this.boxes, this.tags, this.band);
    this.sizer.appendChild(this.stage);
    this.viewport.appendChild(this.sizer);
    this.root.appendChild(this.viewport);
    container.appendChild(this.root);
    this.listen();
  }

  renderBoxes() {
    const frag = document.createDocumentFragment();
    this.boxEls = new Array(this.tokens.length);
    for (let i = 0; i < this.tokens.length; i++) {
      const b = this.tokens[i].bbox;
      if (!Array.isArray(b)) continue;
      const d = document.createElement("div");
      d.className = "box";
      d.style.cssText = `left:${b[0]}px;top:${b[1]}px;width:${b[2] - b[0]}px;height:${b[3] - b[1]}px`;
      d.dataset.i = i;
      this.boxEls[i] = d;
      frag.appendChild(d);
    }
    this.boxes.appendChild(frag);
  }

  // Update only the boxes whose span changed, then redraw the few label tags.
  applySpans(spans) {
    this.spans = spans;
    const owner = spanIndex(spans, this.tokens.length);
    const colors = spans.map((s) => this.opt.colors(s.label));
    for (let i = 0; i < owner.length; i++) {
      const k = owner[i];
      const box = this.boxEls[i];
      if (!box) continue;
      const before = this.owner[i];
      if (k === before && (k < 0 || box.style.getPropertyValue("--c") === colors[k])) continue;
      if (k < 0) {
        box.classList.remove("ent");
        box.style.removeProperty("--c");
      } else {
        box.classList.add("ent");
        box.style.setProperty("--c", colors[k]);
      }
    }
    this.owner = owner;
    this.tags.textContent = "";
    spans.forEach((s, k) => {
      const first = this.tokens[s.token_start];
      if (!first || !Array.isArray(first.bbox)) return;
      const tag = el("div", "tag", s.label || "");
      if (s.score !== undefined && s.score !== null && !this.opt.editable) {
        tag.appendChild(el("span", "ent-score", Number(s.score).toFixed(2)));
      }
      tag.dataset.span = String(k);
      tag.style.left = first.bbox[0] + "px";
      tag.style.top = first.bbox[1] + "px";
      tag.style.setProperty("--c", colors[k]);
      this.tags.appendChild(tag);
    });
  }

  setSpans(spans) {
    this.applySpans(spans);
  }

  setZoom(z, clientX, clientY) {
    z = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));
    const vp = this.viewport;
    const rect = vp.getBoundingClientRect();
    const cx = clientX === undefined ? rect.width / 2 : clientX - rect.left;
    const cy = clientY === undefined ? rect.height / 2 : clientY - rect.top;
    const px = (vp.scrollLeft + cx) / this.zoom, py = (vp.scrollTop + cy) / this.zoom;
    this.zoom = z;
    this.sizer.style.width = this.W * z + "px";
    this.sizer.style.height = this.H * z + "px";
    this.stage.style.transform = `scale(${z})`;
    this.stage.style.setProperty("--inv", String(1 / z));
    this.zoomLabel.textContent = Math.round(z * 100) + "%";
    vp.scrollLeft = px * z - cx;
    vp.scrollTop = py * z - cy;
  }

  fit() {
    const width = this.viewport.clientWidth || this.root.clientWidth || 800;
    this.setZoom((width - 2) / this.W, 0, 0);
    this.viewport.scrollLeft = 0;
    this.viewport.scrollTop = 0;
  }

  toPage(e) {
    const r = this.stage.getBoundingClientRect();
    return [(e.clientX - r.left) / this.zoom, (e.clientY - r.top) / this.zoom];
  }

  tokenAt(e) {
    const hit = document.elementFromPoint(e.clientX, e.clientY);
    return hit && hit.classList.contains("box") && this.boxes.contains(hit) ? Number(hit.dataset.i) : null;
  }

  listen() {
    this.viewport.addEventListener("wheel", (e) => {
      if (!e.ctrlKey) return;
      e.preventDefault();
      this.setZoom(this.zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1), e.clientX, e.clientY);
    }, { passive: false });
    this.stage.addEventListener("pointerdown", (e) => {
      if (e.button === 1 || (e.button === 0 && e.altKey)) {
        e.preventDefault();
        this.drag = { pan: true, x: e.clientX, y: e.clientY, sl: this.viewport.scrollLeft, st: this.viewport.scrollTop };
        this.stage.setPointerCapture(e.pointerId);
        return;
      }
      if (e.button !== 0 || !this.opt.editable) return;
      e.preventDefault();
      const tag = e.target.closest(".tag");
      if (tag) {
        this.opt.onRemove(Number(tag.dataset.span));
        return;
      }
      const i = e.target.classList.contains("box") ? Number(e.target.dataset.i) : null;
      if (i !== null) this.drag = { start: i, end: i, moved: false, shift: e.shiftKey };
      else this.drag = { band: true, from: this.toPage(e), moved: false };
      this.stage.setPointerCapture(e.pointerId);
    });
    this.stage.addEventListener("pointermove", (e) => {
      const d = this.drag;
      if (!d) return;
      if (d.pan) {
        this.viewport.scrollLeft = d.sl - (e.clientX - d.x);
        this.viewport.scrollTop = d.st - (e.clientY - d.y);
      } else if (d.band) {
        d.to = this.toPage(e);
        d.moved = true;
        this.drawBand(d.from, d.to);
        const range = this.inBand(d.from, d.to);
        this.showSelection(range ? range[0] : null, range ? range[1] : null);
      } else {
        const i = this.tokenAt(e);
        if (i === null || i === d.end) return;
        d.end = i;
        d.moved = true;
        this.showSelection(d.start, i);
      }
    });
    this.stage.addEventListener("pointerup", (e) => this.finish(e));
    this.stage.addEventListener("pointercancel", () => this.cancel());
  }

  finish(e) {
    const d = this.drag;
    this.drag = null;
    if (!d || d.pan) return;
    this.band.hidden = true;
    this.showSelection(null);
    if (d.band) {
      const range = d.moved && this.inBand(d.from, d.to);
      if (range) this.opt.onSelect(range[0], range[1], e.timeStamp);
      return;
    }
    this.anchor = finishSelection(d, this.anchor, this.owner, this.opt, e.timeStamp);
  }

  drawBand(a, b) {
    const x0 = Math.min(a[0], b[0]), y0 = Math.min(a[1], b[1]);
    this.band.hidden = false;
    this.band.style.cssText = `left:${x0}px;top:${y0}px;width:${Math.abs(a[0] - b[0])}px;height:${Math.abs(a[1] - b[1])}px`;
  }

  // The first and last token (reading order) whose box meets the rectangle, or null.
  inBand(a, b) {
    const x0 = Math.min(a[0], b[0]), x1 = Math.max(a[0], b[0]);
    const y0 = Math.min(a[1], b[1]), y1 = Math.max(a[1], b[1]);
    let lo = -1, hi = -1;
    for (let i = 0; i < this.tokens.length; i++) {
      const bb = this.tokens[i].bbox;
      if (!bb || bb[2] < x0 || bb[0] > x1 || bb[3] < y0 || bb[1] > y1) continue;
      if (lo < 0) lo = i;
      hi = i;
    }
    return lo < 0 ? null : [lo, hi];
  }

  showSelection(a, b) {
    if (this.sel) for (let i = this.sel[0]; i <= this.sel[1]; i++) this.boxEls[i] && this.boxEls[i].classList.remove("sel");
    this.sel = null;
    if (a === null || a === undefined) return;
    const lo = Math.min(a, b), hi = Math.max(a, b);
    for (let i = lo; i <= hi; i++) this.boxEls[i] && this.boxEls[i].classList.add("sel");
    this.sel = [lo, hi];
  }

  cancel() {
    this.drag = null;
    this.anchor = null;
    this.band.hidden = true;
    this.showSelection(null);
  }

  destroy() {
    this.root.remove();
  }
}
