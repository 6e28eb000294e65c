// Background blur, in the browser: MediaPipe's selfie segmentation (installed from npm and
// served by Anteroom from /static/vendor/selfie_segmentation; nothing is fetched from the
// internet) finds the person in each camera frame; the page draws the frame blurred and the
// person sharp on a canvas, and sends the canvas as its video instead of the camera.
//
// Feature-detected: WebAssembly, WebGL 2 (the model runs on the GPU, or on Chromium's
// software renderer) and canvas.captureStream. Where any is missing, blurSupport() says
// why in words a person can act on.
const VENDOR = "/static/vendor/selfie_segmentation/";
const BLUR_PX = 14;

let segmenterReady = null; // one model per page, loaded on first use

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error("The background blur could not be loaded."));
    document.head.append(script);
  });
}

async function segmenter() {
  segmenterReady ??= (async () => {
    if (!window.SelfieSegmentation) await loadScript(`${VENDOR}selfie_segmentation.js`);
    const model = new window.SelfieSegmentation({ locateFile: (file) => `${VENDOR}${file}` });
    model.setOptions({ modelSelection: 1 }); // the landscape model: faster, for video calls
    await model.initialize();
    return model;
  })();
  try {
    return await segmenterReady;
  } catch (error) {
    segmenterReady = null; // a later try may work (a network blip while loading)
    throw error;
  }
}

/** null when this browser can blur; otherwise why not. */
export function blurSupport() {
  if (typeof WebAssembly !== "object") return "This browser cannot run the background blur (no WebAssembly).";
  const canvas = document.createElement("canvas");
  if (typeof canvas.captureStream !== "function") return "This browser cannot send a blurred picture.";
  if (!canvas.getContext("webgl2")) return "This browser or device has no WebGL 2, which the background blur needs.";
  return null;
}

/**
 * Start blurring a camera track. Resolves to {track, stop}: `track` is the blurred video
 * to send and show instead of the camera; `stop()` ends it (the camera track itself is
 * left running for the caller).
 */
export async function startBlur(cameraTrack) {
  const why = blurSupport();
  if (why) throw new Error(why);
  const model = await segmenter();
  const settings = cameraTrack.getSettings();
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([cameraTrack]);
  await video.play();
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth || settings.width || 640;
  canvas.height = video.videoHeight || settings.height || 480;
  const context = canvas.getContext("2d");
  const output = canvas.captureStream(settings.frameRate || 30).getVideoTracks()[0];

  let running = true;
  let busy = false;
  model.onResults((results) => {
    if (!running) return;
    const { width, height } = canvas;
    context.save();
    context.clearRect(0, 0, width, height);
    // The person, sharp: the mask where they are, then the frame inside it.
    context.drawImage(results.segmentationMask, 0, 0, width, height);
    context.globalCompositeOperation = "source-in";
    context.drawImage(results.image, 0, 0, width, height);
    // Everything else, blurred, behind them.
    context.globalCompositeOperation = "destination-over";
    context.filter = `blur(${BLUR_PX}px)`;
    context.drawImage(results.image, 0, 0, width, height);
    context.restore();
  });

  async function next() {
    if (!running) return;
    if (!busy && video.readyState >= 2) {
      busy = true;
      try {
        await model.send({ image: video });
      } catch {
        // A frame the model could not take (the camera switched): the next one will do.
      } finally {
        busy = false;
      }
    }
    if (typeof video.requestVideoFrameCallback === "function") video.requestVideoFrameCallback(next);
    else setTimeout(next, 1000 / 30);
  }
  next();

  // The camera going away (unplugged, turned off) ends the blurred track too.
  const ended = () => stop();
  cameraTrack.addEventListener("ended", ended);

  function stop() {
    if (!running) return;
    running = false;
    cameraTrack.removeEventListener("ended", ended);
    output.stop();
    video.pause();
    video.srcObject = null;
  }
  return { track: output, stop };
}
