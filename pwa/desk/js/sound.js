// The alarm sound, made with the Web Audio API (no audio file). Browsers only allow sound after
// a user gesture, so the desk arms it on the first click or key press and says so until then.

const SIREN_EVERY_MS = 2500;

export class AlarmSound {
  constructor(onChange) {
    this.context = null;
    this.ringing = false;
    this.timer = null;
    this.onChange = onChange;
    const arm = () => this.arm();
    window.addEventListener('pointerdown', arm, { capture: true });
    window.addEventListener('keydown', arm, { capture: true });
  }

  get armed() {
    return this.context !== null && this.context.state === 'running';
  }

  state() {
    if (!this.armed) return 'off';
    return this.ringing ? 'ringing' : 'armed';
  }

  async arm() {
    try {
      if (!this.context) {
        this.context = new AudioContext();
        this.context.addEventListener('statechange', () => this.changed());
      }
      if (this.context.state !== 'running') await this.context.resume();
    } catch (error) {
      console.warn('audio', error);
    }
    this.changed();
    if (this.ringing) this.siren();
  }

  changed() {
    this.onChange?.(this.state());
  }

  /** Ring while at least one critical alarm is unacknowledged. */
  setRinging(ringing) {
    if (ringing === this.ringing) return;
    this.ringing = ringing;
    clearInterval(this.timer);
    this.timer = null;
    if (ringing) {
      this.siren();
      this.timer = setInterval(() => this.siren(), SIREN_EVERY_MS);
    }
    this.changed();
  }

  /** Two-tone siren, three times: about 1.2 s. */
  siren() {
    if (!this.armed) return;
    const now = this.context.currentTime;
    for (let i = 0; i < 6; i += 1) this.tone(i % 2 ? 660 : 988, now + i * 0.2, 0.18, 'square', 0.18);
  }

  /** One short chime for a new non-critical alarm. */
  chime() {
    if (!this.armed) return;
    const now = this.context.currentTime;
    this.tone(784, now, 0.15, 'sine', 0.25);
    this.tone(1047, now + 0.16, 0.25, 'sine', 0.25);
  }

  tone(frequency, at, length, type, volume) {
    const oscillator = this.context.createOscillator();
    const gain = this.context.createGain();
    oscillator.type = type;
    oscillator.frequency.setValueAtTime(frequency, at);
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(volume, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
    oscillator.connect(gain).connect(this.context.destination);
    oscillator.start(at);
    oscillator.stop(at + length + 0.02);
  }
}
