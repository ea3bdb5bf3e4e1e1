// The Admin page (admin role): tabs Bots | Agents | Teams | Canned responses, each its
// own address (#/admin/agents) so a reload stays on it. Everything goes through the
// public REST API (js/api_admin.js); the server checks the role on every call.
import { html } from "../lib.js";
import { hashFor } from "../pages.js";
import { BotsTab } from "../admin/BotsTab.js";
import { AgentsTab } from "../admin/AgentsTab.js";
import { TeamsTab } from "../admin/TeamsTab.js";
import { CannedEditor } from "../components/CannedAdmin.js";

export const ADMIN_TABS = [
  { id: "bots", label: "Bots" },
  { id: "agents", label: "Agents" },
  { id: "teams", label: "Teams" },
  { id: "canned", label: "Canned responses" },
];

function CannedTab({ s, ctl }) {
  return html`
    <section class="stack admin-section" aria-labelledby="canned-title">
      <div class="section-head"><h2 id="canned-title">Canned responses</h2></div>
      <p class="muted small">For the bots you serve yourself (add them to you on the Agents tab).</p>
      ${(s.me.bots || []).length === 0
        ? html`<p class="empty">You serve no bot yet.</p>`
        : html`<div class="card admin-form"><${CannedEditor} s=${s} ctl=${ctl} /></div>`}
    </section>`;
}

const VIEWS = { bots: BotsTab, agents: AgentsTab, teams: TeamsTab, canned: CannedTab };

export function AdminPage({ s, ctl, rest }) {
  const tab = VIEWS[rest && rest[0]] ? rest[0] : "bots";
  const View = VIEWS[tab];
  return html`
    <main class="page admin-page" aria-label="Admin">
      <h1>Admin</h1>
      <nav class="tabs" aria-label="Admin sections">
        ${ADMIN_TABS.map((t) => html`
          <a class="tab" href=${hashFor("admin", t.id)} aria-current=${t.id === tab ? "page" : undefined}>${t.label}</a>`)}
      </nav>
      <${View} key=${tab} s=${s} ctl=${ctl} />
    </main>`;
}
