// Camera scanning: getUserMedia, the native BarcodeDetector where the browser has one,
// otherwise jsQR (vendored from npm, served locally — Linux Chromium has no BarcodeDetector).
let stream = null;
let running = false;

export async function start(video, onCode) {
  stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false,
  });
  video.srcObject = stream;
  video.setAttribute("playsinline", "");
  await video.play();
  running = true;
  const detect = await detector();
  const loop = async () => {
    if (!running) return;
    try {
      const code = await detect(video);
      if (code) { onCode(code); return; }
    } catch { /* a frame that is not ready yet */ }
    setTimeout(loop, 120);
  };
  loop();
}

async function detector() {
  if ("BarcodeDetector" in globalThis) {
    try {
      const formats = await BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const native = new BarcodeDetector({ formats: ["qr_code"] });
        return async (video) => (await native.detect(video))[0]?.rawValue || null;
      }
    } catch { /* fall through to jsQR */ }
  }
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    if (!video.videoWidth) return null;
    const scale = Math.min(1, 800 / video.videoWidth); // decode speed over resolution
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    return globalThis.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" })?.data || null;
  };
}

export function torchSupported() {
  const track = stream?.getVideoTracks()[0];
  return !!track?.getCapabilities?.().torch;
}

export async function setTorch(on) {
  const track = stream?.getVideoTracks()[0];
  await track?.applyConstraints({ advanced: [{ torch: on }] });
}

export function stop() {
  running = false;
  stream?.getTracks().forEach((tr) => tr.stop());
  stream = null;
}

// The tag's shape: FO1.<checkpoint id>.<signature>. The phone cannot check the HMAC (it
// has no secret), so it compares with the tag the server listed for that checkpoint.
export function parseTag(text) {
  const m = /^FO1\.([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{16})$/.exec((text || "").trim());
  return m ? { id: Number(m[1]), content: m[0] } : null;
}
