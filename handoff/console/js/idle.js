// Activity tracking for auto-away: the last time the agent moved the mouse, typed,
// clicked or touched. The controller decides what idle means (away_after_seconds).

let last = Date.now();
const listeners = new Set();

function active() {
  last = Date.now();
  for (const fn of listeners) fn();
}

for (const ev of ["mousemove", "mousedown", "keydown", "touchstart", "wheel"]) {
  window.addEventListener(ev, active, { passive: true, capture: true });
}

export const idle = {
  idleMs: () => Date.now() - last,
  onActive(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};
