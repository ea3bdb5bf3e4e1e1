// The Dashboard page (being built): for now the conversations in progress.
import { html } from "../lib.js";
import { LiveConversations } from "./LiveConversations.js";

export function DashboardPage({ s, ctl }) {
  return html`<main class="page" aria-label="Dashboard"><h1>Dashboard</h1>
    <${LiveConversations} s=${s} ctl=${ctl} botId=${null} /></main>`;
}
