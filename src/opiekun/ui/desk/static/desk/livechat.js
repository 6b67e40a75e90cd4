/* Opiekun desk, chat side: the socket /ws/desk/chat/ (docs/channels/livechat.md, "Desk frames").

   Rings when a chat waits for this agent (a short tone, a pill with the count, the tab title), shows
   "the visitor is typing…" under an open chat, tells the visitor when the agent types (only in Reply
   mode, never while writing an internal note) and when the agent has read their messages, and marks
   the agent's replies the visitor has read. Messages themselves arrive through the desk socket and
   htmx like every other channel's. */
(function () {
  "use strict";
  if (!document.getElementById("live-status")) return; // only the signed-in desk
  var PING_EVERY = 25000, BACKOFF_MIN = 1000, BACKOFF_MAX = 30000;
  var socket = null, attempt = 0, timer = null, ping = null, waitingCount = null, typingOn = false, typingAt = 0;
  var idleTimer = null, visitorTypingTimer = null, lastRead = {}, readByVisitor = {}, audio = null;
  var ring = document.getElementById("lc-ring");

  function panel() { return document.getElementById("lc-panel"); }
  function openChatId() {
    var p = panel();
    return p ? Number(p.dataset.lcConversation) : 0;
  }
  function send(frame) {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify(frame));
  }

  // --- ringing ---
  function tone() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var now = audio.currentTime;
      [0, 0.18].forEach(function (offset, i) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = i ? 1046 : 784;
        gain.gain.setValueAtTime(0.0001, now + offset);
        gain.gain.exponentialRampToValueAtTime(0.18, now + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.22);
        osc.connect(gain).connect(audio.destination);
        osc.start(now + offset);
        osc.stop(now + offset + 0.25);
      });
    } catch (e) { /* no audio (autoplay rules): the pill and the title still ring */ }
  }
  function paintWaiting(frame) {
    if (!ring) return;
    var n = frame.count || 0, chats = frame.chats || [];
    ring.hidden = !n;
    var text = n === 1 ? ring.dataset.tOne : (ring.dataset.tMany || "").replace("{n}", n);
    ring.querySelector(".lc-ring-text").textContent = text;
    if (chats.length) ring.querySelector("a").href = ring.dataset.url.replace("/0/", "/" + Number(chats[0].number) + "/");
    ring.dataset.count = String(n);
    if (waitingCount !== null && n > waitingCount) ringNow();
    waitingCount = n;
    // A suffix: the desk's own script owns the "(n) " prefix of the title.
    var bare = document.title.replace(/ · 💬$/, "");
    document.title = n ? bare + " · 💬" : bare;
  }
  function ringNow() {
    tone();
    if (!ring) return;
    ring.classList.remove("is-ringing");
    void ring.offsetWidth;
    ring.classList.add("is-ringing");
  }

  // --- the open chat ---
  function typingBox(create) {
    var box = document.getElementById("lc-typing");
    if (!box && create) {
      var thread = document.getElementById("thread");
      if (!thread || !panel()) return null;
      box = document.createElement("div");
      box.id = "lc-typing";
      box.className = "lc-typing";
      box.setAttribute("aria-live", "polite");
      box.hidden = true;
      box.appendChild(document.createElement("span")).innerHTML = "<i></i><i></i><i></i>";
      box.appendChild(document.createElement("span")).className = "lc-typing-text";
      thread.insertAdjacentElement("afterend", box);
    }
    return box;
  }
  function visitorTyping(on) {
    var box = typingBox(on);
    if (!box) return;
    box.querySelector(".lc-typing-text").textContent = panel() ? panel().dataset.tTyping : "";
    box.hidden = !on;
    clearTimeout(visitorTypingTimer);
    if (on) visitorTypingTimer = setTimeout(function () { box.hidden = true; }, 6000);
  }
  function paintVisitor(frame) {
    var p = panel();
    if (!p || Number(p.dataset.lcConversation) !== Number(frame.conversation_id)) return;
    var dot = p.querySelector("[data-lc-online]");
    if (dot) {
      dot.classList.toggle("is-online", !!frame.online);
      dot.textContent = frame.online ? p.dataset.tOnline : p.dataset.tOffline;
    }
    var link = p.querySelector("[data-lc-page-link]");
    if (link && frame.page_url && link.tagName === "A") {
      link.href = /^https?:\/\//.test(frame.page_url) ? frame.page_url : "#";
      link.title = frame.page_url;
      link.textContent = (frame.page_title || frame.page_url).slice(0, 70);
    }
    if (!frame.online) visitorTyping(false);
    readByVisitor[frame.conversation_id] = Math.max(readByVisitor[frame.conversation_id] || 0, frame.visitor_read_up_to || 0);
    paintReadByVisitor();
  }
  function paintReadByVisitor() {
    var id = openChatId(), upTo = readByVisitor[id] || 0, p = panel();
    if (!id || !upTo || !p) return;
    document.querySelectorAll("#thread li.msg-out[data-message-id]").forEach(function (li) {
      if (Number(li.dataset.messageId) > upTo) return;
      var d = li.querySelector(".delivery");
      if (d && !d.classList.contains("delivery-failed")) {
        d.textContent = p.dataset.tRead;
        d.className = "delivery delivery-read";
      }
    });
  }
  function markRead() {
    var id = openChatId();
    if (!id || document.visibilityState !== "visible") return;
    var newest = 0;
    document.querySelectorAll("#thread li.msg-in[data-message-id]").forEach(function (li) {
      newest = Math.max(newest, Number(li.dataset.messageId) || 0);
    });
    if (newest && newest > (lastRead[id] || 0)) {
      lastRead[id] = newest;
      send({ type: "read", conversation_id: id, up_to: newest });
    }
  }
  function onThread() {
    var id = openChatId();
    if (!id) return;
    send({ type: "watch", conversation_id: id });
    markRead();
    paintReadByVisitor();
  }

  // --- the agent typing a reply ---
  function replyMode() {
    var checked = document.querySelector('#compose-form input[name="mode"]:checked');
    return !checked || checked.value === "reply";
  }
  function agentTyping(on) {
    var id = openChatId();
    if (!id) return;
    if (on && typingOn && Date.now() - typingAt < 2500) return;
    if (!on && !typingOn) return;
    typingOn = on;
    typingAt = Date.now();
    send({ type: "typing", conversation_id: id, on: on });
  }
  document.addEventListener("input", function (e) {
    if (!e.target || e.target.id !== "reply-text" || !openChatId()) return;
    var on = replyMode() && !!e.target.value.trim();
    agentTyping(on);
    clearTimeout(idleTimer);
    if (on) idleTimer = setTimeout(function () { agentTyping(false); }, 4000);
  });
  document.addEventListener("change", function (e) {
    if (e.target && e.target.name === "mode" && !replyMode()) agentTyping(false);
  });
  document.addEventListener("submit", function (e) {
    if (e.target && e.target.id === "compose-form") agentTyping(false);
  }, true);

  // --- the socket ---
  function onFrame(f) {
    switch (f.type) {
      case "waiting": paintWaiting(f); break;
      case "ring": if (f.new_chat) ringNow(); break;
      case "visitor_typing": if (Number(f.conversation_id) === openChatId()) visitorTyping(!!f.on); break;
      case "visitor": paintVisitor(f); break;
      default:
    }
  }
  function connect() {
    clearTimeout(timer);
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + location.host + "/ws/desk/chat/");
    socket = ws;
    ws.onopen = function () {
      attempt = 0;
      clearInterval(ping);
      ping = setInterval(function () { send({ type: "ping" }); }, PING_EVERY);
      onThread();
    };
    ws.onmessage = function (event) {
      var f;
      try { f = JSON.parse(event.data); } catch (e) { return; }
      if (f && typeof f.type === "string") onFrame(f);
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      clearInterval(ping);
      if (event.code === 4401 || event.code === 4403) return;
      var ceiling = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, attempt));
      attempt += 1;
      timer = setTimeout(connect, ceiling / 2 + Math.random() * (ceiling / 2));
    };
  }
  document.addEventListener("htmx:afterSettle", function () {
    // The thread changed (a message came or went): a visitor still typing says so again within 2 s.
    visitorTyping(false);
    onThread();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { markRead(); if (!socket) { attempt = 0; connect(); } }
  });
  // A click anywhere lets the browser play the ring later (autoplay rules want a gesture first).
  document.addEventListener("pointerdown", function () {
    try { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); if (audio.state === "suspended") audio.resume(); } catch (e) { /* none */ }
  }, { once: true });
  window.addEventListener("pagehide", function () { var ws = socket; socket = null; if (ws) ws.close(1000); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", connect);
  else connect();
})();
