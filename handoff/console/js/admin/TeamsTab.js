// Admin › Teams: per bot, its teams and who is in each; create a team, change its
// members, rename or end it. A team exists while it has members.
import { html, useEffect, useState } from "../lib.js";
import { adminApi } from "../api_admin.js";
import { Confirm } from "./dialogs.js";
import { Field, errorFor, messageOf } from "./fields.js";

function TeamEditor({ team, agents, onSave, onRename, onDelete }) {
  const isNew = !team;
  const [name, setName] = useState(team ? team.name : "");
  const [members, setMembers] = useState(() => new Set(team ? team.members.map((m) => m.id) : []));
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(false);
  const slug = (team ? team.name : "new").replace(/\W+/g, "-");
  const toggle = (id, on) => { const next = new Set(members); if (on) next.add(id); else next.delete(id); setMembers(next); setSaved(false); };
  const run = async (work) => {
    setErr(null);
    try { await work(); setSaved(true); } catch (e) { setErr(e); }
  };
  const save = (e) => {
    e.preventDefault();
    if (isNew && !name.trim()) { setErr({ field: "team", message: "Give the team a name." }); return; }
    if (isNew && members.size === 0) { setErr({ field: "members", message: "Choose at least one member: a team exists while it has members." }); return; }
    run(() => onSave(isNew ? name.trim() : team.name, [...members]));
  };
  const memberError = errorFor(err, "members");
  const nameError = errorFor(err, "team") || errorFor(err, "name");
  return html`
    <form class="card team-card" onSubmit=${save} aria-label=${isNew ? "New team" : `Team ${team.name}`} novalidate>
      <div class="team-head">
        ${isNew ? html`<h3>New team</h3>` : html`<h3>${team.name} <span class="count">${team.members.length}</span></h3>`}
      </div>
      <${Field} id=${`team-name-${slug}`} label=${isNew ? "Team name" : "Name"} error=${nameError}>
        ${(p) => html`<div class="row">
          <input type="text" class="grow" ...${p} value=${name} placeholder="billing" onInput=${(e) => { setName(e.currentTarget.value); setSaved(false); }} />
          ${!isNew && html`<button type="button" class="btn btn-sm" disabled=${name.trim() === team.name || !name.trim()}
            onClick=${() => run(() => onRename(team.name, name.trim()))}>Rename</button>`}
        </div>`}
      <//>
      <fieldset aria-invalid=${memberError ? "true" : undefined}>
        <legend>Members</legend>
        ${agents.length === 0 && html`<p class="empty">No agent serves this bot yet.</p>`}
        <div class="member-grid">
          ${agents.map((a) => html`
            <label class="choice" key=${a.id}>
              <input type="checkbox" checked=${members.has(a.id)} onChange=${(e) => toggle(a.id, e.currentTarget.checked)} />
              <span>${a.name}</span>
            </label>`)}
        </div>
      </fieldset>
      ${memberError && html`<p class="inline-error" role="alert">${memberError}</p>`}
      ${err && !memberError && !nameError && html`<p class="inline-error" role="alert">${messageOf(err)}</p>`}
      <div class="dialog-actions">
        ${saved && html`<span class="small muted" role="status">Saved.</span>`}
        ${!isNew && html`<button type="button" class="btn btn-danger" onClick=${() => onDelete(team)}>End team</button>`}
        <button type="submit" class="btn btn-primary">${isNew ? "Create team" : "Save members"}</button>
      </div>
    </form>`;
}

export function TeamsTab({ s }) {
  const [bots, setBots] = useState(null);
  const [botId, setBotId] = useState("");
  const [teams, setTeams] = useState(null);
  const [agents, setAgents] = useState([]);
  const [error, setError] = useState(null);
  const [ending, setEnding] = useState(null);
  const [round, setRound] = useState(0); // remounts the editors after a change
  useEffect(() => {
    (async () => {
      try {
        const [b, a] = await Promise.all([adminApi.bots(s.token), adminApi.agents(s.token)]);
        setBots(b.bots); setAgents(a.agents);
        if (b.bots.length) setBotId(b.bots[0].id);
      } catch (err) { setError(messageOf(err)); }
    })();
  }, []);
  const load = async (id) => {
    if (!id) return;
    try { setTeams((await adminApi.teams(s.token, id)).teams); setError(null); } catch (err) { setError(messageOf(err)); }
  };
  useEffect(() => { setTeams(null); load(botId); }, [botId]);
  const changed = (list) => { setTeams(list.teams); setRound(round + 1); };
  const serving = agents.filter((a) => a.bots.includes(botId));
  return html`
    <section class="stack admin-section" aria-labelledby="teams-title">
      <div class="section-head">
        <h2 id="teams-title">Teams</h2>
        ${bots && bots.length > 0 && html`
          <div class="row">
            <label for="teams-bot">Bot</label>
            <select id="teams-bot" value=${botId} onChange=${(e) => setBotId(e.currentTarget.value)}>
              ${bots.map((b) => html`<option value=${b.id}>${b.name}</option>`)}
            </select>
          </div>`}
      </div>
      <p class="muted small">Transfers can go to a team, and a bot's handoff may ask for one. An agent may be in several teams of a bot.</p>
      ${error && html`<p class="alert alert-error" role="alert">${error}</p>`}
      ${bots && bots.length === 0 && html`<p class="empty">No bots yet: create one on the Bots tab.</p>`}
      ${teams && teams.length === 0 && html`<p class="empty">This bot has no teams yet.</p>`}
      ${teams && html`
        <div class="team-grid" key=${`${botId}-${round}`}>
          ${teams.map((t) => html`<${TeamEditor} key=${t.name} team=${t} agents=${serving}
            onSave=${async (name, members) => changed(await adminApi.putTeam(s.token, botId, name, members))}
            onRename=${async (from, to) => changed(await adminApi.renameTeam(s.token, botId, from, to))}
            onDelete=${(team) => setEnding(team)} />`)}
          <${TeamEditor} key="new" team=${null} agents=${serving}
            onSave=${async (name, members) => changed(await adminApi.putTeam(s.token, botId, name, members))} />
        </div>`}
      ${ending && html`
        <${Confirm} title=${`End the team ${ending.name}?`} action="End team" onClose=${() => setEnding(null)}
          onConfirm=${async () => { await adminApi.deleteTeam(s.token, botId, ending.name); setEnding(null); await load(botId); setRound(round + 1); }}>
          <p>Its ${ending.members.length} member${ending.members.length === 1 ? "" : "s"} stay agents of the bot, in no team by this name.</p>
        <//>`}
    </section>`;
}
