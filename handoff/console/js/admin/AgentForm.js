// An agent as a form: create (email, password, …) or edit (name, role, capacity, bots and
// teams per bot).
import { html, useState } from "../lib.js";
import { Field, errorFor, otherError, splitList } from "./fields.js";

const FIELDS = ["email", "password", "name", "role", "capacity", "bots"];

function initial(agent) {
  const teams = (agent && agent.teams) || {};
  const chosen = {};
  for (const b of (agent && agent.bots) || []) chosen[b] = (teams[b] || []).join(", ");
  return {
    email: "", password: "", name: agent ? agent.name : "", role: agent ? agent.role : "agent",
    capacity: String(agent ? agent.capacity : 3), bots: chosen,
  };
}

/** `onSave(body)` may throw an ApiError, shown beside the field it names. */
export function AgentForm({ agent, bots, onSave, onCancel }) {
  const [f, setF] = useState(() => initial(agent));
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const toggle = (botId, on) => {
    const next = { ...f.bots };
    if (on) next[botId] = next[botId] || ""; else delete next[botId];
    setF({ ...f, bots: next });
  };
  const submit = async (e) => {
    e.preventDefault();
    setErr(null);
    const capacity = Number(f.capacity);
    const body = {
      role: f.role,
      capacity: f.capacity.trim() === "" || Number.isNaN(capacity) ? f.capacity : capacity,
      bots: Object.fromEntries(Object.entries(f.bots).map(([b, t]) => [b, splitList(t)])),
    };
    if (f.name.trim()) body.name = f.name.trim();
    if (!agent) { body.email = f.email.trim(); body.password = f.password; }
    setBusy(true);
    try { await onSave(body); } catch (e2) { setErr(e2); } finally { setBusy(false); }
  };
  const id = (k) => `agent-${k}`;
  return html`
    <form class="card admin-form" onSubmit=${submit} aria-label=${agent ? `Edit ${agent.name}` : "New agent"} novalidate>
      <h2>${agent ? `Edit ${agent.name}` : "New agent"}</h2>
      <div class="form-grid">
        ${!agent && html`
          <${Field} id=${id("email")} label="Email" error=${errorFor(err, "email")}>
            ${(p) => html`<input type="email" autocomplete="off" ...${p} value=${f.email} onInput=${set("email")} required />`}
          <//>
          <${Field} id=${id("password")} label="Password" error=${errorFor(err, "password")}
            hint="At least 8 characters; tell it to them in person, they can sign in at once.">
            ${(p) => html`<input type="password" autocomplete="new-password" ...${p} value=${f.password} onInput=${set("password")} required />`}
          <//>`}
        <${Field} id=${id("name")} label="Name" error=${errorFor(err, "name")} hint=${agent ? null : "Left empty: the part of the email before the @."}>
          ${(p) => html`<input type="text" ...${p} value=${f.name} onInput=${set("name")} />`}
        <//>
        <${Field} id=${id("role")} label="Role" error=${errorFor(err, "role")}
          hint="Supervisors also see the dashboard; admins manage bots, agents and settings.">
          ${(p) => html`<select ...${p} value=${f.role} onChange=${set("role")}>
            <option value="agent">Agent</option><option value="supervisor">Supervisor</option><option value="admin">Admin</option>
          </select>`}
        <//>
        <${Field} id=${id("capacity")} label="Capacity" error=${errorFor(err, "capacity")}
          hint="Conversations at once, 1 to 100.">
          ${(p) => html`<input type="number" min="1" max="100" ...${p} value=${f.capacity} onInput=${set("capacity")} />`}
        <//>
      </div>
      <fieldset>
        <legend>Bots and teams</legend>
        ${bots.length === 0 && html`<p class="empty">No bots yet: create one on the Bots tab.</p>`}
        ${bots.map((b) => {
          const on = b.id in f.bots;
          const teamId = `agent-teams-${b.id}`;
          const e = errorFor(err, `bots.${b.id}`);
          return html`
            <div class="bot-choice" key=${b.id}>
              <label class="choice">
                <input type="checkbox" checked=${on} onChange=${(ev) => toggle(b.id, ev.currentTarget.checked)} />
                <span>${b.name}</span>
              </label>
              ${on && html`<label class="sr-only" for=${teamId}>Teams for ${b.name}</label>
                <input id=${teamId} type="text" placeholder="teams, comma separated" value=${f.bots[b.id]}
                  aria-invalid=${e ? "true" : undefined}
                  onInput=${(ev) => setF({ ...f, bots: { ...f.bots, [b.id]: ev.currentTarget.value } })} />`}
              ${e && html`<p class="inline-error" role="alert">${e}</p>`}
            </div>`;
        })}
      </fieldset>
      ${otherError(err, FIELDS) && html`<p class="inline-error" role="alert">${otherError(err, FIELDS)}</p>`}
      <div class="dialog-actions">
        <button type="button" class="btn" onClick=${onCancel}>Cancel</button>
        <button type="submit" class="btn btn-primary" disabled=${busy}>${agent ? "Save agent" : "Create agent"}</button>
      </div>
    </form>`;
}
