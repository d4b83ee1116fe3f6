// Page tasks: the page image with a box per token; spans as coloured boxes with their label beside them.
// Click, shift+click or drag over tokens (reading order), or drag a rectangle from empty space: it
// takes the tokens mostly inside it, or, over none, asks the server to read the text there.
// The page opens at the chosen zoom (fit width, fit page or a percentage) on its spans: zoomed out
// as far as needed to show them with some context around, and centred.

import { el, finishSelection, spanIndex } from "./util.js";
import { BoxIndex, medianHeight, shareInside, spanBox, union } from "./geometry.js";
import { placeTags } from "./tags.js";
import { drawWord, isCorrected, readAs } from "./correct.js";

const ZOOM_STEP = 1.25;
const MIN_ZOOM = 0.1;
const MAX_ZOOM = 6;
const LOW_CONF = 60; // OCR confidence (0-100) under which a word is doubtful, unless the page's engine says (meta.low_conf)
const LEGIBLE = 13; // screen pixels of a word's box under which showing all spans at once is not worth it
const READ_AT_MOST = 34; // screen pixels of a word's box a fitted page opens at, at most (a narrow receipt)
const MIN_REGION = 8; // screen pixels: a smaller rectangle over no token is a slip, not a region to read
const INSIDE = 0.5; // share of a token's box a rectangle must cover to take it

export class PageView {
  // options: {editable, colors(label), onSelect(a, b, t0), onRemove(k), imageUrl, perf,
  //           zoom: {mode: "width"|"page"|"free", z}, onZoom(zoom), clearBoxes, onRegion(box, t0)}
  constructor(container, task, spans, options) {
    const t0 = performance.now();
    this.task = task;
    this.tokens = task.tokens || [];
    this.W = Number(task.width);
    this.H = Number(task.height);
    this.spans = spans;
    this.opt = options;
    this.pref = options.zoom || { mode: "width", z: 1 };
    this.anchor = null;
    this.drag = null;
    this.sel = null;
    this.zoom = 1;
    this.conf = confidences(task);
    this.lowConf = (task.meta && typeof task.meta.low_conf === "number") ? task.meta.low_conf : LOW_CONF;
    this.build(container);
    this.boxEls = [];
    this.words = new BoxIndex();
    this.renderBoxes(0);
    this.owner = new Int32Array(this.tokens.length).fill(-1);
    this.setClearBoxes(Boolean(options.clearBoxes));
    this.applySpans(spans, false);
    this.focus();
    this.stage.getBoundingClientRect(); // force style and layout: the page is ready to paint
    if (options.perf) options.perf.mark("render", t0);
    this.watchSize();
  }

  build(container) {
    const meta = this.task.meta || {};
    this.root = el("div", "page-view" + (this.opt.editable ? " editable" : ""));
    const bar = el("div", "page-toolbar");
    const button = (text, title, fn, cls) => {
      const b = el("button", "tool" + (cls ? " " + cls : ""), text);
      b.type = "button";
      b.title = title;
      b.addEventListener("click", fn);
      bar.appendChild(b);
      return b;
    };
    button("−", "Zoom out (-)", () => this.zoomBy(1 / ZOOM_STEP));
    this.zoomLabel = el("span", "zoom-label", "100%");
    bar.appendChild(this.zoomLabel);
    button("+", "Zoom in (+)", () => this.zoomBy(ZOOM_STEP));
    this.widthButton = button("Width", "Fit the width (w or 0)", () => this.fit("width"), "fit-width");
    this.pageButton = button("Page", "Fit the whole page (p)", () => this.fit("page"), "fit-page");
    this.boxesButton = button("Boxes", "Show the words OCR read clearly or faintly (b)", () => this.opt.onToggleBoxes
      ? this.opt.onToggleBoxes() : this.setClearBoxes(!this.clearBoxes), "boxes-toggle");
    const where = el("span", "page-where");
    if (meta.page && meta.pages > 1 && this.opt.onLookAt && meta.image_key) {
      // page n of N: a jump to read another page of the document ([ and ] step), back to n to annotate
      where.appendChild(document.createTextNode("page "));
      this.pageInput = el("input", "page-jump");
      Object.assign(this.pageInput, { type: "number", min: "1", max: String(meta.pages), value: String(meta.page),
        title: `Look at another page of the document ([ and ]); page ${meta.page} is the one to annotate` });
      this.pageInput.addEventListener("change", () => this.lookAtPage(Number(this.pageInput.value)));
      this.pageInput.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === "Escape") e.target.blur(); });
      where.appendChild(this.pageInput);
      where.appendChild(document.createTextNode(` of ${meta.pages}`));
    } else if (meta.page) {
      where.textContent = `page ${meta.page} of ${meta.pages || "?"}`;
    }
    bar.appendChild(where);
    this.reading = el("span", "page-reading");
    this.reading.hidden = true;
    bar.appendChild(this.reading);
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
    this.tip = el("div", "tip");
    this.tip.hidden = true;
    this.edges = el("div", "edge-marks"); // spans out of view, marked where they are beyond the view's edge
    this.root.append(this.viewport, this.tip, this.edges);
    this.viewport.addEventListener("scroll", () => this.markEdges(), { passive: true });
    container.appendChild(this.root);
    this.listen();
  }

  // One box per token from index `from` on (all of them, or the ones just added by hand).
  renderBoxes(from) {
    const frag = document.createDocumentFragment();
    for (let i = from; i < this.tokens.length; i++) {
      const t = this.tokens[i];
      const b = t.bbox;
      if (!Array.isArray(b)) continue;
      const d = document.createElement("div");
      let cls = "box";
      if (this.conf[i] !== null && this.conf[i] < this.lowConf) cls += " low";
      if (t.added === true) cls += " added";
      d.className = cls;
      d.style.cssText = `left:${b[0]}px;top:${b[1]}px;width:${b[2] - b[0]}px;height:${b[3] - b[1]}px`;
      d.dataset.i = i;
      drawWord(d, this.task, i); // typed, added or corrected: its text drawn in its box
      this.boxEls[i] = d;
      this.words.add(b);
      frag.appendChild(d);
    }
    this.boxes.appendChild(frag);
  }

  // Tokens appended to the task (added by hand): draw their boxes.
  addTokens(task) {
    const from = this.tokens.length;
    this.task = task;
    this.tokens = task.tokens;
    this.conf = confidences(task);
    this.lowConf = (task.meta && typeof task.meta.low_conf === "number") ? task.meta.low_conf : LOW_CONF;
    const owner = new Int32Array(this.tokens.length).fill(-1);
    owner.set(this.owner);
    this.owner = owner;
    this.renderBoxes(from);
  }

  // Tokens a..b of the task got new text (corrected by hand): draw it in their boxes.
  retext(task, a, b) {
    this.task = task;
    this.tokens = task.tokens;
    for (let i = a; i <= b; i++) if (this.boxEls[i]) drawWord(this.boxEls[i], task, i);
    if (this.opt.onSpans) this.opt.onSpans(this.spans, task);
  }

  // Update only the boxes whose span changed, then redraw the few label tags.
  applySpans(spans, place = true) {
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
    this.tagEls = spans.map((s, k) => {
      const first = this.tokens[s.token_start];
      if (!first || !Array.isArray(first.bbox)) return null;
      const tag = el("div", "tag", s.label || "");
      if (s.score !== undefined && s.score !== null && !this.opt.editable) {
        tag.appendChild(el("span", "ent-score", Number(s.score).toFixed(2)));
      }
      tag.dataset.span = String(k);
      tag.style.setProperty("--c", colors[k]);
      this.tags.appendChild(tag);
      return tag;
    });
    if (place) this.placeTags();
    if (this.opt.onSpans) this.opt.onSpans(spans, this.task);
  }

  setSpans(spans) {
    this.applySpans(spans);
    this.markEdges();
  }

  // A mark at the view's edge, in its label's colour, for each span out of view, where it lies beyond the edge;
  // a click scrolls to it.
  markEdges() {
    if (!this.edges || !this.viewport.clientWidth) return;
    this.edges.textContent = "";
    const vw = this.viewport.clientWidth, vh = this.viewport.clientHeight;
    const ox = this.viewport.offsetLeft, oy = this.viewport.offsetTop;
    (this.spans || []).forEach((s, k) => {
      const b = spanBox(s, this.tokens);
      if (!b) return;
      const x0 = this.sizer.offsetLeft + b[0] * this.zoom - this.viewport.scrollLeft;
      const y0 = this.sizer.offsetTop + b[1] * this.zoom - this.viewport.scrollTop;
      const x1 = x0 + (b[2] - b[0]) * this.zoom, y1 = y0 + (b[3] - b[1]) * this.zoom;
      if (x1 > 0 && x0 < vw && y1 > 0 && y0 < vh) return; // in view
      const side = y1 <= 0 ? "top" : y0 >= vh ? "bottom" : x1 <= 0 ? "left" : "right";
      const mark = el("button", `edge-mark edge-${side}`, { top: "▲", bottom: "▼", left: "◀", right: "▶" }[side]);
      mark.type = "button";
      mark.title = `${s.label}: ${(this.task.text || "").slice(s.start, s.end)} (out of view)`;
      mark.dataset.span = String(k);
      mark.style.setProperty("--c", this.opt.colors(s.label));
      const cx = Math.min(vw - 12, Math.max(12, (x0 + x1) / 2)), cy = Math.min(vh - 12, Math.max(12, (y0 + y1) / 2));
      mark.style.left = ox + (side === "left" ? 2 : side === "right" ? vw - 22 : cx - 10) + "px";
      mark.style.top = oy + (side === "top" ? 2 : side === "bottom" ? vh - 22 : cy - 10) + "px";
      mark.addEventListener("click", () => {
        this.touched = true;
        this.scrollPageTo((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, vw / 2, vh / 2);
      });
      this.edges.appendChild(mark);
    });
  }

  // Each tag beside its span where it hides no word; where there is no such place, shown on hover only.
  placeTags() {
    const items = [], tags = [];
    this.tagEls.forEach((tag, k) => {
      if (!tag) return;
      const s = this.spans[k];
      const last = this.tokens[s.token_end];
      tags.push(tag);
      items.push({ first: this.tokens[s.token_start].bbox, last: last && Array.isArray(last.bbox) ? last.bbox : this.tokens[s.token_start].bbox,
        w: tag.offsetWidth * this.zoom, h: tag.offsetHeight * this.zoom });
    });
    const spots = placeTags(items, this.words, this.W, this.H, this.zoom);
    spots.forEach((spot, j) => {
      const tag = tags[j];
      const [x, y] = spot || [items[j].first[0], items[j].first[1] - items[j].h / this.zoom];
      tag.classList.toggle("tucked", !spot);
      tag.style.left = x + "px";
      tag.style.top = y + "px";
    });
  }

  // zoom

  zoomFor(mode, z) {
    const w = this.viewport.clientWidth || this.root.clientWidth || 800;
    const h = this.viewport.clientHeight || 600;
    const [W, H] = this.shown || [this.W, this.H]; // another page being read may have another size
    if (mode === "width") return (w - 2) / W;
    if (mode === "page") return Math.min((w - 2) / W, (h - 2) / H);
    return z;
  }

  applyZoom(z) {
    z = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));
    this.zoom = z;
    const [W, H] = this.shown || [this.W, this.H];
    this.sizer.style.width = W * z + "px";
    this.sizer.style.height = H * z + "px";
    this.stage.style.transform = `scale(${z})`;
    this.stage.style.setProperty("--inv", String(1 / z));
    this.zoomLabel.textContent = Math.round(z * 100) + "%";
    this.markEdges();
    this.widthButton.classList.toggle("on", this.pref.mode === "width");
    this.pageButton.classList.toggle("on", this.pref.mode === "page");
    if (this.tagEls) this.placeTags();
  }

  // Zoom keeping the page point under (clientX, clientY), or under the viewport's centre, in place.
  setZoom(z, clientX, clientY) {
    this.choose({ mode: "free", z: Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z)) }, clientX, clientY);
  }

  zoomBy(factor, clientX, clientY) {
    this.setZoom(this.zoom * factor, clientX, clientY);
  }

  fit(mode) {
    this.choose({ mode, z: this.zoomFor(mode) });
  }

  choose(pref, clientX, clientY) {
    this.touched = true;
    const vr = this.viewport.getBoundingClientRect();
    const sr = this.stage.getBoundingClientRect();
    const ax = clientX === undefined ? vr.left + this.viewport.clientWidth / 2 : clientX;
    const ay = clientY === undefined ? vr.top + this.viewport.clientHeight / 2 : clientY;
    const px = (ax - sr.left) / this.zoom, py = (ay - sr.top) / this.zoom;
    this.pref = pref;
    this.applyZoom(this.zoomFor(pref.mode, pref.z));
    this.scrollPageTo(px, py, ax - vr.left, ay - vr.top);
    if (this.opt.onZoom) this.opt.onZoom({ mode: pref.mode, z: this.zoom });
  }

  // Scroll so that page point (px, py) is at (sx, sy) in the viewport.
  scrollPageTo(px, py, sx, sy) {
    this.viewport.scrollLeft = this.sizer.offsetLeft + px * this.zoom - sx;
    this.viewport.scrollTop = this.sizer.offsetTop + py * this.zoom - sy;
  }

  // The zoom at which a box fits in the viewport with room for context (and its tag) around it.
  zoomToShow(box) {
    const vw = this.viewport.clientWidth, vh = this.viewport.clientHeight;
    const m = Math.min(80, 0.15 * Math.min(vw, vh));
    return Math.min((vw - 2 * m) / Math.max(1, box[2] - box[0]), (vh - 2 * m) / Math.max(1, box[3] - box[1]));
  }

  // Open at the chosen zoom on the spans: all of them if they fit legibly, else the first; zoomed out
  // as far as the span needs, and centred on it.
  focus() {
    const boxes = this.spans.map((s) => spanBox(s, this.tokens)).filter(Boolean);
    const h = medianHeight(this.tokens);
    // A fitted page opens no larger than reading needs (fit width makes a narrow receipt's words huge).
    const fitted = this.zoomFor(this.pref.mode, this.pref.z);
    const chosen = this.pref.mode !== "free" && h ? Math.min(fitted, READ_AT_MOST / h) : fitted;
    if (!boxes.length) {
      this.applyZoom(chosen);
      this.viewport.scrollLeft = 0;
      this.viewport.scrollTop = 0;
      return;
    }
    const all = union(boxes);
    const legible = Math.min(chosen, h ? LEGIBLE / h : 0);
    const target = this.zoomToShow(all) >= legible ? all : boxes[0];
    this.applyZoom(Math.min(chosen, this.zoomToShow(target)));
    this.scrollPageTo((target[0] + target[2]) / 2, (target[1] + target[3]) / 2,
      this.viewport.clientWidth / 2, this.viewport.clientHeight / 2);
  }

  // When the window changes size: open on the spans again if the page was not touched yet, else keep
  // fit-width and fit-page fitted.
  watchSize() {
    if (typeof ResizeObserver === "undefined") return;
    let size = [this.viewport.clientWidth, this.viewport.clientHeight];
    this.resizer = new ResizeObserver(() => {
      const now = [this.viewport.clientWidth, this.viewport.clientHeight];
      if (now[0] === size[0] && now[1] === size[1]) return;
      size = now;
      if (!this.touched) this.focus();
      else if (this.pref.mode !== "free") this.choose(this.pref);
    });
    this.resizer.observe(this.viewport);
    for (const type of ["pointerdown", "wheel"]) this.viewport.addEventListener(type, () => { this.touched = true; }, { passive: true });
  }

  setClearBoxes(on) {
    this.clearBoxes = on;
    this.root.classList.toggle("clear-boxes", on);
    this.boxesButton.classList.toggle("on", on);
  }

  // coordinates

  toPage(e) {
    const r = this.stage.getBoundingClientRect();
    return [(e.clientX - r.left) / this.zoom, (e.clientY - r.top) / this.zoom];
  }

  // A page point in pixels from the view's top-left corner.
  screenPoint(x, y) {
    const s = this.stage.getBoundingClientRect(), r = this.root.getBoundingClientRect();
    return [s.left - r.left + x * this.zoom, s.top - r.top + y * this.zoom];
  }

  tokenAt(e) {
    const hit = document.elementFromPoint(e.clientX, e.clientY);
    return hit && hit.classList.contains("box") && this.boxes.contains(hit) ? Number(hit.dataset.i) : null;
  }

  // input

  listen() {
    this.viewport.addEventListener("wheel", (e) => {
      if (!e.ctrlKey) return;
      e.preventDefault();
      this.zoomBy(e.deltaY < 0 ? 1.1 : 1 / 1.1, e.clientX, e.clientY);
    }, { passive: false });
    this.stage.addEventListener("pointerdown", (e) => {
      this.hideTip();
      if (e.button === 1 || (e.button === 0 && e.altKey)) {
        e.preventDefault();
        this.drag = { pan: true, x: e.clientX, y: e.clientY, sl: this.viewport.scrollLeft, st: this.viewport.scrollTop };
        this.stage.setPointerCapture(e.pointerId);
        return;
      }
      if (e.button !== 0 || !this.opt.editable || this.held) return;
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
    this.boxes.addEventListener("pointerover", (e) => this.hover(e.target, true));
    this.boxes.addEventListener("pointerout", (e) => this.hover(e.target, false));
  }

  finish(e) {
    const d = this.drag;
    this.drag = null;
    if (!d || d.pan) return;
    this.showSelection(null);
    if (d.band) {
      const range = d.moved && this.inBand(d.from, d.to);
      const box = d.moved ? rectOf(d.from, d.to) : null;
      const big = box && (box[2] - box[0]) * this.zoom >= MIN_REGION && (box[3] - box[1]) * this.zoom >= MIN_REGION;
      this.band.hidden = true;
      if (range) this.opt.onSelect(range[0], range[1], e.timeStamp);
      else if (big && this.opt.onRegion) this.opt.onRegion(box, e.timeStamp);
      return;
    }
    this.anchor = finishSelection(d, this.anchor, this.owner, this.opt, e.timeStamp);
  }

  drawBand(a, b) {
    const r = rectOf(a, b);
    this.band.hidden = false;
    this.band.style.cssText = `left:${r[0]}px;top:${r[1]}px;width:${r[2] - r[0]}px;height:${r[3] - r[1]}px`;
  }

  // The first and last token (reading order) with most of its box inside the rectangle, or null.
  inBand(a, b) {
    const rect = rectOf(a, b);
    let lo = -1, hi = -1;
    for (let i = 0; i < this.tokens.length; i++) {
      const bb = this.tokens[i].bbox;
      if (!Array.isArray(bb) || shareInside(bb, rect) <= INSIDE) continue;
      if (lo < 0) lo = i;
      hi = i;
    }
    return lo < 0 ? null : [lo, hi];
  }

  // A region being read by the server (`reading`) or typed in: the rectangle stays; selection waits.
  hold(box, reading) {
    this.held = true;
    this.drawBand([box[0], box[1]], [box[2], box[3]]);
    this.band.classList.toggle("reading", reading);
  }

  release() {
    this.held = false;
    this.band.classList.remove("reading");
    this.band.hidden = true;
  }

  showSelection(a, b) {
    if (this.sel) for (let i = this.sel[0]; i <= this.sel[1]; i++) this.boxEls[i] && this.boxEls[i].classList.remove("sel");
    this.sel = null;
    if (a === null || a === undefined) return;
    const lo = Math.min(a, b), hi = Math.max(a, b);
    for (let i = lo; i <= hi; i++) this.boxEls[i] && this.boxEls[i].classList.add("sel");
    this.sel = [lo, hi];
  }

  // Hovering a word: its span's tucked-away tag, and its text as read under it (with how sure OCR was, and what
  // OCR read when it was corrected); e corrects it.
  hover(target, on) {
    if (!target.classList.contains("box") || this.drag) return;
    const i = Number(target.dataset.i);
    this.hovered = on ? i : null;
    const k = this.owner[i];
    const tag = k >= 0 && this.tagEls ? this.tagEls[k] : null;
    if (tag) tag.classList.toggle("peek", on);
    if (!on) return this.hideTip();
    const low = target.classList.contains("low");
    const t = this.tokens[i];
    const conf = this.conf[i];
    this.tip.textContent = t.text + (conf !== null ? ` · ${Math.round(conf)}%` : "") + (t.added ? " · added" : "")
      + (isCorrected(this.task, i) ? ` · OCR read ${readAs(this.task, i)}` : "");
    this.tip.classList.toggle("low", low);
    this.tip.hidden = false;
    const [x, y] = this.screenPoint(t.bbox[0], t.bbox[3]);
    const top = this.screenPoint(t.bbox[0], t.bbox[1])[1];
    const h = this.tip.offsetHeight, w = this.tip.offsetWidth;
    this.tip.style.left = Math.max(2, Math.min(x, this.root.clientWidth - w - 2)) + "px";
    this.tip.style.top = (y + 4 + h <= this.root.clientHeight ? y + 4 : top - 4 - h) + "px";
  }

  hideTip() {
    this.tip.hidden = true;
  }

  cancel() {
    this.drag = null;
    this.anchor = null;
    if (!this.held) this.band.hidden = true;
    this.showSelection(null);
    this.hideTip();
  }

  // Look at another page of the document (delta pages from the one shown), to read it; its words are not boxes here.
  lookAt(delta) {
    const meta = this.task.meta || {};
    this.lookAtPage((this.target || meta.page) + delta);
  }

  async lookAtPage(page) {
    const meta = this.task.meta || {};
    if (!this.opt.onLookAt || !meta.pages || !(page >= 1 && page <= meta.pages)) {
      if (this.pageInput) this.pageInput.value = String(this.target || meta.page);
      return;
    }
    this.target = page; // keys pressed before the page came step on from it; a late answer for another is dropped
    if (page === meta.page) return this.showOther(null);
    const other = await this.opt.onLookAt(meta.image_key, page);
    if (other && this.root.isConnected && this.target === page) this.showOther(other);
  }

  // Another page ({page, image_key, width, height}) in place of the one asked, read-only; null: back to it.
  showOther(other) {
    const meta = this.task.meta || {};
    this.other = other;
    this.root.classList.toggle("reading-other", Boolean(other));
    this.reading.hidden = !other;
    this.reading.textContent = other ? `reading only: page ${meta.page} is the one to annotate` : "";
    if (this.pageInput) this.pageInput.value = String(other ? other.page : meta.page);
    const [w, h] = other ? [other.width || this.W, other.height || this.H] : [this.W, this.H];
    this.img.width = w;
    this.img.height = h;
    this.stage.style.width = w + "px";
    this.stage.style.height = h + "px";
    this.img.src = other ? other.url : (this.opt.imageUrl || "");
    this.shown = other ? [w, h] : null;
    if (other) this.applyZoom(this.zoomFor(this.pref.mode, this.zoom));
    else this.focus();
  }

  destroy() {
    if (this.resizer) this.resizer.disconnect();
    this.root.remove();
  }
}

function rectOf(a, b) {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
}

// Each token's OCR confidence (0-100) from the task's meta.conf (one per word; an engine that gives
// one per line repeats it for the line's words), or null where there is none.
function confidences(task) {
  const conf = task.meta && Array.isArray(task.meta.conf) ? task.meta.conf : [];
  return (task.tokens || []).map((t, i) => (typeof conf[i] === "number" && !t.added ? conf[i] : null));
}
