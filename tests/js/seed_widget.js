'use strict';
/*
 * The seed widget under Node, for tests/integration/test_js_widget.py.
 *
 * Reads handoff/console/demo/seed_widget.html, takes the text between
 * `// --- seed snippet begin ---` and `// --- seed snippet end ---` and runs it
 * unchanged, with the globals a browser page would give it:
 *   io              the official socket.io-client, require(SIO_PKG) (sio3 = 3.1.3, sio4 = 4.8.1)
 *   ConversationID, BotID
 *   setBotResponse  prints {"event": "setBotResponse", "data": text}
 *   location        a stub for --url, so `location.origin + '/live_agent'` is the test server
 * then calls socket.connect() (the snippet uses autoConnect: false).
 *
 * Usage:
 *   SIO_PKG=sio4 node seed_widget.js --url http://127.0.0.1:8080 \
 *       --conversation CID --bot BOT_ID [--transports websocket] [--transcript JSON] [--no-connect]
 * (or the env variables SEED_URL, SEED_CONVERSATION_ID, SEED_BOT_ID, SEED_TRANSPORTS,
 * SEED_TRANSCRIPT).
 *
 * stdout: one JSON object a line, {"event": name, "data": ...}:
 *   ready            {pkg, version}                   the snippet ran, nothing sent yet
 *   open             {transport}                      engine.io is open: polling or websocket
 *   connect          {id, transport}                  the /live_agent namespace is connected
 *   upgrade          {transport}                      engine.io moved from polling to websocket
 *   disconnect       {reason}
 *   connect_error    {message}
 *   <server event>   its payload (null when none)     every event the server emits:
 *                                                     startConversation, to_user, messages,
 *                                                     disconnect_socket, error, ...
 *   setBotResponse   text                             what the snippet showed the person
 *   sent             {message, connected}             sendMessage(message) ran
 *   state            {connected, transport}
 *   harness_error    stack                            then exit code 1
 * stdin: one JSON object a line:
 *   {"send": text}       calls the snippet's sendMessage(text) (the wrapped "Sending a message")
 *   {"connect": true}    socket.connect() again
 *   {"state": true}      prints a state line (also a round trip: earlier commands are done)
 *   {"exit": true}       disconnects if connected and exits 0 (so does the end of stdin)
 *
 * The transcript: the snippet answers `messages` with an empty array (its
 * `let messages = []` is where a real widget fills in the user–bot conversation).
 * With --transcript, this harness registers, outside the snippet and after its
 * listener, one more `messages` listener that emits `messages_to_client` with
 * that array. The server thus receives the snippet's own empty reply first,
 * then the populated one.
 */

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const vm = require('vm');

const BEGIN = '// --- seed snippet begin ---';
const END = '// --- seed snippet end ---';

function out(event, data) {
  process.stdout.write(JSON.stringify({ event, data: data === undefined ? null : data }) + '\n');
}

function fail(error) {
  out('harness_error', String((error && error.stack) || error));
  process.exit(1);
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

function options() {
  const opts = {
    url: process.env.SEED_URL,
    conversation: process.env.SEED_CONVERSATION_ID,
    bot: process.env.SEED_BOT_ID,
    transports: process.env.SEED_TRANSPORTS,
    transcript: process.env.SEED_TRANSCRIPT,
    page: process.env.SEED_PAGE ||
      path.join(__dirname, '..', '..', 'handoff', 'console', 'demo', 'seed_widget.html'),
    connect: true,
  };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--no-connect') {
      opts.connect = false;
      continue;
    }
    const key = flag.replace(/^--/, '');
    if (!flag.startsWith('--') || !(key in opts) || i + 1 >= argv.length) {
      throw new Error('bad argument ' + flag);
    }
    opts[key] = argv[++i];
  }
  for (const key of ['url', 'conversation', 'bot']) {
    if (!opts[key]) {
      throw new Error('missing --' + key);
    }
  }
  return opts;
}

function seedSnippet(page) {
  const html = fs.readFileSync(page, 'utf8');
  const begin = html.indexOf(BEGIN);
  const end = html.indexOf(END);
  if (begin < 0 || end < begin) {
    throw new Error(page + ' has no seed snippet markers');
  }
  return html.slice(begin + BEGIN.length, end);
}

function socketIo(pkg) {
  if (!pkg) {
    throw new Error('set SIO_PKG to sio3 or sio4');
  }
  const mod = require(pkg);
  // 3.x exports lookup() as the module itself (with .io / .connect); 4.x as well,
  // and as .io / .default in its ESM-shaped CJS build.
  const io = typeof mod === 'function' ? mod : (mod.io || mod.default);
  if (typeof io !== 'function' || typeof io.connect !== 'function') {
    throw new Error(pkg + ' does not export io');
  }
  return { io, version: require(pkg + '/package.json').version };
}

function main() {
  const opts = options();
  const pkg = process.env.SIO_PKG;
  const { io, version } = socketIo(pkg);
  const url = new URL(opts.url);

  // What a browser page gives the snippet.
  globalThis.io = io;
  globalThis.ConversationID = opts.conversation;
  globalThis.BotID = opts.bot;
  globalThis.setBotResponse = (text) => out('setBotResponse', text);
  globalThis.location = {
    href: url.href,
    origin: url.origin,
    protocol: url.protocol,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    pathname: url.pathname,
    search: '',
    hash: '',
  };

  // The snippet, unchanged. Its top-level `const socket` lands in the global
  // lexical scope, where a second script can read it.
  vm.runInThisContext(seedSnippet(opts.page), { filename: 'seed_widget.html#seed-snippet' });
  const socket = vm.runInThisContext('socket');
  const sendMessage = vm.runInThisContext('sendMessage');
  if (typeof sendMessage !== 'function') {
    throw new Error('the page must wrap the "Sending a message" block in sendMessage(message)');
  }

  // Everything below is outside the snippet.
  if (opts.transports) {
    socket.io.opts.transports = opts.transports.split(',');  // read when the engine opens
  }
  if (opts.transcript) {
    const transcript = JSON.parse(opts.transcript);
    socket.on('messages', () => {
      socket.emit('messages_to_client', { messages: transcript, bot_id: globalThis.BotID });
    });
  }
  socket.onAny((event, ...args) => out(event, args.length ? args[0] : null));
  socket.on('connect', () => {
    out('connect', { id: socket.id, transport: socket.io.engine.transport.name });
  });
  socket.on('disconnect', (reason) => out('disconnect', { reason }));
  socket.on('connect_error', (err) => out('connect_error', { message: err.message }));
  socket.io.on('open', () => {
    out('open', { transport: socket.io.engine.transport.name });
    socket.io.engine.on('upgrade', (transport) => out('upgrade', { transport: transport.name }));
  });

  const state = () => ({
    connected: socket.connected,
    transport: socket.io.engine ? socket.io.engine.transport.name : null,
  });
  const exit = () => {
    if (socket.connected) {
      socket.disconnect();
    }
    out('exit', state());
    process.exit(0);
  };

  const commands = readline.createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    if (!line.trim()) {
      return;
    }
    const cmd = JSON.parse(line);
    if ('send' in cmd) {
      sendMessage(cmd.send);
      out('sent', { message: cmd.send, connected: socket.connected });
    } else if (cmd.connect) {
      socket.connect();
    } else if (cmd.state) {
      out('state', state());
    } else if (cmd.exit) {
      exit();
    } else {
      throw new Error('unknown command ' + line);
    }
  });
  commands.on('close', exit);

  out('ready', { pkg, version });
  if (opts.connect) {
    socket.connect();
  }
}

main();
