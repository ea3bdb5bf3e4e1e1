// Who is signed in, their status, capacity and load, and the way to settings and out.
import { html } from "../lib.js";
import { hashFor, pagesFor } from "../pages.js";

const CONNECTION = { online: "Connected", connecting: "Connecting…", reconnecting: "Reconnecting…", offline: "Offline" };

function PageNav({ s }) {
  const pages = pagesFor(s.me);
  if (pages.length < 2) return null;
  const unread = Object.values(s.convs).reduce((n, c) => n + (c.unread || 0), 0);
  return html`
    <nav class="page-nav" aria-label="Pages">
      ${pages.map((p) => html`
        <a href=${hashFor(p.id)} class="page-link" aria-current=${s.route.page === p.id ? "page" : undefined}>
          ${p.label}${p.id === "inbox" && unread > 0 && s.route.page !== "inbox" && html`
            <span class="badge" aria-label=${`${unread} unread`}>${unread}</span>`}
        </a>`)}
    </nav>`;
}

export function TopBar({ s, ctl }) {
  const me = s.me || {};
  const active = Object.values(s.convs).filter((c) => !c.ended).length;
  const error = s.errors.status;
  return html`
    <header class="topbar">
      <div class="brand"><span class="brand-mark" aria-hidden="true">H</span><span class="brand-name">Handoff</span></div>
      <${PageNav} s=${s} />
      <div class="topbar-status">
        <label for="status" class="sr-only">Status</label>
        <span class=${"dot dot-" + s.status} aria-hidden="true"></span>
        <select id="status" aria-label="Status" value=${s.status} disabled=${s.connection !== "online"}
          aria-describedby=${error ? "status-error" : undefined}
          onChange=${(e) => ctl.setStatus(e.currentTarget.value)}>
          <option value="online">Online</option>
          <option value="away">Away</option>
          <option value="offline">Offline</option>
        </select>
        ${error && html`<span id="status-error" class="inline-error" role="alert">${error}</span>`}
      </div>
      <div class="load" aria-label="Load">
        <span class="load-num">${active}</span><span class="muted"> / ${me.capacity ?? "–"} chats</span>
      </div>
      <span class=${"conn conn-" + s.connection} role="status">${CONNECTION[s.connection]}</span>
      <div class="topbar-spacer"></div>
      ${me.role === "admin" && html`
        <button type="button" class="btn btn-ghost" onClick=${() => ctl.open("canned")}>Canned responses</button>`}
      <button type="button" class="btn btn-ghost btn-icon" aria-label="Settings" title="Settings" onClick=${() => ctl.open("settings")}><span aria-hidden="true">⚙</span></button>
      <button type="button" class="btn btn-ghost btn-icon" aria-label="Help" title="Keyboard shortcuts and help" onClick=${() => ctl.open("help")}>?</button>
      <span class="me" title=${me.email || ""}>${me.name || me.email}</span>
      <button type="button" class="btn btn-ghost" onClick=${() => ctl.signOut()}>Sign out</button>
    </header>`;
}
