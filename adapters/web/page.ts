/**
 * The web chat page served at `GET /`: one self-contained HTML document
 * (inline CSS and JS, no external resources, no build step). It is a TS
 * module rather than an .html file so the compiled build (which copies no
 * assets) serves it too.
 *
 * Editing note: this is a `String.raw` template, so the page's own JS must
 * not use backticks or dollar-brace sequences; backslashes are kept as written.
 *
 * What it does: picks an agent (or lets routing decide) from `GET /agents`,
 * chats over `/ws`, shows "queued (position N)" and a working indicator per
 * message, and a live status panel (limit, running, queued per agent) fed by
 * `status` frames. Each tab claims its own client id, remembered in
 * localStorage so a reload keeps the session: a Web Lock held for the tab's
 * lifetime stops two open tabs from sharing one id (two tabs are two users).
 */
export const WEB_CHAT_PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Brine web chat</title>
<link rel="icon" href="data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 100'><text y='.9em' font-size='90'>🧂</text></svg>">
<style>
  :root {
    --bg: #f4f5f7; --panel: #ffffff; --text: #1d2330; --muted: #667085; --line: #e3e6eb;
    --accent: #2f6fde; --accent-text: #ffffff; --agent-bg: #eef1f5; --warn-bg: #fff4d6; --warn-line: #f0b429;
    --warn-text: #7a5200; --error-bg: #fdecec; --error-text: #a12622; --ok: #1f9d55; --run: #2f6fde;
  }
  @media (prefers-color-scheme: dark) {
    :root {
      --bg: #15181e; --panel: #1d2129; --text: #e6e8ec; --muted: #98a1b0; --line: #2d323c;
      --accent: #4c86f0; --agent-bg: #272c36; --warn-bg: #3a2f12; --warn-line: #d99a1b; --warn-text: #f3cf7a;
      --error-bg: #3b1d1d; --error-text: #f5a3a0; --run: #5b93f5;
    }
  }
  * { box-sizing: border-box; }
  html, body { height: 100%; margin: 0; }
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; align-items: center; gap: 12px; padding: 10px 18px; background: var(--panel); border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; letter-spacing: .2px; }
  header .conn { margin-left: auto; font-size: 13px; color: var(--muted); display: flex; align-items: center; gap: 6px; }
  .dot { width: 9px; height: 9px; border-radius: 50%; background: #b0b6c0; display: inline-block; }
  .conn.online .dot { background: var(--ok); }
  main { display: grid; grid-template-columns: minmax(0, 1fr) 320px; gap: 16px; padding: 16px; height: calc(100% - 52px); }
  @media (max-width: 820px) { main { grid-template-columns: 1fr; height: auto; } }
  .card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; display: flex; flex-direction: column; min-height: 0; }
  .chat-top { display: flex; align-items: center; gap: 10px; padding: 10px 14px; border-bottom: 1px solid var(--line); }
  .chat-top label { font-weight: 600; font-size: 14px; }
  select { font: inherit; padding: 5px 8px; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); color: var(--text); }
  .hint { color: var(--muted); font-size: 13px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  #messages { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px; min-height: 240px; }
  .empty { color: var(--muted); text-align: center; margin: auto; }
  .msg { max-width: 78%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
  .msg .who { display: block; font-size: 12px; font-weight: 600; color: var(--muted); margin-bottom: 2px; }
  .msg.user { align-self: flex-end; background: var(--accent); color: var(--accent-text); border-bottom-right-radius: 4px; }
  .msg.agent { align-self: flex-start; background: var(--agent-bg); border-bottom-left-radius: 4px; }
  .msg.error { align-self: flex-start; background: var(--error-bg); color: var(--error-text); }
  .msg.pending { align-self: flex-start; background: transparent; border: 1px dashed var(--line); color: var(--muted); font-size: 14px; }
  .msg.pending.queued { background: var(--warn-bg); border: 1px solid var(--warn-line); color: var(--warn-text); }
  .msg.pending.working { border-style: solid; color: var(--text); }
  .working-dots span { display: inline-block; width: 6px; height: 6px; margin-left: 3px; border-radius: 50%; background: var(--run); animation: blink 1.2s infinite ease-in-out; }
  .working-dots span:nth-child(2) { animation-delay: .2s; } .working-dots span:nth-child(3) { animation-delay: .4s; }
  @keyframes blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
  form { display: flex; gap: 8px; padding: 10px 14px; border-top: 1px solid var(--line); }
  textarea { flex: 1; font: inherit; resize: none; height: 44px; padding: 10px 12px; border-radius: 8px; border: 1px solid var(--line); background: var(--panel); color: var(--text); }
  button { font: inherit; font-weight: 600; padding: 0 18px; border-radius: 8px; border: 0; background: var(--accent); color: var(--accent-text); cursor: pointer; }
  button:disabled { opacity: .5; cursor: default; }
  aside h2 { font-size: 15px; margin: 0; padding: 12px 14px; border-bottom: 1px solid var(--line); }
  table { width: 100%; border-collapse: collapse; font-size: 14px; }
  th, td { padding: 8px 10px; text-align: left; border-bottom: 1px solid var(--line); }
  th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .4px; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.busy td { background: var(--warn-bg); color: var(--warn-text); }
  tr.busy td.queued { font-weight: 700; }
  tr.total td { font-weight: 600; border-bottom: 0; }
  .slots { display: flex; gap: 3px; margin-top: 4px; flex-wrap: wrap; }
  .slot { width: 10px; height: 10px; border-radius: 3px; border: 1px solid var(--run); }
  .slot.on { background: var(--run); }
  .agent-name { font-weight: 600; }
  .agent-id { color: var(--muted); font-size: 12px; }
  .legend { color: var(--muted); font-size: 12px; padding: 10px 14px; }
  footer { color: var(--muted); font-size: 12px; padding: 8px 14px; border-top: 1px solid var(--line); }
  code { font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>Brine</h1>
  <span class="hint">web chat</span>
  <span class="conn" id="conn"><span class="dot"></span><span id="conn-text">connecting</span></span>
</header>
<main>
  <section class="card" aria-label="Chat">
    <div class="chat-top">
      <label for="agent">Agent</label>
      <select id="agent"><option value="">Routing decides</option></select>
      <span class="hint" id="agent-hint"></span>
    </div>
    <div id="messages" aria-live="polite"><div class="empty" id="empty">Say hello to start a conversation.</div></div>
    <form id="composer">
      <textarea id="input" placeholder="Message (Enter sends, Shift+Enter for a new line)" aria-label="Message"></textarea>
      <button id="send" type="submit" disabled>Send</button>
    </form>
    <footer>client <code id="client-id">...</code> <span id="session"></span></footer>
  </section>
  <aside class="card" aria-label="Status">
    <h2>Agents</h2>
    <table id="status">
      <thead><tr><th>Agent</th><th class="num">Limit</th><th class="num">Running</th><th class="num">Queued</th></tr></thead>
      <tbody id="status-body"><tr><td colspan="4" class="hint">waiting for status...</td></tr></tbody>
    </table>
    <div class="legend">Each square is one slot of the agent's max_concurrency; filled = running. Rows turn amber while turns wait.</div>
  </aside>
</main>
<script>
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var LOG_LIMIT = 200;
  var state = { clientId: '', source: '', ws: null, agents: {}, agentOrder: [], pending: [], retryMs: 500, log: [], agentsLoading: false };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function agentName(id) { return (id && state.agents[id] && state.agents[id].name) || id || 'Brine'; }
  function randomId() {
    var bytes = new Uint8Array(6);
    crypto.getRandomValues(bytes);
    return 'web-' + Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  // ---- client id: one per tab, kept across reloads -------------------------
  function readIds() {
    try { var ids = JSON.parse(localStorage.getItem('brine.clientIds') || '[]'); return Array.isArray(ids) ? ids : []; } catch (e) { return []; }
  }
  function holdLock(id) {
    // Resolves true if this tab now holds the id's lock (kept until the tab closes or reloads).
    return new Promise(function (resolve) {
      navigator.locks.request('brine-client-' + id, { ifAvailable: true }, function (lock) {
        resolve(Boolean(lock));
        return lock ? new Promise(function () {}) : undefined;
      });
    });
  }
  async function claimClientId() {
    var ids = readIds();
    var mine = sessionStorage.getItem('brine.clientId');
    var order = mine ? [mine].concat(ids.filter(function (x) { return x !== mine; })) : ids;
    var chosen = '';
    if (navigator.locks) {
      for (var i = 0; i < order.length && !chosen; i++) if (await holdLock(order[i])) chosen = order[i];
      if (!chosen) { chosen = randomId(); await holdLock(chosen); }
    } else {
      // No Web Locks (page not opened via localhost/https): one id per tab, via sessionStorage.
      chosen = mine || randomId();
    }
    sessionStorage.setItem('brine.clientId', chosen);
    localStorage.setItem('brine.clientIds', JSON.stringify([chosen].concat(ids.filter(function (x) { return x !== chosen; })).slice(0, 10)));
    return chosen;
  }

  // ---- message list ---------------------------------------------------------
  function scrollDown() { var box = $('messages'); box.scrollTop = box.scrollHeight; }
  function renderMessage(entry) {
    var node = el('div', 'msg ' + entry.kind);
    if (entry.kind !== 'user') node.appendChild(el('span', 'who', entry.kind === 'error' ? 'Error' : agentName(entry.agent)));
    node.appendChild(document.createTextNode(entry.text));
    return node;
  }
  function record(entry, replace) {
    $('empty').style.display = 'none';
    var node = renderMessage(entry);
    if (replace) replace.replaceWith(node); else $('messages').appendChild(node);
    state.log.push(entry);
    state.log = state.log.slice(-LOG_LIMIT);
    try { localStorage.setItem('brine.log.' + state.clientId, JSON.stringify(state.log)); } catch (e) { /* storage full: the chat goes on */ }
    scrollDown();
  }
  function restoreLog() {
    try { state.log = JSON.parse(localStorage.getItem('brine.log.' + state.clientId) || '[]'); } catch (e) { state.log = []; }
    if (!Array.isArray(state.log)) state.log = [];
    state.log.forEach(function (entry) { $('messages').appendChild(renderMessage(entry)); });
    if (state.log.length) $('empty').style.display = 'none';
    scrollDown();
  }

  // A placeholder per sent message, filled in by queued/started and replaced by the reply.
  function addPending(agent) {
    var node = el('div', 'msg pending');
    var item = { node: node, replyTo: null, agent: agent };
    setPending(item, 'sent', 'sending...');
    $('messages').appendChild(node);
    state.pending.push(item);
    scrollDown();
    return item;
  }
  function setPending(item, phase, text) {
    var node = item.node;
    node.className = 'msg pending ' + phase;
    node.textContent = '';
    node.appendChild(el('span', 'who', agentName(item.agent)));
    node.appendChild(document.createTextNode(text));
    if (phase === 'working') {
      var dots = el('span', 'working-dots');
      dots.appendChild(el('span')); dots.appendChild(el('span')); dots.appendChild(el('span'));
      node.appendChild(dots);
    }
  }
  function pendingFor(frame, take) {
    var i = -1;
    if (frame.reply_to) i = state.pending.findIndex(function (p) { return p.replyTo === frame.reply_to; });
    if (i < 0) i = state.pending.findIndex(function (p) { return p.replyTo === null; });
    if (i < 0) return null;
    var item = state.pending[i];
    if (frame.reply_to) item.replyTo = frame.reply_to;
    if (frame.agent) item.agent = frame.agent;
    if (take) state.pending.splice(i, 1);
    return item;
  }

  // ---- status panel -----------------------------------------------------------
  function renderStatus(report) {
    var body = $('status-body');
    body.textContent = '';
    var ids = Object.keys(report.agents || {});
    if (ids.some(function (id) { return !state.agents[id]; })) loadAgents();
    ids.forEach(function (id) {
      var a = report.agents[id];
      var row = el('tr', a.queued > 0 ? 'busy' : '');
      row.dataset.agent = id;
      var name = el('td');
      name.appendChild(el('span', 'agent-name', agentName(id)));
      name.appendChild(document.createTextNode(' '));
      name.appendChild(el('span', 'agent-id', id));
      var slots = el('div', 'slots');
      for (var i = 0; i < Math.min(a.limit, 24); i++) slots.appendChild(el('span', 'slot' + (i < a.running ? ' on' : '')));
      name.appendChild(slots);
      row.appendChild(name);
      row.appendChild(el('td', 'num limit', String(a.limit)));
      row.appendChild(el('td', 'num running', String(a.running)));
      row.appendChild(el('td', 'num queued', String(a.queued)));
      row.title = a.queued > 0 ? a.queued + ' waiting, the oldest for ' + a.oldest_wait_s + ' s' : '';
      body.appendChild(row);
    });
    if (report.total) {
      var total = el('tr', 'total');
      total.appendChild(el('td', '', 'Total'));
      total.appendChild(el('td', 'num', String(report.total.limit)));
      total.appendChild(el('td', 'num', String(report.total.running)));
      total.appendChild(el('td', 'num', String(report.total.queued)));
      body.appendChild(total);
    }
  }
  var lastReport = null;

  // ---- agents picker ----------------------------------------------------------
  async function loadAgents() {
    if (state.agentsLoading) return;
    state.agentsLoading = true;
    try {
      var list = await (await fetch('/agents')).json();
      state.agents = {};
      list.forEach(function (a) { state.agents[a.id] = a; });
      var select = $('agent');
      var chosen = localStorage.getItem('brine.agent') || '';
      select.length = 1;
      list.forEach(function (a) {
        var option = el('option', '', a.name + ' (' + a.id + ')');
        option.value = a.id;
        select.appendChild(option);
      });
      select.value = state.agents[chosen] ? chosen : '';
      showHint();
      if (lastReport) renderStatus(lastReport);
    } catch (e) {
      $('agent-hint').textContent = 'could not load the agents';
    } finally {
      state.agentsLoading = false;
    }
  }
  function showHint() {
    var a = state.agents[$('agent').value];
    $('agent-hint').textContent = a ? a.description : 'the routing bindings pick the agent';
  }

  // ---- WebSocket ----------------------------------------------------------------
  function setOnline(online, text) {
    $('conn').className = 'conn' + (online ? ' online' : '');
    $('conn-text').textContent = text;
    $('send').disabled = !online;
  }
  function connect() {
    var ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    state.ws = ws;
    ws.onopen = function () {
      state.retryMs = 500;
      setOnline(true, 'connected');
      // Subscribes to our source, so replies that waited while we were away arrive now.
      ws.send(JSON.stringify({ type: 'hello', source: state.source }));
    };
    ws.onmessage = function (event) { onFrame(JSON.parse(event.data)); };
    ws.onclose = function () {
      setOnline(false, 'reconnecting...');
      setTimeout(connect, state.retryMs);
      state.retryMs = Math.min(state.retryMs * 2, 5000);
    };
  }
  function onFrame(frame) {
    if (frame.type === 'status') { lastReport = frame.content; renderStatus(frame.content); return; }
    if (frame.session_id) $('session').textContent = '- session ' + frame.session_id;
    if (frame.type === 'queued') {
      var q = pendingFor(frame, false);
      if (q) setPending(q, 'queued', 'queued (position ' + frame.position + '): waiting for a free slot');
    } else if (frame.type === 'started') {
      var s = pendingFor(frame, false);
      if (s) setPending(s, 'working', 'working');
    } else if (frame.type === 'reply' || frame.type === 'error') {
      // An error with no source is about a frame we sent; it answers no message.
      var done = frame.source ? pendingFor(frame, true) : null;
      record({ kind: frame.type === 'reply' ? 'agent' : 'error', text: frame.content, agent: frame.agent || (done && done.agent) || '' }, done && done.node);
    }
  }

  function send() {
    var text = $('input').value;
    if (!text.trim() || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
    var agent = $('agent').value;
    var frame = { source: state.source, content: text };
    if (agent) frame.agent = agent;
    state.ws.send(JSON.stringify(frame));
    record({ kind: 'user', text: text });
    addPending(agent || '');
    $('input').value = '';
  }

  $('composer').addEventListener('submit', function (event) { event.preventDefault(); send(); });
  $('input').addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(); }
  });
  $('agent').addEventListener('change', function () { localStorage.setItem('brine.agent', $('agent').value); showHint(); });

  claimClientId().then(function (id) {
    state.clientId = id;
    state.source = 'platform-ws:' + id;
    $('client-id').textContent = id;
    document.body.dataset.clientId = id;
    restoreLog();
    loadAgents();
    connect();
  });
})();
</script>
</body>
</html>
`;
