// Transfer to another agent of the bot (GET /bots/{id}/agents) or to a team, with a
// note the next agent sees above the whole history.
import { html, useEffect, useState } from "../lib.js";
import { api } from "../api.js";
import { explain } from "../messages.js";
import { Dialog } from "./Dialog.js";

export function TransferDialog({ s, conv, ctl }) {
  const botId = conv.conversation.bot_id;
  const [roster, setRoster] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [target, setTarget] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api.botAgents(s.token, botId).then((data) => {
      setRoster(data);
      ctl.rememberAgents(data.agents || []);
    }).catch((err) => {
      setLoadError(err.status === 404 ? "The agent list is not available on this server." : explain(err));
      const teams = (s.me && s.me.teams && s.me.teams[botId]) || [];
      setRoster({ agents: [], teams });
    });
  }, [botId]);
  // Neither oneself nor whoever holds it now (a supervisor may transfer another's).
  const holder = conv.conversation.agent_id;
  const agents = ((roster && roster.agents) || []).filter((a) => a.id !== (s.me && s.me.id) && a.id !== holder);
  const teams = (roster && roster.teams) || [];
  const submit = async (e) => {
    e.preventDefault();
    if (!target) { setError("Choose an agent or a team."); return; }
    setBusy(true);
    setError(null);
    const [kind, value] = [target.slice(0, 5), target.slice(6)];
    try {
      await ctl.transfer(conv.id, kind === "agent" ? { to_agent_id: value } : { to_team: value }, note.trim());
      ctl.closeDialog();
    } catch (err) {
      setError(explain(err));
      setBusy(false);
    }
  };
  return html`
    <${Dialog} title="Transfer conversation" onClose=${() => ctl.closeDialog()}>
      <form onSubmit=${submit} class="stack">
        ${roster === null && html`<p class="muted">Loading agents…</p>`}
        ${loadError && html`<p class="small muted">${loadError}</p>`}
        <label for="transfer-target">Transfer to</label>
        <select id="transfer-target" value=${target} onChange=${(e) => setTarget(e.currentTarget.value)}
          aria-describedby=${error ? "transfer-error" : undefined}>
          <option value="">Choose an agent or a team…</option>
          ${agents.length > 0 && html`<optgroup label="Agents">${agents.map((a) => html`
            <option value=${"agent:" + a.id} disabled=${a.status !== "online"}>
              ${a.name} — ${a.status}, ${a.load}/${a.capacity}${(a.teams || []).length ? " · " + a.teams.join(", ") : ""}
            </option>`)}</optgroup>`}
          ${teams.length > 0 && html`<optgroup label="Teams">${teams.map((t) => html`
            <option value=${"team_:" + t}>Team ${t}</option>`)}</optgroup>`}
        </select>
        <label for="transfer-note">Note for the next agent</label>
        <textarea id="transfer-note" rows="3" maxlength="2000" placeholder="What they should know"
          value=${note} onInput=${(e) => setNote(e.currentTarget.value)}></textarea>
        ${error && html`<p id="transfer-error" class="inline-error" role="alert">${error}</p>`}
        <div class="dialog-actions">
          <button type="button" class="btn" onClick=${() => ctl.closeDialog()}>Cancel</button>
          <button type="submit" class="btn btn-primary" disabled=${busy}>Transfer</button>
        </div>
      </form>
    <//>`;
}
