// The message box. Enter sends, Shift+Enter is a new line; "/" and a shortcut opens the
// bot's canned responses (arrows choose, Enter or Tab inserts, Escape closes). A refused
// message stays in the box with the server's reason under it.
import { html, useState, useRef, useEffect } from "../lib.js";

export function Composer({ s, conv, ctl }) {
  const [drafts] = useState(() => ({}));
  const [text, setText] = useState(drafts[conv.id] || "");
  const [active, setActive] = useState(0);
  const [closedFor, setClosedFor] = useState(null);
  const ref = useRef(null);
  const error = s.errors["composer:" + conv.id];

  useEffect(() => { setText(drafts[conv.id] || ""); }, [conv.id]);
  const update = (value) => { drafts[conv.id] = value; setText(value); };

  const match = /^\/(\S*)$/.exec(text);
  const canned = (s.canned[conv.conversation.bot_id] || []);
  const options = match && closedFor !== text
    ? canned.filter((c) => c.shortcut.toLowerCase().startsWith(match[1].toLowerCase())).slice(0, 8)
    : [];
  const open = options.length > 0;

  const insert = (c) => {
    update(c.text);
    setActive(0);
    requestAnimationFrame(() => { if (ref.current) ref.current.focus(); });
  };

  const send = async () => {
    const value = text;
    if (!value.trim()) return;
    const clear = await ctl.sendMessage(conv.id, value);
    if (clear && drafts[conv.id] === value) update("");
  };

  const onKey = (e) => {
    if (open) {
      if (e.key === "ArrowDown") { e.preventDefault(); setActive((active + 1) % options.length); return; }
      if (e.key === "ArrowUp") { e.preventDefault(); setActive((active - 1 + options.length) % options.length); return; }
      if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); insert(options[Math.min(active, options.length - 1)]); return; }
      if (e.key === "Escape") { e.preventDefault(); setClosedFor(text); return; }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  };

  const listId = "canned-" + conv.id;
  return html`
    <div class="composer">
      ${open && html`
        <ul id=${listId} class="canned-popup" role="listbox" aria-label="Canned responses">
          ${options.map((c, i) => html`
            <li key=${c.id} id=${listId + "-" + i} role="option" aria-selected=${i === active ? "true" : "false"}
              class=${i === active ? "active" : ""} onMouseDown=${(e) => { e.preventDefault(); insert(c); }}>
              <span class="shortcut">/${c.shortcut}</span> <span class="canned-text">${c.text}</span>
            </li>`)}
        </ul>`}
      <div class="composer-row">
        <textarea ref=${ref} aria-label="Message" rows="2" placeholder="Type a reply… (/ for canned responses)"
          value=${text} role="combobox" aria-autocomplete="list" aria-expanded=${open ? "true" : "false"}
          aria-controls=${open ? listId : undefined}
          aria-activedescendant=${open ? `${listId}-${Math.min(active, options.length - 1)}` : undefined}
          aria-describedby=${error ? "composer-error" : undefined} aria-invalid=${error ? "true" : undefined}
          onInput=${(e) => { update(e.currentTarget.value); setActive(0); ctl.typing(conv.id); }}
          onKeyDown=${onKey}></textarea>
        <button type="button" class="btn btn-primary" onClick=${send} disabled=${!text.trim()}>Send</button>
      </div>
      ${error && html`<p id="composer-error" class="inline-error" role="alert">${error}</p>`}
      ${s.connection !== "online" && html`<p class="small muted">Offline: messages are sent when the connection is back.</p>`}
    </div>`;
}
