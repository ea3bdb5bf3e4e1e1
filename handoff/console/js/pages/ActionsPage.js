// The Actions page (being built).
import { html } from "../lib.js";

export function ActionsPage() {
  return html`<main class="page" aria-label="Actions"><h1>Actions</h1></main>`;
}
