// New-conversation alerts: a short WebAudio beep (no audio file to serve) and, while the
// tab is hidden, a browser notification. Each is switched in Settings (prefs.js).

let audio = null;

export function beep() {
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    audio = audio || new Ctx();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.2, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.35);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
  } catch (err) {
    // No sound device, or the browser refused before any user gesture: nothing to do.
  }
}

export function notificationsSupported() {
  return typeof window.Notification === "function";
}

/** Ask once, from a user gesture (the browser ignores it otherwise). */
export function askPermission() {
  if (notificationsSupported() && Notification.permission === "default") {
    try { Notification.requestPermission(); } catch (err) { /* old API: ignore */ }
  }
}

export function notify(title, body) {
  if (!document.hidden || !notificationsSupported() || Notification.permission !== "granted") return;
  try {
    const n = new Notification(title, { body, tag: "handoff-console" });
    n.onclick = () => { window.focus(); n.close(); };
  } catch (err) {
    // Some browsers only allow notifications from a service worker.
  }
}
