// A signature pad on a canvas: pointer events (finger, pen and mouse alike), clear, PNG
// export. The owner signs the inspection on the specialist's phone (domain.md, 入伙 5).
const INK = "#000";
const PAPER = "#fff"; // opaque: a transparent PNG turns black-on-black in a dark viewer

export class SignaturePad {
  // The canvas must be in the document (its CSS size decides the bitmap size).
  constructor(canvas, { onEnd } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onEnd = onEnd;
    this.strokes = 0;
    this.last = null;
    this.mid = null;
    canvas.style.touchAction = "none"; // the finger draws instead of scrolling the page
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    canvas.addEventListener("pointercancel", (e) => this.up(e));
    this.fit();
  }

  // Bitmap at device pixels so the strokes stay sharp on a 2× or 3× screen.
  fit() {
    const ratio = globalThis.devicePixelRatio || 1;
    const rect = this.canvas.getBoundingClientRect();
    this.canvas.width = Math.max(1, Math.round((rect.width || 300) * ratio));
    this.canvas.height = Math.max(1, Math.round((rect.height || 180) * ratio));
    this.ratio = ratio;
    this.clear();
  }

  clear() {
    const { ctx, canvas } = this;
    ctx.fillStyle = PAPER;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    this.strokes = 0;
    this.canvas.dataset.strokes = "0";
  }

  isEmpty() {
    return this.strokes === 0;
  }

  point(e) {
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - rect.left) * this.canvas.width) / rect.width,
      y: ((e.clientY - rect.top) * this.canvas.height) / rect.height,
    };
  }

  down(e) {
    if (e.button !== undefined && e.button > 0) return; // right or middle mouse button
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    const p = this.point(e);
    this.last = p;
    this.mid = p;
    const { ctx } = this;
    ctx.fillStyle = INK;
    ctx.beginPath();
    ctx.arc(p.x, p.y, this.width() / 2, 0, Math.PI * 2); // a tap leaves a dot
    ctx.fill();
  }

  move(e) {
    if (!this.last) return;
    e.preventDefault();
    const events = e.getCoalescedEvents?.() || [];
    for (const ev of events.length ? events : [e]) this.segment(this.point(ev));
  }

  // Quadratic curves through the midpoints: smooth lines from sparse pointer events.
  segment(p) {
    const { ctx } = this;
    const mid = { x: (this.last.x + p.x) / 2, y: (this.last.y + p.y) / 2 };
    ctx.strokeStyle = INK;
    ctx.lineWidth = this.width();
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(this.mid.x, this.mid.y);
    ctx.quadraticCurveTo(this.last.x, this.last.y, mid.x, mid.y);
    ctx.stroke();
    this.last = p;
    this.mid = mid;
  }

  up(e) {
    if (!this.last) return;
    this.canvas.releasePointerCapture?.(e.pointerId);
    this.last = null;
    this.strokes += 1;
    this.canvas.dataset.strokes = String(this.strokes);
    this.onEnd?.(this);
  }

  width() {
    return 2.6 * this.ratio;
  }

  toBlob() {
    return new Promise((resolve, reject) =>
      this.canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("encode failed"))), "image/png"));
  }

  // Put a saved signature back (a draft restored after a reload).
  async load(blob) {
    const bitmap = await createImageBitmap(blob);
    this.clear();
    this.ctx.drawImage(bitmap, 0, 0, this.canvas.width, this.canvas.height);
    bitmap.close?.();
    this.strokes = 1;
    this.canvas.dataset.strokes = "1";
  }
}
