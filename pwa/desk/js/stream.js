// GET /api/desk/stream read with fetch(): EventSource cannot send the bearer token.
//
// Remembers the last event id and reconnects with Last-Event-ID (backoff 1 s … 10 s), so a
// desk that lost its connection receives every change it missed, in order. The server's first
// event (`ready`) carries the id the stream starts after, so even a drop before any change resumes
// without a gap; `seen` events (no id) bring devices' "last heard" times.

import { BACKOFF_MS, STREAM_SILENCE_MS } from './config.js';
import { headers } from './api.js';

export class DeskStream {
  /**
   * @param {object} hooks onEvent({type, id, data}), onState(state, info), onUnauthorized(),
   *   onStart({resumed}) — resumed is false when the stream could not continue from a known id.
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.lastId = null;
    this.state = 'idle';  // idle | connecting | live | waiting | stopped
    this.attempt = 0;
    this.controller = null;
    this.retryTimer = null;
    this.watchdog = null;
    this.running = false;
    window.addEventListener('online', () => this.reconnectNow());
    // The machine lost its network: the open response will never say so itself.
    window.addEventListener('offline', () => this.drop());
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop() {
    this.running = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    if (this.controller) this.controller.abort();
    this.setState('stopped');
  }

  /** Forget where we were (after logout): the next start begins from now. */
  reset() {
    this.lastId = null;
    this.attempt = 0;
  }

  reconnectNow() {
    if (this.running && this.state === 'waiting') {
      clearTimeout(this.retryTimer);
      this.connect();
    }
  }

  /** Drop the connection as if the network had (tests and the "reconnect" button use it). */
  drop() {
    if (this.controller) this.controller.abort();
  }

  setState(state, info) {
    this.state = state;
    this.hooks.onState?.(state, info);
  }

  async connect() {
    clearTimeout(this.retryTimer);
    if (!this.running) return;
    const controller = new AbortController();
    this.controller = controller;
    this.setState('connecting', { attempt: this.attempt });
    const extra = { Accept: 'text/event-stream' };
    const resumeFrom = this.lastId;
    if (resumeFrom !== null) extra['Last-Event-ID'] = String(resumeFrom);
    let failure = null;
    try {
      const response = await fetch('/api/desk/stream', { headers: headers(extra), signal: controller.signal,
        cache: 'no-store' });
      if (response.status === 401) {
        this.running = false;
        this.setState('stopped');
        this.hooks.onUnauthorized?.();
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      this.attempt = 0;
      this.setState('live');
      this.hooks.onStart?.({ resumed: resumeFrom !== null });
      await this.read(response.body, controller);
      failure = 'closed';
    } catch (error) {
      failure = error;
    } finally {
      clearTimeout(this.watchdog);
    }
    if (!this.running || (controller.signal.aborted && controller !== this.controller)) return;
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.setState('waiting', { delay, error: String(failure && failure.message ? failure.message : failure) });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  armWatchdog(controller) {
    clearTimeout(this.watchdog);
    // Heartbeats come every 15 s; silence this long means a half-dead connection.
    this.watchdog = setTimeout(() => controller.abort(), STREAM_SILENCE_MS);
  }

  async read(body, controller) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = { type: 'message', data: [], id: null };
    this.armWatchdog(controller);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      this.armWatchdog(controller);
      buffer += value;
      // The SSE format (WHATWG HTML §9.2): lines end in CRLF, LF or CR; a blank line dispatches.
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === '') {
          if (event.data.length) this.dispatch(event);
          event = { type: 'message', data: [], id: null };
          continue;
        }
        if (line.startsWith(':')) continue;  // a comment: the keep-alive (it re-armed the watchdog)
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') event.data.push(value);
        else if (field === 'event') event.type = value;
        else if (field === 'id' && !value.includes('\0')) event.id = value;
      }
    }
  }

  dispatch(event) {
    if (event.id !== null && /^\d+$/.test(event.id)) this.lastId = Number(event.id);
    let data;
    try {
      data = JSON.parse(event.data.join('\n'));
    } catch {
      return;
    }
    this.hooks.onEvent?.({ type: event.type, id: this.lastId, data });
  }
}
