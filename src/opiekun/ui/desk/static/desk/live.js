/* Opiekun desk: live updates over the websocket /ws/desk/ (protocol in COMMON.md "Live desk protocol").

   The server only says *that* something changed; the page re-fetches what it shows through htmx
   (the list and the open thread listen for "opiekun:refresh"), so nothing shown here bypasses the
   views' permission checks. Count badges are the exception: the server pushes them, computed once
   per shop, and we only paint them. Without this script the desk still works (reload to see news). */
(function () {
  "use strict";

  const REFRESH_DELAY = 300; // ms: a burst of frames becomes one re-fetch per element
  const PING_EVERY = 25000; // ms: keeps proxies from closing an idle socket…
  const SILENCE_LIMIT = 70000; // ms: …and tells us when a sleeping laptop left a dead one behind
  const BACKOFF_MIN = 1000;
  const BACKOFF_MAX = 30000;
  const SIGNED_OUT = [4401, 4403]; // the server will not take this session: stop knocking

  let socket = null;
  let attempt = 0;
  let everConnected = false;
  let lastHeard = 0;
  let reconnectTimer = null;
  let pingTimer = null;
  let mine = null;
  const refreshTimers = new Map();
  const rowsToFlash = new Set();

  // --- connection state in #live-status (titles come from data-title-* when the page provides them) ---
  function showState(state) {
    const dot = document.getElementById("live-status");
    if (!dot) return;
    dot.dataset.state = state;
    dot.classList.toggle("is-live", state === "live");
    if (!dot.dataset.titleDefault) dot.dataset.titleDefault = dot.title || "";
    const key = "title" + state.charAt(0).toUpperCase() + state.slice(1);
    dot.title = dot.dataset[key] || dot.dataset.titleDefault;
  }

  // --- counts ---
  function paintCounts(counts) {
    for (const badge of document.querySelectorAll("[data-count]")) {
      const key = badge.dataset.count;
      // A team with no open case is absent from the frame: its badge goes to zero.
      const n = key in counts ? counts[key] : key.startsWith("team_") ? 0 : null;
      if (n === null) continue;
      badge.textContent = String(n);
      badge.classList.toggle("is-zero", !n);
      if (key === "sla_risk") badge.classList.toggle("count-risk", n > 0);
    }
    if (typeof counts.mine === "number") {
      mine = counts.mine;
      paintTitle();
    }
  }

  function paintTitle() {
    if (mine === null) return;
    const bare = document.title.replace(/^\(\d+\) /, "");
    document.title = mine > 0 ? `(${mine}) ${bare}` : bare;
  }

  // --- refreshing what the page shows ---
  function refresh(el) {
    if (!el) return;
    const id = el.id;
    clearTimeout(refreshTimers.get(id));
    refreshTimers.set(id, setTimeout(() => {
      refreshTimers.delete(id);
      const current = document.getElementById(id); // the list swaps itself out (outerHTML)
      if (!current) return;
      if (window.htmx) window.htmx.trigger(current, "opiekun:refresh");
      else current.dispatchEvent(new CustomEvent("opiekun:refresh", { bubbles: false }));
    }, REFRESH_DELAY));
  }

  function openThread(conversationId) {
    const thread = document.getElementById("thread");
    return thread && thread.dataset.conversationId === String(conversationId) ? thread : null;
  }

  function refreshAll() {
    refresh(document.getElementById("conversation-list"));
    refresh(document.getElementById("thread"));
  }

  function flashRows() {
    const list = document.getElementById("conversation-list");
    if (!list || !rowsToFlash.size) return;
    for (const key of rowsToFlash) {
      const [id, number] = key.split(":");
      const row = list.querySelector(`[data-conversation-id="${id}"], [data-number="${number}"]`);
      if (!row) continue;
      row.classList.add("is-live-updated");
      if (row.animate) {
        row.animate([{ backgroundColor: "rgba(47, 111, 79, .18)" }, { backgroundColor: "transparent" }],
          { duration: 1600, easing: "ease-out" });
      }
      setTimeout(() => row.classList.remove("is-live-updated"), 1600);
    }
    rowsToFlash.clear();
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "counts":
        if (frame.counts && typeof frame.counts === "object") paintCounts(frame.counts);
        break;
      case "conversation":
      case "message":
        rowsToFlash.add(`${Number(frame.conversation_id)}:${Number(frame.number)}`);
        refresh(document.getElementById("conversation-list"));
        refresh(openThread(frame.conversation_id));
        break;
      case "message_updated": // a delivery status: only the thread shows it
        refresh(openThread(frame.conversation_id));
        break;
      default: // pong, error: nothing to show
    }
  }

  // --- the socket ---
  function connect() {
    clearTimeout(reconnectTimer);
    if (socket && socket.readyState <= WebSocket.OPEN) return;
    showState("connecting");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws/desk/`);
    let confirmed = false;
    socket = ws;
    ws.onmessage = (event) => {
      lastHeard = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (frame && frame.type === "counts" && !confirmed) {
        // The first frame proves the socket works: reset the back-off, and catch up on anything
        // that happened while we were away (not on the very first connection: the page is fresh).
        confirmed = true;
        attempt = 0;
        showState("live");
        if (everConnected) refreshAll();
        everConnected = true;
      }
      onFrame(frame);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      clearInterval(pingTimer);
      if (SIGNED_OUT.includes(event.code)) {
        showState("offline");
        return;
      }
      showState("reconnecting");
      // Exponential back-off with jitter, so a restarted server is not hit by every desk at once.
      const ceiling = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** attempt);
      attempt += 1;
      reconnectTimer = setTimeout(connect, ceiling / 2 + Math.random() * (ceiling / 2));
    };
    ws.onopen = () => {
      lastHeard = Date.now();
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (Date.now() - lastHeard > SILENCE_LIMIT) ws.close(); // onclose reconnects
        else ws.send('{"type":"ping"}');
      }, PING_EVERY);
    };
  }

  function reconnectNow() {
    if (socket || !document.getElementById("live-status")) return;
    attempt = 0;
    connect();
  }

  // Re-fetches we cause carry a marker: the views may skip work the socket already did (the counts).
  document.addEventListener("htmx:configRequest", (event) => {
    const cause = event.detail.triggeringEvent;
    if (cause && cause.type === "opiekun:refresh") event.detail.headers["X-Opiekun-Live"] = "1";
  });
  document.addEventListener("htmx:afterSettle", () => {
    flashRows();
    paintTitle(); // the desk script rewrites the title when a conversation opens
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectNow();
  });
  window.addEventListener("online", reconnectNow);
  window.addEventListener("pagehide", () => {
    clearTimeout(reconnectTimer);
    const ws = socket;
    socket = null; // leaving on purpose: no reconnect
    if (ws) ws.close(1000);
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) reconnectNow(); // back from the browser's page cache
  });

  function start() {
    // Only the agent desk (it has the status dot) opens a socket; the login page does not.
    if (document.getElementById("live-status")) connect();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
