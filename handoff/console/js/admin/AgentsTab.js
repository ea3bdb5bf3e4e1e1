// Admin › Agents: every agent with role, status, bots and capacity; create, edit,
// disable or enable, reset a password, delete (the last admin is refused by the server).
import { html, useEffect, useState } from "../lib.js";
import { adminApi } from "../api_admin.js";
import { AgentForm } from "./AgentForm.js";
import { Confirm, ShownOnce } from "./dialogs.js";
import { Field, messageOf } from "./fields.js";
import { Dialog } from "../components/Dialog.js";

const ROLE_LABEL = { agent: "Agent", supervisor: "Supervisor", admin: "Admin" };

function ResetPassword({ agent, token, onDone, onClose }) {
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try { onDone(await adminApi.resetPassword(token, agent.id, password)); } catch (err) { setError(messageOf(err)); }
  };
  return html`
    <${Dialog} title=${`Reset the password of ${agent.name}`} onClose=${onClose}>
      <form class="stack" onSubmit=${submit} novalidate>
        <${Field} id="reset-password" label="New password" error=${error}
          hint="At least 8 characters. Leave it empty for a random one, shown once.">
          ${(p) => html`<input type="password" autocomplete="new-password" ...${p} value=${password}
            onInput=${(e) => setPassword(e.currentTarget.value)} />`}
        <//>
        <div class="dialog-actions">
          <button type="button" class="btn" onClick=${onClose}>Cancel</button>
          <button type="submit" class="btn btn-primary">Reset password</button>
        </div>
      </form>
    <//>`;
}

export function AgentsTab({ s, ctl }) {
  const [agents, setAgents] = useState(null);
  const [bots, setBots] = useState([]);
  const [error, setError] = useState(null);
  const [editing, setEditing] = useState(null); // "new", an agent, or null
  const [dialog, setDialog] = useState(null); // {kind, agent, ...}
  const load = async () => {
    try {
      const [a, b] = await Promise.all([adminApi.agents(s.token), adminApi.bots(s.token)]);
      setAgents(a.agents); setBots(b.bots); setError(null);
    } catch (err) { setError(messageOf(err)); }
  };
  useEffect(() => { load(); }, []);
  const botName = (id) => ((bots.find((b) => b.id === id) || {}).name || id);
  const save = async (body) => {
    if (editing === "new") await adminApi.createAgent(s.token, body);
    else await adminApi.patchAgent(s.token, editing.id, body);
    setEditing(null);
    await load();
  };
  const setDisabled = async (a, disabled) => {
    setError(null);
    try { await adminApi.patchAgent(s.token, a.id, { disabled }); await load(); } catch (err) { setError(`${a.name}: ${messageOf(err)}`); }
  };
  const remove = async (a) => {
    await adminApi.deleteAgent(s.token, a.id);
    setDialog(null);
    await load();
  };
  return html`
    <section class="stack admin-section" aria-labelledby="agents-title">
      <div class="section-head">
        <h2 id="agents-title">Agents</h2>
        ${!editing && html`<button type="button" class="btn btn-primary" onClick=${() => setEditing("new")}>New agent</button>`}
      </div>
      ${error && html`<p class="alert alert-error" role="alert">${error}</p>`}
      ${editing && html`<${AgentForm} key=${editing === "new" ? "new" : editing.id}
        agent=${editing === "new" ? null : editing} bots=${bots} onSave=${save} onCancel=${() => setEditing(null)} />`}
      ${agents === null && !error && html`<p class="muted">Loading…</p>`}
      ${agents && html`
        <div class="card table-card">
          <table class="admin-table">
            <thead><tr><th scope="col">Agent</th><th scope="col">Role</th><th scope="col">Status</th>
              <th scope="col">Bots (teams)</th><th scope="col">Capacity</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>${agents.map((a) => html`
              <tr key=${a.id} class=${a.disabled ? "row-disabled" : ""}>
                <td><div class="cell-title">${a.name}${a.id === s.me.id && html` <span class="muted small">(you)</span>`}</div>
                  <span class="small muted">${a.email}</span></td>
                <td><span class=${`role role-${a.role}`}>${ROLE_LABEL[a.role] || a.role}</span></td>
                <td>${a.disabled ? html`<span class="tag tag-off">Disabled</span>` : html`
                  <span class="presence"><span class=${`dot dot-${a.status}`} aria-hidden="true"></span>${a.status}</span>`}</td>
                <td>${a.bots.length === 0 ? html`<span class="muted">none</span>` : a.bots.map((b) => html`
                  <div class="small">${botName(b)}${(a.teams[b] || []).length ? html` <span class="muted">(${a.teams[b].join(", ")})</span>` : ""}</div>`)}</td>
                <td>${a.load}/${a.capacity}</td>
                <td class="cell-actions">
                  <button type="button" class="btn btn-sm" aria-label=${`Edit ${a.name}`} onClick=${() => setEditing(a)}>Edit</button>
                  <button type="button" class="btn btn-sm" aria-label=${`${a.disabled ? "Enable" : "Disable"} ${a.name}`}
                    onClick=${() => setDisabled(a, !a.disabled)}>${a.disabled ? "Enable" : "Disable"}</button>
                  <button type="button" class="btn btn-sm" aria-label=${`Reset the password of ${a.name}`}
                    onClick=${() => setDialog({ kind: "reset", agent: a })}>Reset password</button>
                  <button type="button" class="btn btn-sm btn-danger" aria-label=${`Delete ${a.name}`}
                    onClick=${() => setDialog({ kind: "delete", agent: a })}>Delete</button>
                </td>
              </tr>`)}</tbody>
          </table>
        </div>`}
      ${dialog && dialog.kind === "delete" && html`
        <${Confirm} title=${`Delete ${dialog.agent.name}?`} action="Delete agent"
          onConfirm=${() => remove(dialog.agent)} onClose=${() => setDialog(null)}>
          <p>They are signed out at once and can no longer sign in. The conversations they handled keep their name.</p>
        <//>`}
      ${dialog && dialog.kind === "reset" && html`
        <${ResetPassword} agent=${dialog.agent} token=${s.token} onClose=${() => setDialog(null)}
          onDone=${(r) => setDialog(r.password ? { kind: "made", agent: dialog.agent, password: r.password } : null)} />`}
      ${dialog && dialog.kind === "made" && html`
        <${ShownOnce} title=${`New password of ${dialog.agent.name}`} label="Password" value=${dialog.password}
          onClose=${() => setDialog(null)} />`}
    </section>`;
}
