// What the browser keeps: the sign-in token for this tab only (sessionStorage: a reload
// keeps it, closing the tab or "Sign out" drops it) and the agent's switches
// (localStorage: sound and notifications, per browser).
const TOKEN = "handoff.console.token";
const NOTICE = "handoff.console.notice";
const PREFS = "handoff.console.prefs";

function safe(fn, fallback) {
  try { return fn(); } catch (err) { return fallback; }
}

export const session = {
  token: () => safe(() => sessionStorage.getItem(TOKEN), null),
  save: (token) => safe(() => sessionStorage.setItem(TOKEN, token)),
  clear: () => safe(() => sessionStorage.removeItem(TOKEN)),
  // A message for the sign-in screen that survives the reload after a forced sign-out.
  notice: () => safe(() => sessionStorage.getItem(NOTICE), null),
  setNotice: (text) => safe(() => (text ? sessionStorage.setItem(NOTICE, text) : sessionStorage.removeItem(NOTICE))),
};

const DEFAULTS = { sound: true, notifications: true };

export function loadPrefs() {
  const stored = safe(() => JSON.parse(localStorage.getItem(PREFS) || "{}"), {});
  return { ...DEFAULTS, ...(stored && typeof stored === "object" ? stored : {}) };
}

export function savePrefs(prefs) {
  safe(() => localStorage.setItem(PREFS, JSON.stringify(prefs)));
}
