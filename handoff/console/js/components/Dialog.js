// A modal built on <dialog>: the browser traps focus, Escape closes it, and the rest of
// the page is inert while it is open.
import { html, useEffect, useRef } from "../lib.js";

export function Dialog({ title, onClose, children, wide = false }) {
  const ref = useRef(null);
  useEffect(() => {
    const el = ref.current;
    if (el && !el.open) el.showModal();
    const cancel = (e) => { e.preventDefault(); onClose(); };
    el.addEventListener("cancel", cancel);
    return () => el.removeEventListener("cancel", cancel);
  }, []);
  const id = "dlg-" + title.replace(/\W+/g, "-").toLowerCase();
  return html`
    <dialog ref=${ref} class=${wide ? "dialog dialog-wide" : "dialog"} aria-labelledby=${id}>
      <header class="dialog-head">
        <h2 id=${id}>${title}</h2>
        <button type="button" class="icon-btn" aria-label="Close dialog" onClick=${onClose}>×</button>
      </header>
      <div class="dialog-body">${children}</div>
    </dialog>`;
}
