// The list under the editor of what the last save found; a click puts the cursor there.
import { html } from "../lib.js";

export function Problems({ problems, onPick }) {
  if (!problems || problems.length === 0) return null;
  return html`
    <section class="problems" aria-label="Problems">
      <h3 class="panel-title">Problems <span class="count">${problems.length}</span></h3>
      <ul class="problem-list">
        ${problems.map((p, i) => html`
          <li key=${i}>
            <button type="button" class="problem" onClick=${() => onPick(p)}>
              <span class="problem-where">Line ${p.line}, column ${p.column}</span>
              <span class="problem-text">${p.message}</span>
            </button>
          </li>`)}
      </ul>
    </section>`;
}
