// Text tasks: tokens as elements, spans as labelled marks; click, shift+click and drag to select.
// Task text only ever goes through textContent.

import { el, finishSelection, spanIndex } from "./util.js";

export class TextView {
  // options: {editable, colors(label) -> css colour, onSelect(a, b), onRemove(spanIdx), perf}
  constructor(container, task, spans, options) {
    this.container = container;
    this.tokens = task.tokens || [];
    this.text = task.text || "";
    this.spans = spans;
    this.opt = options;
    this.anchor = null;
    this.drag = null;
    this.root = el("div", "text-view" + (options.editable ? " editable" : ""));
    container.appendChild(this.root);
    if (options.editable) this.listen();
    this.render();
  }

  setSpans(spans) {
    this.spans = spans;
    this.render();
  }

  render() {
    const root = this.root;
    root.textContent = "";
    if (!this.tokens.length) {
      this.renderPlain(root);
      return;
    }
    const owner = spanIndex(this.spans, this.tokens.length);
    const frag = document.createDocumentFragment();
    this.tokenEls = new Array(this.tokens.length);
    let i = 0;
    while (i < this.tokens.length) {
      const k = owner[i];
      if (k < 0) {
        frag.appendChild(this.tokenEl(i));
        if (this.tokens[i].ws) frag.appendChild(document.createTextNode(" "));
        i++;
        continue;
      }
      const span = this.spans[k];
      const mark = el("mark", "ent");
      mark.dataset.span = String(k);
      mark.style.setProperty("--c", this.opt.colors(span.label));
      let j = i;
      for (; j < this.tokens.length && owner[j] === k; j++) {
        mark.appendChild(this.tokenEl(j));
        if (this.tokens[j].ws && owner[j + 1] === k) mark.appendChild(document.createTextNode(" "));
      }
      const tag = el("span", "ent-label", span.label || "");
      tag.dataset.span = String(k);
      if (span.score !== undefined && span.score !== null && !this.opt.editable) {
        tag.appendChild(el("span", "ent-score", Number(span.score).toFixed(2)));
      }
      mark.appendChild(tag);
      frag.appendChild(mark);
      if (this.tokens[j - 1].ws) frag.appendChild(document.createTextNode(" "));
      i = j;
    }
    root.appendChild(frag);
  }

  renderPlain(root) {
    // No tokens (e.g. a plain text task in a read-only view): spans by character offsets.
    const spans = [...this.spans].filter((s) => typeof s.start === "number").sort((a, b) => a.start - b.start);
    let pos = 0;
    for (const s of spans) {
      if (s.start < pos) continue;
      root.appendChild(document.createTextNode(this.text.slice(pos, s.start)));
      const mark = el("mark", "ent", this.text.slice(s.start, s.end));
      mark.style.setProperty("--c", this.opt.colors(s.label));
      if (s.label) mark.appendChild(el("span", "ent-label", s.label));
      root.appendChild(mark);
      pos = s.end;
    }
    root.appendChild(document.createTextNode(this.text.slice(pos)));
  }

  tokenEl(i) {
    const t = el("span", "tok", this.tokens[i].text);
    t.dataset.i = String(i);
    this.tokenEls[i] = t;
    return t;
  }

  tokenAt(x, y) {
    const hit = document.elementFromPoint(x, y);
    const tok = hit && hit.closest(".tok");
    return tok && this.root.contains(tok) ? Number(tok.dataset.i) : null;
  }

  listen() {
    this.root.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      const tag = e.target.closest(".ent-label");
      if (tag) {
        e.preventDefault();
        this.opt.onRemove(Number(tag.dataset.span));
        return;
      }
      const tok = e.target.closest(".tok");
      if (!tok) return;
      e.preventDefault();
      const i = Number(tok.dataset.i);
      this.drag = { start: i, end: i, moved: false, shift: e.shiftKey };
      this.root.setPointerCapture(e.pointerId);
    });
    this.root.addEventListener("pointermove", (e) => {
      if (!this.drag) return;
      const i = this.tokenAt(e.clientX, e.clientY);
      if (i === null || i === this.drag.end) return;
      this.drag.end = i;
      this.drag.moved = true;
      this.showSelection(this.drag.start, i);
    });
    const finish = (e) => {
      const d = this.drag;
      if (!d) return;
      this.drag = null;
      this.showSelection(null);
      this.anchor = finishSelection(d, this.anchor, spanIndex(this.spans, this.tokens.length), this.opt, e.timeStamp);
    };
    this.root.addEventListener("pointerup", finish);
    this.root.addEventListener("pointercancel", () => { this.drag = null; this.showSelection(null); });
  }

  showSelection(a, b) {
    for (const t of this.root.querySelectorAll(".tok.sel")) t.classList.remove("sel");
    if (a === null) return;
    const lo = Math.min(a, b), hi = Math.max(a, b);
    for (let i = lo; i <= hi; i++) this.tokenEls[i].classList.add("sel");
  }

  cancel() {
    this.drag = null;
    this.anchor = null;
    this.showSelection(null);
  }

  destroy() {
    this.root.remove();
  }
}
