// The supervisor's view of the conversations in progress (being built).
import { html } from "../lib.js";

export function LiveConversations() {
  return html`<section aria-label="Conversations in progress"></section>`;
}
