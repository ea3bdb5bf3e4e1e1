// The Actions Dashboard (bot builders, the seeds' page): a bot's custom actions, the code
// editor with the save's errors on their lines, a live test on sample input, "Train Bot"
// (publish) with the version history and rollback, the bot's env variables and the
// execution logs. Route: #/actions/<bot>/<action>. Only the REST API of docs/rest.md.
import { html, useCallback, useEffect, useRef, useState } from "../lib.js";
import { useBots } from "../bots.js";
import { actionsApi } from "../api_actions.js";
import { CodeEditor } from "../actions/CodeEditor.js";
import { Problems } from "../actions/Problems.js";
import { RunResult } from "../actions/RunResult.js";
import { Versions } from "../actions/Versions.js";
import { EnvVars } from "../actions/EnvVars.js";
import { ExecLogs } from "../actions/ExecLogs.js";
import { DEFAULT_TEMPLATE, SAMPLE_INPUT, nameProblem, parseSample, fmtNumber } from "../actions/template.js";

// Unsaved code by "bot/action", for this tab: going to another action and back (or to
// another page) keeps what was typed until it is saved.
const drafts = new Map();

function ActionList({ botId, actions, current, ctl }) {
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const create = (e) => {
    e.preventDefault();
    const n = name.trim();
    const problem = nameProblem(n) || (actions.some((a) => a.name === n) ? `There is already an action ${n}.` : null);
    setError(problem);
    if (problem) return;
    setName("");
    ctl.go("actions", botId, n);
  };
  return html`
    <nav class="card actions-list" aria-label="Custom actions">
      <h2 class="panel-title">Custom actions <span class="count">${actions.length}</span></h2>
      ${actions.length === 0 && html`<p class="empty">No actions yet: create the first one below.</p>`}
      <ul class="action-items">
        ${actions.map((a) => html`
          <li key=${a.name}>
            <a class="action-item" href=${`#/actions/${encodeURIComponent(botId)}/${encodeURIComponent(a.name)}`}
              aria-current=${a.name === current ? "page" : undefined}>
              <span class="action-name">${a.name}</span>
              <span class="small muted">v${a.latest_version} · ${a.production_version
                ? `production v${a.production_version}` : "not published"}</span>
            </a>
          </li>`)}
      </ul>
      <form class="stack new-action" onSubmit=${create} novalidate>
        <label for="new-action-name" class="small">New action</label>
        <div class="row">
          <input id="new-action-name" type="text" placeholder="order_status" value=${name}
            aria-invalid=${error ? "true" : "false"} onInput=${(e) => setName(e.target.value)} />
          <button type="submit" class="btn btn-sm">Create</button>
        </div>
        ${error && html`<p class="inline-error" role="alert">${error}</p>`}
      </form>
    </nav>`;
}

function Editor({ s, botId, name, limits, onSaved }) {
  const token = s.token;
  const code = useRef(null);
  const sample = useRef(null);
  const [loaded, setLoaded] = useState(null); // {summary, doc}
  const [loadError, setLoadError] = useState(null);
  const [dirty, setDirty] = useState(false);
  const [length, setLength] = useState(0);
  const [problems, setProblems] = useState([]);
  const [notice, setNotice] = useState(null); // {kind: "info"|"error", text, where}
  const [sampleError, setSampleError] = useState(null);
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(null);
  const [logsKey, setLogsKey] = useState(0);
  const draftKey = botId + "/" + name;

  const loadSummary = useCallback(async () => {
    try {
      return await actionsApi.get(token, botId, name);
    } catch (err) {
      if (err.code === "unknown_action") return null;
      throw err;
    }
  }, [token, botId, name]);

  useEffect(() => {
    setLoaded(null); setProblems([]); setNotice(null); setResult(null); setDirty(false);
    loadSummary().then((summary) => {
      const latest = summary && summary.versions[0];
      const draft = drafts.get(draftKey);
      const doc = draft !== undefined ? draft : latest ? latest.code : DEFAULT_TEMPLATE;
      setLoaded({ summary, doc });
      setLength(doc.length);
      setDirty(!summary || draft !== undefined);
      setProblems(latest && draft === undefined ? latest.errors : []);
      if (draft !== undefined) {
        setNotice({ kind: "info", where: "save", text: "Your unsaved changes are back in the editor." });
      }
      setLoadError(null);
    }).catch((err) => setLoadError(err.message));
  }, [botId, name]);

  const refresh = async () => {
    const summary = await loadSummary();
    setLoaded((l) => ({ ...l, summary }));
    onSaved();
    return summary;
  };

  const save = async () => {
    const text = code.current.text();
    if (text.length > limits.code_max_chars) {
      setNotice({ kind: "error", where: "save", text: `The code is ${fmtNumber(text.length)} characters; the limit is ${fmtNumber(limits.code_max_chars)}. Nothing was sent.` });
      return null;
    }
    if (!text.trim()) {
      setNotice({ kind: "error", where: "save", text: "Write some code first: main(event, context)." });
      return null;
    }
    setBusy("save");
    try {
      const res = await actionsApi.save(token, botId, name, text);
      setProblems(res.errors);
      code.current.setProblems(res.errors);
      setDirty(false);
      if (drafts.get(draftKey) === text) drafts.delete(draftKey);
      setNotice(res.ok
        ? { kind: "info", where: "save", text: `Saved as version ${res.version}.` }
        : { kind: "error", where: "save", text: `Saved as version ${res.version} with ${res.errors.length} problem${res.errors.length > 1 ? "s" : ""}: fix ${res.errors.length > 1 ? "them" : "it"} to run or publish.` });
      await refresh();
      return res;
    } catch (err) {
      setNotice({ kind: "error", where: "save", text: err.message });
      return null;
    } finally {
      setBusy(null);
    }
  };

  // Run and publish act on saved code: unsaved changes are saved first.
  const savedVersion = async () => {
    if (!dirty && loaded.summary) {
      if (problems.length) {
        setNotice({ kind: "error", where: "save", text: "The saved code has problems: fix them first." });
        return null;
      }
      return loaded.summary.latest_version;
    }
    const res = await save();
    return res && res.ok ? res.version : null;
  };

  const run = async () => {
    const where = sample.current.firstSyntaxError();
    const parsed = parseSample(sample.current.text(), where);
    if (parsed.error) {
      setSampleError(parsed.error);
      sample.current.setProblems([{ ...(where || { line: 1, column: 1 }), message: parsed.error }]);
      return;
    }
    setSampleError(null);
    sample.current.setProblems([]);
    const version = await savedVersion();
    if (!version) return;
    setBusy("run");
    try {
      const res = await actionsApi.test(token, botId, name, parsed.value, version);
      setResult(res);
      code.current.markBreak(!res.ok && res.error ? res.error.line : null);
      setLogsKey((k) => k + 1);
    } catch (err) {
      if (err.field === "input") setSampleError(err.message);
      else setNotice({ kind: "error", where: "run", text: err.message });
    } finally {
      setBusy(null);
    }
  };

  const publish = async (which) => {
    const version = which || (await savedVersion());
    if (!version) return;
    setBusy("publish");
    try {
      const res = await actionsApi.publish(token, botId, name, version);
      setNotice({ kind: "info", where: "publish", text: `Trained: version ${res.production_version} now answers production calls.` });
      await refresh();
    } catch (err) {
      setNotice({ kind: "error", where: "publish", text: err.message });
    } finally {
      setBusy(null);
    }
  };

  const open = (v) => {
    code.current.setText(v.code || "");
    code.current.setProblems(v.errors);
    setProblems(v.errors);
    setNotice({ kind: "info", where: "save", text: `Version ${v.version} is in the editor; save it to make it the latest.` });
  };

  // Ctrl/Cmd+S saves and Ctrl/Cmd+Enter runs anywhere on the page (capture: before
  // the editors' own keys, and before the browser's "save page").
  const keyRef = useRef(null);
  keyRef.current = { save, run };
  const onKey = (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
    if (e.key === "s" || e.key === "S") { e.preventDefault(); e.stopPropagation(); keyRef.current.save(); }
    else if (e.key === "Enter") { e.preventDefault(); e.stopPropagation(); keyRef.current.run(); }
  };

  if (loadError) return html`<p class="inline-error" role="alert">${loadError}</p>`;
  if (!loaded) return html`<p class="empty">Loading ${name}…</p>`;
  const summary = loaded.summary;
  const over = length > limits.code_max_chars;
  return html`
    <div class="actions-work" onKeyDownCapture=${onKey}>
      <section class="card editor-card" aria-label="Code">
        <header class="editor-head">
          <div>
            <h2>${name}</h2>
            <p class="small muted">${summary
              ? `latest v${summary.latest_version} · ${summary.production_version ? `production v${summary.production_version}` : "not published yet"}`
              : "new action: not saved yet"}${dirty ? " · unsaved changes" : ""}</p>
          </div>
          <div class="row">
            <button type="button" class="btn" onClick=${save} disabled=${busy !== null}
              title="Ctrl+S">${busy === "save" ? "Saving…" : "Save"}</button>
            <button type="button" class="btn" onClick=${run} disabled=${busy !== null}
              title="Ctrl+Enter">${busy === "run" ? "Running…" : "Run"}</button>
            <button type="button" class="btn btn-primary" onClick=${() => publish()} disabled=${busy !== null}>
              ${busy === "publish" ? "Training…" : "Train Bot"}</button>
          </div>
        </header>
        <${CodeEditor} key=${botId + "/" + name} doc=${loaded.doc} label=${`Python code of ${name}`}
          className="code-main"
          onReady=${(ed) => { code.current = ed; ed.setProblems(problems); }}
          onChange=${(text) => { drafts.set(draftKey, text); setDirty(true); setLength(text.length); }} />
        <div class="row editor-foot">
          <span class=${over ? "small warn-text" : "small muted"}>${fmtNumber(length)} / ${fmtNumber(limits.code_max_chars)} characters</span>
          <span class="small muted"><kbd>Ctrl</kbd>+<kbd>S</kbd> save · <kbd>Ctrl</kbd>+<kbd>Enter</kbd> run</span>
        </div>
        ${notice && notice.where !== "run" && html`<p class=${notice.kind === "error" ? "inline-error notice" : "notice notice-info"}
          role=${notice.kind === "error" ? "alert" : "status"}>${notice.text}</p>`}
        <${Problems} problems=${problems} onPick=${(p) => code.current.goTo(p.line, p.column)} />
      </section>
      <div class="actions-grid">
        <section class="card action-section" aria-label="Live test">
          <h3 class="section-title">Sample input</h3>
          <p class="small muted">The seeds' <code>entities</code> and <code>user_data</code>; the test runs the saved code with the staging variables.</p>
          <${CodeEditor} key=${"sample/" + botId + "/" + name} doc=${SAMPLE_INPUT} language="json"
            label="Sample input JSON" className="code-sample"
            onReady=${(ed) => { sample.current = ed; }} onChange=${() => setSampleError(null)} />
          ${sampleError && html`<p class="inline-error" role="alert">${sampleError}</p>`}
          <h3 class="section-title">Result</h3>
          ${notice && notice.where === "run" && html`<p class="inline-error" role="alert">${notice.text}</p>`}
          <${RunResult} result=${result} />
        </section>
        <section class="card action-section" aria-label="Versions">
          <h3 class="section-title">Versions</h3>
          <${Versions} summary=${summary} busy=${busy !== null} onPublish=${publish} onOpen=${open} />
        </section>
      </div>
      <section class="card action-section" aria-label="Env variables">
        <h3 class="section-title">Env variables</h3>
        <${EnvVars} token=${token} botId=${botId} limit=${limits.env_value_max_chars} />
      </section>
      <section class="card action-section" aria-label="Execution logs">
        <h3 class="section-title">Execution logs</h3>
        <${ExecLogs} token=${token} botId=${botId} name=${name} refreshKey=${logsKey} />
      </section>
    </div>`;
}

export function ActionsPage({ s, ctl, rest }) {
  const bots = useBots(s);
  const botId = rest[0] || (bots[0] && bots[0].id);
  const name = rest[1] || null;
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const load = useCallback(() => {
    if (!botId) return;
    actionsApi.list(s.token, botId)
      .then((r) => { setList(r); setError(null); })
      .catch((err) => { setList(null); setError(err.message); });
  }, [s.token, botId]);
  useEffect(load, [load]);

  if (!botId) {
    return html`
      <main class="page" aria-label="Actions">
        <h1>Actions Dashboard</h1>
        <p class="empty">There is no bot yet. Create one on the Admin page's Bots tab
          (or with <code>handoff create-bot</code>).</p>
      </main>`;
  }
  const known = bots.some((b) => b.id === botId);
  return html`
    <main class="page actions-page" aria-label="Actions">
      <header class="row actions-top">
        <h1>Actions Dashboard</h1>
        <span class="topbar-spacer"></span>
        <label for="actions-bot" class="small">Bot</label>
        <select id="actions-bot" value=${botId} onChange=${(e) => ctl.go("actions", e.target.value)}>
          ${!known && html`<option value=${botId}>${botId}</option>`}
          ${bots.map((b) => html`<option key=${b.id} value=${b.id}>${b.name}</option>`)}
        </select>
      </header>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
      ${!list && !error && html`<p class="empty">Loading the bot's actions…</p>`}
      ${list && html`
        <div class="actions-layout">
          <${ActionList} botId=${botId} actions=${list.actions} current=${name} ctl=${ctl} />
          ${name
            ? html`<${Editor} key=${botId + "/" + name} s=${s} botId=${botId} name=${name}
                limits=${list.limits} onSaved=${load} />`
            : html`<div class="card empty-main actions-empty">
                <h2>Pick an action</h2>
                <p>Choose one on the left, or create one: it starts from the seeds'
                  <code>main(event, context)</code> template.</p>
              </div>`}
        </div>`}
    </main>`;
}
