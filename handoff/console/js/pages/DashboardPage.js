// The Dashboard page (being built).
import { html } from "../lib.js";

export function DashboardPage() {
  return html`<main class="page" aria-label="Dashboard"><h1>Dashboard</h1></main>`;
}
