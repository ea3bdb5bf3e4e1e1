// The admin tabs' dialogs: a confirmation, and a secret shown once with a copy button.
import { html, useState } from "../lib.js";
import { Dialog } from "../components/Dialog.js";
import { messageOf } from "./fields.js";

/** Asks before a change that cannot be undone; `onConfirm` may throw an ApiError. */
export function Confirm({ title, children, action, danger = true, onConfirm, onClose }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true);
    setError(null);
    try { await onConfirm(); } catch (err) { setError(messageOf(err)); setBusy(false); }
  };
  return html`
    <${Dialog} title=${title} onClose=${onClose}>
      <div class="stack">
        ${children}
        ${error && html`<p class="inline-error" role="alert">${error}</p>`}
        <div class="dialog-actions">
          <button type="button" class="btn" onClick=${onClose}>Cancel</button>
          <button type="button" class=${danger ? "btn btn-danger" : "btn btn-primary"} disabled=${busy}
            onClick=${go}>${action}</button>
        </div>
      </div>
    <//>`;
}

/** A secret (a bot's API key, a made password) the server shows this once. */
export function ShownOnce({ title, label, value, children, onClose }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch (err) {
      // No clipboard (an http page, a denied permission): select it for Ctrl+C instead.
      const box = document.getElementById("shown-once-value");
      if (box) { box.focus(); box.select(); }
    }
  };
  return html`
    <${Dialog} title=${title} onClose=${onClose}>
      <div class="stack">
        <p class="alert alert-warn" role="note">
          Shown this once: the server keeps only a hash of it. Copy it now and keep it somewhere safe.
        </p>
        ${children}
        <label for="shown-once-value">${label}</label>
        <div class="row key-row">
          <input id="shown-once-value" type="text" class="mono grow" readonly value=${value}
            onFocus=${(e) => e.currentTarget.select()} />
          <button type="button" class="btn" onClick=${copy}>${copied ? "Copied" : "Copy"}</button>
        </div>
        <div class="dialog-actions">
          <button type="button" class="btn btn-primary" onClick=${onClose}>I have copied it</button>
        </div>
      </div>
    <//>`;
}
