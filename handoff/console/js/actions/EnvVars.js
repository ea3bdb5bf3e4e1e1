// The bot's env variables, staging and production. Values are write-only: the server
// answers "********" for a set value, so the page shows whether each stage is set and
// lets the builder type a new one (masked, with a show/hide toggle).
import { html, useEffect, useState } from "../lib.js";
import { actionsApi } from "../api_actions.js";
import { Dialog } from "../components/Dialog.js";

const STAGES = ["staging", "production"];

function SecretField({ id, label, value, onInput, shown, limit, error }) {
  const over = value.length > limit;
  return html`
    <div class="env-field">
      <label for=${id}>${label}</label>
      <input id=${id} type=${shown ? "text" : "password"} autocomplete="off" spellcheck="false"
        value=${value} onInput=${(e) => onInput(e.target.value)}
        aria-invalid=${error || over ? "true" : "false"} aria-describedby=${id + "-hint"} />
      <p id=${id + "-hint"} class=${over ? "small warn-text" : "small muted"}>
        ${value.length} / ${limit} characters${over ? " — over the limit" : ""}</p>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
    </div>`;
}

function EnvForm({ token, botId, limit, initial, onDone, onCancel }) {
  const editing = Boolean(initial);
  const [name, setName] = useState(initial ? initial.name : "");
  const [values, setValues] = useState({ staging: "", production: "" });
  const [shown, setShown] = useState(false);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    // Only the stages typed in are sent: a stage left empty keeps what is stored.
    const body = {};
    for (const s of STAGES) if (values[s] !== "") body[s] = values[s];
    if (!name) { setErrors({ name: "Give the variable a name." }); return; }
    if (Object.keys(body).length === 0) {
      setErrors({ staging: "Type a staging value, a production value or both." });
      return;
    }
    setBusy(true);
    try {
      await actionsApi.putEnv(token, botId, name, body);
      setErrors({});
      onDone(name);
    } catch (err) {
      setErrors({ [err.field || "form"]: err.message });
    } finally {
      setBusy(false);
    }
  };
  const idp = "env-" + (editing ? initial.name : "new");
  return html`
    <form class="env-form" onSubmit=${submit} aria-label=${editing ? `Change ${initial.name}` : "New variable"}>
      <div class="env-field">
        <label for=${idp + "-name"}>Variable name</label>
        <input id=${idp + "-name"} type="text" value=${name} readOnly=${editing}
          placeholder="API_KEY" onInput=${(e) => setName(e.target.value)} />
        ${errors.name && html`<p class="inline-error" role="alert">${errors.name}</p>`}
      </div>
      ${STAGES.map((s) => html`
        <${SecretField} key=${s} id=${`${idp}-${s}`} label=${s === "staging" ? "Staging value" : "Production value"}
          value=${values[s]} shown=${shown} limit=${limit} error=${errors[s]}
          onInput=${(v) => setValues({ ...values, [s]: v })} />`)}
      <label class="switch small">
        <input type="checkbox" checked=${shown} onChange=${(e) => setShown(e.target.checked)} />
        Show values
      </label>
      ${editing && html`<p class="small muted">A stage left empty keeps its stored value.</p>`}
      ${errors.form && html`<p class="inline-error" role="alert">${errors.form}</p>`}
      <div class="row">
        <button type="submit" class="btn btn-primary btn-sm" disabled=${busy}>Save variable</button>
        ${onCancel && html`<button type="button" class="btn btn-sm" onClick=${onCancel}>Cancel</button>`}
      </div>
    </form>`;
}

export function EnvVars({ token, botId, limit }) {
  const [vars, setVars] = useState(null);
  const [error, setError] = useState(null);
  const [editing, setEditing] = useState(null);
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState(null);
  const load = () => actionsApi.env(token, botId)
    .then((r) => { setVars(r.variables); setError(null); })
    .catch((err) => setError(err.message));
  useEffect(() => { setVars(null); setEditing(null); load(); }, [botId]);
  const remove = async (name) => {
    try { await actionsApi.deleteEnv(token, botId, name); load(); } catch (err) { setError(err.message); }
  };
  const done = () => { setEditing(null); setAdding(false); load(); };
  return html`
    <div class="env">
      <p class="small muted">Live tests get the staging values, production calls the production ones,
        as <code>body['env_variables']</code>. At most ${limit} characters a value
        (<code>HANDOFF_ENV_VALUE_MAX_CHARS</code>).</p>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
      ${vars === null ? html`<p class="empty">Loading…</p>` : vars.length === 0
        ? html`<p class="empty">No variables yet.</p>`
        : html`
          <ul class="env-list">
            ${vars.map((v) => html`
              <li key=${v.name} class="env-row">
                <div class="row">
                  <code class="env-name">${v.name}</code>
                  ${STAGES.map((s) => html`<span key=${s} class=${v[s] ? "pill pill-ok" : "pill pill-low"}>${s} ${v[s] ? "set" : "unset"}</span>`)}
                  <span class="topbar-spacer"></span>
                  <button type="button" class="btn btn-sm btn-ghost" aria-label=${`Change ${v.name}`}
                    onClick=${() => setEditing(v.name)}>Change</button>
                  <button type="button" class="btn btn-sm btn-danger" aria-label=${`Delete ${v.name}`}
                    onClick=${() => setDeleting(v.name)}>Delete</button>
                </div>
                ${editing === v.name && html`
                  <${EnvForm} token=${token} botId=${botId} limit=${limit} initial=${v}
                    onDone=${done} onCancel=${() => setEditing(null)} />`}
              </li>`)}
          </ul>`}
      ${adding
        ? html`<${EnvForm} token=${token} botId=${botId} limit=${limit} onDone=${done} onCancel=${() => setAdding(false)} />`
        : html`<button type="button" class="btn btn-sm" onClick=${() => setAdding(true)}>New variable</button>`}
      ${deleting && html`
        <${Dialog} title=${`Delete ${deleting}?`} onClose=${() => setDeleting(null)}>
          <p>Both its staging and production values are dropped; actions that read it get
            nothing from the next call on.</p>
          <div class="dialog-actions">
            <button type="button" class="btn" onClick=${() => setDeleting(null)}>Cancel</button>
            <button type="button" class="btn btn-danger"
              onClick=${() => { const n = deleting; setDeleting(null); remove(n); }}>Delete ${deleting}</button>
          </div>
        <//>`}
    </div>`;
}
