// The Admin page (being built).
import { html } from "../lib.js";

export function AdminPage() {
  return html`<main class="page" aria-label="Admin"><h1>Admin</h1></main>`;
}
