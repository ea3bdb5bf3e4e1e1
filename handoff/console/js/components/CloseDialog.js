// Close with an outcome: resolved, follow-up, or back to the bot with variables.
import { html, useState } from "../lib.js";
import { explain } from "../messages.js";
import { Dialog } from "./Dialog.js";

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function CloseDialog({ conv, ctl }) {
  const [status, setStatus] = useState("resolved");
  const [note, setNote] = useState("");
  const [vars, setVars] = useState([{ name: "", value: "" }]);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const setVar = (i, key, value) => setVars(vars.map((v, j) => (j === i ? { ...v, [key]: value } : v)));
  const submit = async (e) => {
    e.preventDefault();
    const outcome = { status };
    if (note.trim()) outcome.note = note.trim();
    if (status === "back_to_bot") {
      const variables = {};
      for (const v of vars) {
        if (!v.name.trim() && !v.value) continue;
        if (!NAME.test(v.name.trim())) { setError(`"${v.name}" is not a variable name: letters, digits and _, not starting with a digit.`); return; }
        variables[v.name.trim()] = v.value;
      }
      outcome.variables = variables;
    }
    setBusy(true);
    setError(null);
    try {
      await ctl.close(conv.id, outcome);
      ctl.closeDialog();
    } catch (err) {
      const m = explain(err);
      setError(err.field && !m.includes(err.field) ? `${m} (${err.field})` : m);
      setBusy(false);
    }
  };
  return html`
    <${Dialog} title="Close conversation" onClose=${() => ctl.closeDialog()}>
      <form onSubmit=${submit} class="stack">
        <fieldset class="choices">
          <legend>Outcome</legend>
          ${[["resolved", "Resolved", "Done: the person has their answer."],
             ["follow_up", "Follow-up", "Someone still owes the person an answer."],
             ["back_to_bot", "Back to the bot", "The bot's flow takes over again."]].map(([value, label, help]) => html`
            <label class="choice">
              <input type="radio" name="outcome" value=${value} checked=${status === value}
                onChange=${() => setStatus(value)} />
              <span><strong>${label}</strong><span class="small muted"> — ${help}</span></span>
            </label>`)}
        </fieldset>
        <label for="close-note">Note (for the bot and the record)</label>
        <textarea id="close-note" rows="2" maxlength="2000" value=${note} onInput=${(e) => setNote(e.currentTarget.value)}></textarea>
        ${status === "back_to_bot" && html`
          <fieldset class="vars">
            <legend>Variables for the bot</legend>
            ${vars.map((v, i) => html`
              <div class="row" key=${i}>
                <input type="text" aria-label=${"Variable " + (i + 1) + " name"} placeholder="name" value=${v.name}
                  onInput=${(e) => setVar(i, "name", e.currentTarget.value)} />
                <input type="text" aria-label=${"Variable " + (i + 1) + " value"} placeholder="value" value=${v.value}
                  onInput=${(e) => setVar(i, "value", e.currentTarget.value)} />
              </div>`)}
            <button type="button" class="btn btn-sm" onClick=${() => setVars([...vars, { name: "", value: "" }])}>Add variable</button>
          </fieldset>`}
        ${error && html`<p class="inline-error" role="alert">${error}</p>`}
        <div class="dialog-actions">
          <button type="button" class="btn" onClick=${() => ctl.closeDialog()}>Cancel</button>
          <button type="submit" class="btn btn-danger" disabled=${busy}>Close conversation</button>
        </div>
      </form>
    <//>`;
}
