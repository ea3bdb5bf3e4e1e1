// The two screens (sign-in, workspace), the dialogs over them and the global keys.
import { html, useEffect } from "../lib.js";
import { useStore } from "../store.js";
import { SignIn } from "./SignIn.js";
import { TopBar } from "./TopBar.js";
import { Sidebar } from "./Sidebar.js";
import { ChatView } from "./ChatView.js";
import { SidePanel } from "./SidePanel.js";
import { TransferDialog } from "./TransferDialog.js";
import { CloseDialog } from "./CloseDialog.js";
import { CannedAdmin } from "./CannedAdmin.js";
import { SettingsDialog, HelpDialog } from "./Settings.js";
import { PAGES, hasRole } from "../pages.js";
import { DashboardPage } from "../pages/DashboardPage.js";
import { ActionsPage } from "../pages/ActionsPage.js";
import { AdminPage } from "../pages/AdminPage.js";

const PAGE_VIEWS = { dashboard: DashboardPage, actions: ActionsPage, admin: AdminPage };

function OtherPage({ s, ctl }) {
  const { page, rest } = s.route;
  const spec = PAGES.find((p) => p.id === page);
  if (!hasRole(s.me, spec.role)) {
    return html`
      <main class="page" aria-label=${spec.label}>
        <div class="empty-main">
          <h1>${spec.label}</h1>
          <p>This page needs the ${spec.role} role; you are signed in as ${s.me.role}.</p>
          <p class="muted">An admin can change your role on the Admin page.</p>
        </div>
      </main>`;
  }
  const View = PAGE_VIEWS[page];
  return html`<${View} s=${s} ctl=${ctl} rest=${rest} />`;
}

function useShortcuts(ctl, active) {
  useEffect(() => {
    if (!active) return undefined;
    const onKey = (e) => {
      const up = (e.altKey && e.key === "ArrowUp") || (e.ctrlKey && e.key === "[");
      const down = (e.altKey && e.key === "ArrowDown") || (e.ctrlKey && e.key === "]");
      if (!up && !down) return;
      if (document.querySelector("dialog[open]")) return;
      e.preventDefault();
      ctl.move(up ? -1 : 1);
      const current = document.querySelector(".conv-item[aria-current='true']");
      if (current && document.activeElement && document.activeElement.closest(".conv-list")) current.focus();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [ctl, active]);
}

function useTitle(s) {
  const unread = Object.values(s.convs).reduce((n, c) => n + (c.unread || 0), 0);
  const waiting = Object.values(s.queue).reduce((n, q) => n + q.length, 0);
  useEffect(() => {
    const counts = [unread && `${unread} unread`, waiting && `${waiting} waiting`].filter(Boolean);
    document.title = (counts.length ? `(${counts.join(", ")}) ` : "") + "Handoff — agent console";
  }, [unread, waiting]);
}

export function App({ store, ctl }) {
  const s = useStore(store);
  useShortcuts(ctl, s.screen === "workspace" && s.route.page === "inbox");
  useTitle(s);
  if (s.screen === "signin") return html`<${SignIn} ctl=${ctl} notice=${s.notice} />`;
  const conv = s.selected ? s.convs[s.selected] : null;
  const d = s.dialog;
  const inbox = s.route.page === "inbox";
  const layout = ["workspace", inbox ? "" : "on-page", conv ? "has-conv" : "no-conv", s.showDetails ? "details-open" : ""].join(" ");
  return html`
    <div class=${layout}>
      <${TopBar} s=${s} ctl=${ctl} />
      ${s.connection === "reconnecting" && html`
        <div class="banner banner-warn" role="status">Reconnecting… Your conversations are kept; messages catch up when the connection is back.</div>`}
      ${s.connection === "online" && s.status !== "online" && html`
        <div class="banner banner-info" role="status">
          You are ${s.status}${s.autoAway ? " (no activity for a while)" : ""}: no new conversations come to you. Set Status to Online to receive them.
        </div>`}
      ${s.route.page !== "inbox" ? html`<${OtherPage} s=${s} ctl=${ctl} />` : html`
      <div class="columns">
        <${Sidebar} s=${s} ctl=${ctl} />
        <main class="main" aria-label="Conversation">
          ${conv ? html`<${ChatView} s=${s} conv=${conv} ctl=${ctl} />` : html`
            <div class="empty-main">
              <h2>No conversation open</h2>
              <p>${s.order.length ? "Pick a conversation from the list." : "Conversations you take or receive appear here."}</p>
              <p class="muted">The <kbd>?</kbd> button at the top lists the keyboard shortcuts.</p>
            </div>`}
        </main>
        ${conv && html`<${SidePanel} s=${s} conv=${conv} ctl=${ctl} />`}
      </div>`}
      ${d && d.kind === "transfer" && s.convs[d.cid] && html`<${TransferDialog} s=${s} conv=${s.convs[d.cid]} ctl=${ctl} />`}
      ${d && d.kind === "close" && s.convs[d.cid] && html`<${CloseDialog} conv=${s.convs[d.cid]} ctl=${ctl} />`}
      ${d && d.kind === "canned" && html`<${CannedAdmin} s=${s} ctl=${ctl} />`}
      ${d && d.kind === "settings" && html`<${SettingsDialog} ctl=${ctl} s=${s} />`}
      ${d && d.kind === "help" && html`<${HelpDialog} ctl=${ctl} />`}
    </div>`;
}
