#!/usr/bin/env node
// Load generator for bench/relay.py: N widgets (/live_agent) and their agents
// (/agent) on the official socket.io-client 4.8.1, WebSocket transport only.
//
//   node bench/loadgen.js CONFIG.json
//
// CONFIG (written by relay.py): {url, urls?, pid, pids?, clk_tck, bot_id,
// conversations: [id], agents: [token], capacity, text_bytes, connect_concurrency,
// phases: {idle: bool, latency: {rate, warmup, duration}, saturated: {window, warmup,
// duration}}}. With several `urls` (server processes sharing PostgreSQL and Redis),
// widget i connects to urls[i % n] and agent j to urls[(j + 1) % n], and the server
// CPU and RSS are those of all `pids` together.
//
// Phases, in order, against one running server:
//   idle       RSS of the server before / after N widgets connect and bind
//              (agents already online), divided by N.
//   latency    open loop: widgets send rate/2 from_user a second in total, on a
//              schedule; each agent answers every user_message with send_message
//              at once, so rate/2 flow each way. Latency runs from the emit to
//              the arrival, both in this process (one clock); how late emits
//              were against the schedule is reported apart as send_lag.
//   saturated  closed loop: every pair keeps `window` round trips in flight
//              (user -> agent -> user); relayed messages/s = deliveries to agents
//              + deliveries to widgets inside the measuring window.
// Progress goes to stderr; the last stdout line is "RESULT <json>".
'use strict';

const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');

const { io } = require(path.join(__dirname, '..', 'tests', 'js', 'node_modules', 'sio4'));

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const N = cfg.conversations.length;
const URLS = cfg.urls && cfg.urls.length ? cfg.urls : [cfg.url];
const PIDS = cfg.pids && cfg.pids.length ? cfg.pids : [cfg.pid];
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => process.stderr.write(`[loadgen] ${a.join(' ')}\n`);
// Machine-readable phase edges; relay.py uses them to profile one phase at a time.
const mark = (name, edge) => process.stderr.write(`PHASE ${name} ${edge}\n`);

// ---------------------------------------------------------------- /proc probes
function procStat() {
  // utime + stime (fields 14, 15), after the ")" that ends the command name.
  let total = 0;
  for (const pid of PIDS) {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    total += (Number(f[11]) + Number(f[12])) / cfg.clk_tck;
  }
  return total;
}
function rssKb() {
  let total = 0;
  for (const pid of PIDS) {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    total += m ? Number(m[1]) : NaN;
  }
  return total;
}
function selfCpu() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// ------------------------------------------------------------------- helpers
async function pool(items, limit, fn) {
  let next = 0;
  const workers = [];
  for (let w = 0; w < Math.min(limit, items.length); w++) {
    workers.push((async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    })());
  }
  await Promise.all(workers);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
function summary(samples) {
  const s = Float64Array.from(samples).sort();
  return {
    count: s.length,
    p50_ms: pct(s, 50), p90_ms: pct(s, 90), p99_ms: pct(s, 99), max_ms: s.length ? s[s.length - 1] : null,
  };
}

const PAD = 'x'.repeat(Math.max(0, cfg.text_bytes || 100));
const stamp = (phase, t) => `${phase}|${t.toFixed(3)}|${PAD}`.slice(0, Math.max(24, cfg.text_bytes || 100));
function parseStamp(text) {
  const a = text.indexOf('|');
  const b = text.indexOf('|', a + 1);
  return [text.slice(0, a), Number(text.slice(a + 1, b))];
}

// ---------------------------------------------------------------- the state
const opts = {
  transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30000,
};
const agents = []; // sockets
const widgets = []; // sockets, index = pair index
const agentOf = new Map(); // conversation id -> agent socket
const errors = { ack: 0, error_events: 0, disconnects: 0, samples: [] };
function noteError(kind, detail) {
  errors[kind] += 1;
  if (errors.samples.length < 5) errors.samples.push(`${kind}: ${JSON.stringify(detail).slice(0, 200)}`);
}

// What the current phase does with each delivery.
const phase = {
  name: 'setup', measureFrom: Infinity, measureTo: -Infinity, running: false,
  u2a: 0, a2u: 0, u2aLat: [], a2uLat: [], sendLag: [], onToUser: null, outstanding: 0,
};
function inWindow(t) { return t >= phase.measureFrom && t < phase.measureTo; }

function sendFromUser(i, scheduled) {
  const w = widgets[i];
  const t = now();
  // Latency runs from the moment of the emit; how late the emit was against its
  // schedule (timer granularity, this process being busy) is kept apart as
  // send_lag, so the server is not charged for the load generator.
  if (scheduled !== undefined && inWindow(t)) phase.sendLag.push(t - scheduled);
  phase.outstanding += 1;
  w.emit('from_user', { message: stamp(phase.name, t), ConversationID: cfg.conversations[i], BotID: cfg.bot_id },
    (ack) => { if (!ack || !ack.ok) noteError('ack', ack); });
}

function onUserMessage(agent, d) {
  const t = now();
  const [ph, sent] = parseStamp(d.text);
  if (ph !== phase.name) return;
  if (inWindow(t)) phase.u2a += 1;
  if (inWindow(sent)) phase.u2aLat.push(t - sent);
  agent.emit('send_message', { conversation_id: d.conversation_id, text: stamp(ph, now()) },
    (ack) => { if (!ack || !ack.ok) noteError('ack', ack); });
}

function onToUser(i, d) {
  if (d.sender !== 'agent') return;
  const t = now();
  const [ph, sent] = parseStamp(d.message);
  if (ph !== phase.name) return;
  phase.outstanding -= 1;
  if (inWindow(t)) phase.a2u += 1;
  if (inWindow(sent)) phase.a2uLat.push(t - sent);
  if (phase.onToUser) phase.onToUser(i);
}

// --------------------------------------------------------------- connecting
const serverOf = new Map(); // socket -> index into URLS
function connectAgent(token, j) {
  return new Promise((resolve, reject) => {
    const s = io(`${URLS[(j + 1) % URLS.length]}/agent`, { ...opts, auth: { token } });
    serverOf.set(s, (j + 1) % URLS.length);
    s.on('conversation_assigned', (d) => agentOf.set(d.conversation.conversation_id, s));
    s.on('user_message', (d) => onUserMessage(s, d));
    s.on('disconnect', (reason) => { if (!closing) noteError('disconnects', reason); });
    s.once('connect_error', (e) => reject(new Error(`agent connect: ${e.message} ${JSON.stringify(e.data || '')}`)));
    s.once('connect', () => {
      s.emit('set_status', { status: 'online', capacity: cfg.capacity }, (ack) => {
        if (!ack || !ack.ok) reject(new Error(`set_status: ${JSON.stringify(ack)}`));
        else resolve(s);
      });
    });
    agents.push(s);
  });
}

function connectWidget(i) {
  return new Promise((resolve, reject) => {
    const s = io(`${URLS[i % URLS.length]}/live_agent`, opts);
    widgets[i] = s;
    s.on('to_user', (d) => onToUser(i, d));
    s.on('error', (d) => noteError('error_events', d));
    s.on('disconnect', (reason) => { if (!closing) noteError('disconnects', reason); });
    s.once('connect_error', (e) => reject(new Error(`widget connect: ${e.message}`)));
    // The seed widget binds when the server says startConversation.
    s.once('startConversation', () => {
      s.emit('username', { ConversationID: cfg.conversations[i], BotID: cfg.bot_id }, (ack) => {
        if (!ack || !ack.ok) reject(new Error(`username: ${JSON.stringify(ack)}`));
        else resolve(s);
      });
    });
  });
}

// ------------------------------------------------------------------ phases
function beginMeasure(name, warmupS, durationS) {
  const t = now();
  Object.assign(phase, {
    name, running: true, u2a: 0, a2u: 0, u2aLat: [], a2uLat: [], sendLag: [], outstanding: 0,
    measureFrom: t + warmupS * 1000, measureTo: t + (warmupS + durationS) * 1000, onToUser: null,
  });
  return t;
}

// The handoff server's group-commit histogram (sum and count), when it has one.
async function writeBatches() {
  if (!cfg.metrics_url) return null;
  try {
    const text = await (await fetch(cfg.metrics_url)).text();
    const get = (name) => {
      const m = new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text);
      return m ? Number(m[1]) : null;
    };
    const sum = get('handoff_message_write_batch_size_sum');
    const count = get('handoff_message_write_batch_size_count');
    return sum === null || count === null ? null : { sum, count };
  } catch (e) {
    return null;
  }
}

async function measureWindow() {
  // Sample the server's and our own CPU exactly over the measuring window.
  await sleep(Math.max(0, phase.measureFrom - now()));
  mark(phase.name, 'start');
  const c0 = procStat(); const s0 = selfCpu(); const w0 = now();
  const b0 = await writeBatches();
  await sleep(Math.max(0, phase.measureTo - now()));
  const c1 = procStat(); const s1 = selfCpu(); const w1 = now();
  const b1 = await writeBatches();
  mark(phase.name, 'end');
  const wall = (w1 - w0) / 1000;
  let batches = null;
  if (b0 && b1 && b1.count > b0.count) {
    batches = { commits_per_s: (b1.count - b0.count) / wall, rows_per_commit: (b1.sum - b0.sum) / (b1.count - b0.count) };
  }
  return { wall, serverCpu: c1 - c0, loadgenCpu: s1 - s0, batches };
}

async function drain(maxMs) {
  const until = now() + maxMs;
  while (phase.outstanding > 0 && now() < until) await sleep(20);
  const left = phase.outstanding;
  phase.name = 'between';
  phase.onToUser = null;
  return left;
}

function report(m) {
  const relayed = phase.u2a + phase.a2u;
  return {
    wall_s: m.wall,
    relayed: relayed,
    msgs_per_s: relayed / m.wall,
    u2a_per_s: phase.u2a / m.wall,
    a2u_per_s: phase.a2u / m.wall,
    server_cpu_s: m.serverCpu,
    server_cpu_util: m.serverCpu / m.wall,
    server_cpu_us_per_msg: relayed ? (m.serverCpu * 1e6) / relayed : null,
    loadgen_cpu_util: m.loadgenCpu / m.wall,
    u2a: summary(phase.u2aLat),
    a2u: summary(phase.a2uLat),
    rss_kb: rssKb(),
    write_batches: m.batches,
  };
}

async function latencyPhase(p) {
  const userRate = p.rate / 2; // agents echo each one: the other half
  const start = beginMeasure('lat', p.warmup, p.duration);
  const stopAt = phase.measureTo;
  let sent = 0;
  const timer = setInterval(() => {
    const t = now();
    if (t >= stopAt) { clearInterval(timer); return; }
    const due = Math.floor(((t - start) * userRate) / 1000);
    while (sent < due) {
      sendFromUser(sent % N, start + (sent * 1000) / userRate);
      sent += 1;
    }
  }, 1);
  const m = await measureWindow();
  clearInterval(timer);
  // A server that fell behind the offered rate still has a backlog: the saturated
  // phase starts once it is delivered (or after a minute), not on top of it.
  const left = await drain(60000);
  return { ...report(m), offered_per_s: p.rate, send_lag: summary(phase.sendLag),
    undelivered_after_drain: left };
}

async function saturatedPhase(p) {
  beginMeasure('sat', p.warmup, p.duration);
  phase.onToUser = (i) => { if (now() < phase.measureTo) sendFromUser(i); };
  for (let k = 0; k < p.window; k++) for (let i = 0; i < N; i++) sendFromUser(i);
  const m = await measureWindow();
  const left = await drain(10000);
  return { ...report(m), window: p.window, in_flight: p.window * N, undelivered_after_drain: left };
}

// -------------------------------------------------------------------- main
let closing = false;
async function main() {
  const result = { online_s: null, pairs: N, agents: cfg.agents.length, capacity: cfg.capacity };
  const conc = cfg.connect_concurrency || 50;
  let t = now();
  mark('online', 'start');
  await withTimeout(pool(cfg.agents, conc, connectAgent), 300000, 'agents online');
  mark('online', 'end');
  result.online_s = (now() - t) / 1000;
  log(`${cfg.agents.length} agents online in ${((now() - t) / 1000).toFixed(1)} s`);
  await sleep(1500);
  const rssBefore = rssKb();

  // Widgets connect and bind in two halves, so the per-widget figure can also be
  // read as a slope (RSS after all minus RSS after half, over N/2), which leaves
  // out one-off costs (first-use caches, code paths) that a small N would inflate.
  t = now();
  mark('bind', 'start');
  const half = Math.floor(N / 2);
  const bindRange = async (from, to) => {
    const ids = [];
    for (let i = from; i < to; i++) ids.push(i);
    await withTimeout(pool(ids, conc, (i) => connectWidget(i)), 300000, 'widgets bound');
    const deadline = now() + 180000;
    while (agentOf.size < to && now() < deadline) await sleep(50);
    if (agentOf.size < to) throw new Error(`only ${agentOf.size} of ${to} conversations were assigned`);
  };
  await bindRange(0, half);
  await sleep(1000);
  const rssHalf = rssKb();
  await bindRange(half, N);
  result.setup_s = (now() - t) / 1000;
  mark('bind', 'end');
  log(`${N} widgets bound and assigned in ${result.setup_s.toFixed(1)} s`);
  // Pairs whose widget and agent are on different server processes.
  result.cross_pairs = cfg.conversations.filter(
    (c, i) => serverOf.get(agentOf.get(c)) !== i % URLS.length).length;
  await sleep(2000);
  const rssAfter = rssKb();
  result.idle = {
    rss_before_kb: rssBefore, rss_half_kb: rssHalf, rss_after_kb: rssAfter,
    kb_per_widget: (rssAfter - rssBefore) / N,
    kb_per_widget_slope: (rssAfter - rssHalf) / (N - half),
  };
  log(`idle: ${result.idle.kb_per_widget.toFixed(1)} KB per widget (slope ${result.idle.kb_per_widget_slope.toFixed(1)})`);

  if (cfg.phases.latency) {
    result.latency = await latencyPhase(cfg.phases.latency);
    log(`latency: u2a p50 ${result.latency.u2a.p50_ms?.toFixed(2)} p99 ${result.latency.u2a.p99_ms?.toFixed(2)} ms`);
    await sleep(1000);
  }
  if (cfg.phases.saturated) {
    result.saturated = await saturatedPhase(cfg.phases.saturated);
    log(`saturated: ${result.saturated.msgs_per_s.toFixed(0)} msg/s, server CPU ${(100 * result.saturated.server_cpu_util).toFixed(0)}%`);
  }
  result.errors = errors;
  closing = true;
  for (const s of widgets) s && s.disconnect();
  for (const s of agents) s.disconnect();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  setTimeout(() => process.exit(0), 200);
}

main().catch((e) => {
  closing = true;
  process.stderr.write(`[loadgen] error: ${e.stack || e}\n`);
  process.exit(1);
});
