/*
 * The demo chat box around the seed snippet (client_examples/widget.html).
 *
 * A person talks to the demo bot through POST /demo/api/converse (the same body and answer
 * as POST /api/v1/bots/{bot_id}/converse, no API key). When an answer carries a `handoff`,
 * the page sets the globals the seed snippet reads, ConversationID and BotID, and connects
 * the snippet's socket: from then on the snippet's own code binds (`username`), shows the
 * agent's messages (`to_user` → setBotResponse) and sends the person's (sendMessage). When
 * the agent ends the chat the server sends `disconnect_socket`, the snippet disconnects,
 * and the next converse turn continues the bot's flow where the handoff returns to.
 *
 * This file loads before the inline snippet: it declares the globals, and wires the
 * snippet's `socket` once the page is parsed. Every text from the bot, the agent or the
 * server is set with textContent, never as HTML.
 */
'use strict';

// --- what the seed snippet reads -------------------------------------------------------
let ConversationID = null;  // the handoff's, bound by the snippet's `username`
let BotID = null;

// The snippet calls this for every `to_user` (agent messages and the server's notices).
function setBotResponse(text) {
  Widget.live(text);
}

// --- the page --------------------------------------------------------------------------
const Widget = (() => {
  const CONVERSE_URL = '/demo/api/converse';
  const STORE = 'handoff-demo-widget';
  const MAX_LINES = 200;        // kept across a reload, and sent as the bot transcript
  const MAX_TEXT = 4000;        // the longest transcript line the server takes

  let el = {};
  // conversation: the converse ConversationID; agent: who has the chat (for the status line)
  let state = { conversation: null, mode: 'bot', agent: null, lines: [], seqs: [] };
  let busy = false;
  let lastLive = null;          // the line setBotResponse just added

  function randomId() {
    const bytes = new Uint8Array(18);
    crypto.getRandomValues(bytes);
    let text = '';
    bytes.forEach((b) => { text += String.fromCharCode(b); });
    return 'demo-' + btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function save() {
    try {
      sessionStorage.setItem(STORE, JSON.stringify(state));
    } catch (e) { /* private mode or full: the chat still works, a reload starts over */ }
  }

  function load() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE) || 'null');
      if (saved && typeof saved.conversation === 'string' && Array.isArray(saved.lines)) {
        return {
          conversation: saved.conversation,
          mode: saved.mode === 'agent' ? 'agent' : 'bot',
          agent: typeof saved.agent === 'string' ? saved.agent : null,
          lines: saved.lines.filter((l) => l && typeof l.text === 'string').slice(-MAX_LINES),
          seqs: Array.isArray(saved.seqs) ? saved.seqs.slice(-MAX_LINES) : [],
        };
      }
    } catch (e) { /* a broken entry: start over */ }
    return { conversation: randomId(), mode: 'bot', agent: null, lines: [], seqs: [] };
  }

  // --- showing things ------------------------------------------------------------------
  function setStatus(text, kind) {
    el.status.textContent = text;
    el.status.dataset.kind = kind || 'bot';
  }

  function showError(text) {
    el.error.textContent = text;
    el.error.hidden = !text;
  }

  function scroll() {
    el.chat.scrollTop = el.chat.scrollHeight;
  }

  // kind: user | bot | agent | note; who: the agent's name, shown above their message.
  function addLine(kind, text, who) {
    const li = document.createElement('li');
    li.className = 'line ' + kind;
    if (who) {
      const name = document.createElement('span');
      name.className = 'who';
      name.textContent = who;
      li.appendChild(name);
    }
    const body = document.createElement('span');
    body.className = 'text';
    body.textContent = text;
    li.appendChild(body);
    el.chat.appendChild(li);
    scroll();
    return li;
  }

  function remember(kind, text, who) {
    state.lines.push({ kind, text, who: who || null });
    if (state.lines.length > MAX_LINES) {
      state.lines.splice(0, state.lines.length - MAX_LINES);
    }
    save();
  }

  function say(kind, text, who) {
    const li = addLine(kind, text, who);
    remember(kind, text, who);
    return li;
  }

  // A button or quick reply: its label, and what it sends back (the seeds' payload
  // object's `message`, or a plain string), or a link (an http(s) `url` in the payload).
  function choice(item) {
    const label = String(item.actionable_text || item.message || item.title || '').trim();
    const payload = item.payload;
    if (!label) {
      return null;
    }
    if (typeof payload === 'string' && payload) {
      return { label, send: payload };
    }
    if (payload && typeof payload === 'object') {
      if (typeof payload.message === 'string' && payload.message) {
        return { label, send: payload.message };
      }
      if (typeof payload.url === 'string' && /^https?:\/\//i.test(payload.url)) {
        return { label, href: payload.url };
      }
    }
    return { label, send: label };
  }

  function addChoices(items) {
    const group = document.createElement('li');
    group.className = 'choices';
    items.map(choice).filter(Boolean).forEach((c) => {
      let control;
      if (c.href) {
        control = document.createElement('a');
        control.href = c.href;
        control.target = '_blank';
        control.rel = 'noopener noreferrer';
      } else {
        control = document.createElement('button');
        control.type = 'button';
        control.addEventListener('click', () => pick(c));
        control.disabled = state.mode === 'agent';
      }
      control.className = 'choice';
      control.textContent = c.label;
      group.appendChild(control);
    });
    if (group.childElementCount) {
      el.chat.appendChild(group);
      scroll();
    }
  }

  // One HSL element of a converse answer (TEXT, BUTTON, QUICK_REPLY, what an action made).
  function render(element) {
    if (!element || typeof element !== 'object') {
      return;
    }
    const text = typeof element.text === 'string' ? element.text : '';
    if (text) {
      say('bot', text);
    }
    const data = element.data && typeof element.data === 'object' ? element.data : {};
    const items = Array.isArray(data.items) ? data.items
      : Array.isArray(data.quick_replies) ? data.quick_replies : [];
    if (items.length) {
      addChoices(items);
    }
  }

  function setChoicesEnabled(enabled) {
    el.chat.querySelectorAll('button.choice').forEach((b) => { b.disabled = !enabled; });
  }

  // --- the bot ---------------------------------------------------------------------------
  async function converse(input) {
    busy = true;
    el.send.disabled = true;
    showError('');
    const body = { ConversationID: state.conversation, ...input };
    const language = (navigator.language || 'en').split('-')[0].toLowerCase();
    body.user = { user_id: state.conversation, language_code: language };
    try {
      const response = await fetch(CONVERSE_URL, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      let answer = null;
      try {
        answer = await response.json();
      } catch (e) { /* not JSON: said below */ }
      if (!response.ok) {
        const error = answer && answer.error ? answer.error : {};
        let text = error.message || ('the server answered ' + response.status);
        if (response.status === 429) {
          const wait = response.headers.get('Retry-After');
          text = 'Too many messages at once' + (wait ? '; try again in ' + wait + ' s' : '');
        }
        showError('The bot could not answer: ' + text);
        setStatus(response.status === 404 ? 'The demo is not available here' : 'Demo bot',
          'error');
        return false;
      }
      (answer.messages || []).forEach(render);
      if (answer.state === 'with_agent' && answer.handoff) {
        toAgent(answer.handoff);
      } else {
        if (state.mode === 'agent') {  // the handoff ended while this page was away
          state.mode = 'bot';
          state.agent = null;
          save();
          setChoicesEnabled(true);
        }
        setStatus('Talking to the demo bot', 'bot');
      }
      return true;
    } catch (e) {
      showError('The bot could not be reached (' + e.message + '). Check that the server runs.');
      setStatus('Offline', 'error');
      return false;
    } finally {
      busy = false;
      el.send.disabled = false;
    }
  }

  function pick(c) {
    if (busy || state.mode === 'agent') {
      return;
    }
    say('user', c.label);
    converse({ payload: c.send });
  }

  // --- the agent (the snippet's socket) --------------------------------------------------
  function toAgent(handoff) {
    ConversationID = handoff.ConversationID;
    BotID = handoff.BotID;
    state.mode = 'agent';
    save();
    setChoicesEnabled(false);
    setStatus('Connecting you to an agent…', 'waiting');
    if (!socket.connected) {
      socket.connect();  // the snippet made it with autoConnect: false
    }
  }

  function backToBot(text) {
    state.mode = 'bot';
    state.agent = null;
    save();
    setChoicesEnabled(true);
    setStatus(text, 'bot');
    converse({});  // the flow continues where the handoff returns to
  }

  // What the snippet shows; wireSocket's own to_user listener then marks who said it.
  function live(text) {
    lastLive = addLine(state.mode === 'agent' ? 'agent' : 'note', String(text));
  }

  function chattingWith(name) {
    state.agent = name;
    save();
    setStatus('Chatting with ' + name, 'agent');
  }

  function transcript() {
    return state.lines
      .filter((l) => l.kind === 'user' || l.kind === 'bot')
      .map((l) => ({ sender: l.kind, message: l.text.slice(0, MAX_TEXT) }))
      .filter((l) => l.message.trim());
  }

  function wireSocket() {
    socket.on('connect', () => {
      if (state.agent) {  // a reconnect (or a reload) during the chat: the same agent has it
        setStatus('Chatting with ' + state.agent, 'agent');
      } else {
        setStatus('Connected · waiting for an agent', 'waiting');
      }
    });
    // After the snippet's listener (which showed the text): who said it, and no repeats
    // of an agent message the server sends again after a reconnect (same seq).
    socket.on('to_user', (data) => {
      const li = lastLive;
      lastLive = null;
      if (!li || !data || typeof data !== 'object') {
        return;
      }
      const name = data.agent && typeof data.agent.name === 'string' ? data.agent.name : null;
      if (data.sender === 'agent') {
        if (Number.isInteger(data.seq)) {
          const key = ConversationID + ':' + data.seq;
          if (state.seqs.includes(key)) {
            li.remove();
            return;
          }
          state.seqs.push(key);
        }
        li.className = 'line agent';
        if (name) {
          const who = document.createElement('span');
          who.className = 'who';
          who.textContent = name;
          li.insertBefore(who, li.firstChild);
        }
        remember('agent', String(data.message), name);
        chattingWith(name || 'an agent');
      } else {
        li.className = 'line note';
        remember('note', String(data.message));
        if (name) {  // "Anna joined the chat." (also after a transfer)
          chattingWith(name);
        }
      }
    });
    // The snippet answers `messages` with its empty list; this sends the real transcript.
    socket.on('messages', () => {
      socket.emit('messages_to_client', { messages: transcript().slice(-MAX_LINES), bot_id: BotID });
    });
    socket.on('disconnect_socket', () => {
      backToBot('The chat with the agent ended · you are back with the bot');
    });
    socket.on('disconnect', (reason) => {
      if (state.mode !== 'agent') {
        return;
      }
      if (reason === 'io server disconnect') {
        // The server closed it without disconnect_socket: ask the bot where things stand.
        backToBot('Disconnected from the live chat');
      } else if (reason !== 'io client disconnect') {
        setStatus('Connection lost · reconnecting…', 'error');
      }
    });
    socket.on('connect_error', () => setStatus('Cannot reach the live chat · retrying…', 'error'));
    // The server's error event: a refused message (too long, conversation closed, ...).
    socket.on('error', (error) => {
      const text = error && typeof error.message === 'string' ? error.message : String(error);
      showError('Not sent: ' + text);
    });
  }

  // --- the composer ----------------------------------------------------------------------
  function submit(event) {
    event.preventDefault();
    const text = el.text.value.trim();
    if (!text || busy) {
      return;
    }
    if (state.mode === 'agent') {
      if (!socket.connected) {
        showError('Not connected to the live chat yet; your message is kept, send it again.');
        return;
      }
      showError('');
      say('user', text);
      sendMessage(text);  // the snippet's "Sending a message" block
    } else {
      say('user', text);
      converse({ message: text });
    }
    el.text.value = '';
    el.text.focus();
  }

  function restart() {
    if (socket.connected) {
      socket.disconnect();
    }
    ConversationID = null;
    BotID = null;
    state = { conversation: randomId(), mode: 'bot', agent: null, lines: [], seqs: [] };
    save();
    el.chat.replaceChildren();
    converse({});
    el.text.focus();
  }

  function start() {
    el = {
      chat: document.getElementById('chat'),
      status: document.getElementById('status'),
      error: document.getElementById('error'),
      composer: document.getElementById('composer'),
      text: document.getElementById('text'),
      send: document.getElementById('send'),
      restart: document.getElementById('restart'),
    };
    state = load();
    save();
    state.lines.forEach((l) => addLine(l.kind, l.text, l.who));
    wireSocket();
    el.composer.addEventListener('submit', submit);
    el.restart.addEventListener('click', restart);
    // Shows the current step (a new conversation: the greeting); after a reload during a
    // handoff the answer carries the handoff again and the socket binds it again.
    converse({});
  }

  return { start, live };
})();

document.addEventListener('DOMContentLoaded', Widget.start);
