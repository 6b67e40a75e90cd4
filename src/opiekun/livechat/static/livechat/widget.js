/* Opiekun live chat widget. One file, no framework, no build step: paste
     <script src="https://YOUR-OPIEKUN/chat/widget.js" data-key="WIDGET-KEY" async></script>
   into the shop's pages (docs/channels/livechat.md). Everything renders inside a shadow root, so the
   shop's CSS cannot reach it, and every text from the network is set with textContent: never HTML.
   Messages carry a client id; what the server has not acknowledged is kept (also across reloads)
   and sent again after a reconnect, and the server de-duplicates by that id. */
(function () {
  "use strict";
  if (window.__opiekunChat) return;
  window.__opiekunChat = true;

  var script = document.currentScript || document.querySelector('script[data-key][src*="/chat/widget.js"]');
  if (!script) return;
  var KEY = script.getAttribute("data-key") || "";
  var BASE = new URL(script.src, location.href).origin;
  var WS = BASE.replace(/^http/, "ws") + "/ws/chat/" + encodeURIComponent(KEY) + "/";
  var STORE = "opiekun-chat:" + KEY;
  var PING_EVERY = 25000, SILENCE = 60000, BACKOFF_MIN = 1000, BACKOFF_MAX = 30000;

  var T = {
    en: {
      open: "Open chat", close: "Close chat", title: "Chat", online: "We're online", away: "We're away right now",
      connecting: "Connecting…", reconnecting: "Connection lost. Reconnecting…", placeholder: "Write a message…",
      message: "Message", send: "Send", attach: "Attach a file", sending: "Sending…", sent: "Sent", read: "Read",
      failed: "Not sent", retry: "Try again", typing: "{name} is typing…", someone: "Someone", you: "You",
      menu: "More options", transcript: "E-mail me this chat", end: "End chat", prechatIntro: "Before we start, tell us who you are.",
      name: "Your name", email: "E-mail", phone: "Phone", start: "Start chat", required: "Please fill in this field.",
      badEmail: "Enter a valid e-mail address.", offlineIntro: "Nobody can answer right now. Leave a message and we will reply by e-mail.",
      leave: "Send message", offlineDone: "Thank you! We got your message and will answer by e-mail.",
      transcriptIntro: "We will send the whole conversation to this address.", transcriptSend: "Send", cancel: "Cancel",
      transcriptDone: "The conversation is on its way to {email}.", ended: "The chat has ended. Thank you!", newChat: "Start a new chat",
      tooLong: "The message is too long (at most {n} characters).", rateLimited: "You are sending messages very fast. Please wait a moment.",
      fileType: "Only JPG, PNG and PDF files can be attached.", fileSize: "The file is too large (at most {n} MB).",
      uploadFailed: "The file could not be sent.", unavailable: "The chat is not available on this page.", error: "Something went wrong. Please try again.",
      unread: "{n} new messages", newMessage: "New message", file: "File", poweredBy: "Opiekun", agentHere: "{name} is answering",
    },
    pl: {
      open: "Otwórz czat", close: "Zamknij czat", title: "Czat", online: "Jesteśmy dostępni", away: "Chwilowo nas nie ma",
      connecting: "Łączenie…", reconnecting: "Utracono połączenie. Łączymy ponownie…", placeholder: "Napisz wiadomość…",
      message: "Wiadomość", send: "Wyślij", attach: "Dołącz plik", sending: "Wysyłanie…", sent: "Wysłano", read: "Przeczytano",
      failed: "Nie wysłano", retry: "Spróbuj ponownie", typing: "{name} pisze…", someone: "Ktoś", you: "Ty",
      menu: "Więcej opcji", transcript: "Wyślij mi tę rozmowę e-mailem", end: "Zakończ czat", prechatIntro: "Zanim zaczniemy, przedstaw się, proszę.",
      name: "Imię i nazwisko", email: "E-mail", phone: "Telefon", start: "Rozpocznij czat", required: "Uzupełnij to pole.",
      badEmail: "Podaj poprawny adres e-mail.", offlineIntro: "Nikt nie może teraz odpowiedzieć. Zostaw wiadomość, a odpowiemy e-mailem.",
      leave: "Wyślij wiadomość", offlineDone: "Dziękujemy! Mamy Twoją wiadomość i odpowiemy e-mailem.",
      transcriptIntro: "Wyślemy całą rozmowę na ten adres.", transcriptSend: "Wyślij", cancel: "Anuluj",
      transcriptDone: "Rozmowa jest w drodze na adres {email}.", ended: "Czat zakończony. Dziękujemy!", newChat: "Rozpocznij nowy czat",
      tooLong: "Wiadomość jest za długa (najwyżej {n} znaków).", rateLimited: "Wysyłasz wiadomości bardzo szybko. Poczekaj chwilę.",
      fileType: "Można dołączać tylko pliki JPG, PNG i PDF.", fileSize: "Plik jest za duży (najwyżej {n} MB).",
      uploadFailed: "Nie udało się wysłać pliku.", unavailable: "Czat nie jest dostępny na tej stronie.", error: "Coś poszło nie tak. Spróbuj ponownie.",
      unread: "Nowe wiadomości: {n}", newMessage: "Nowa wiadomość", file: "Plik", poweredBy: "Opiekun", agentHere: "Odpowiada: {name}",
    },
    ru: {
      open: "Открыть чат", close: "Закрыть чат", title: "Чат", online: "Мы на связи", away: "Сейчас нас нет на месте",
      connecting: "Подключение…", reconnecting: "Связь потеряна. Переподключаемся…", placeholder: "Напишите сообщение…",
      message: "Сообщение", send: "Отправить", attach: "Прикрепить файл", sending: "Отправка…", sent: "Отправлено", read: "Прочитано",
      failed: "Не отправлено", retry: "Повторить", typing: "{name} печатает…", someone: "Кто-то", you: "Вы",
      menu: "Другие действия", transcript: "Прислать переписку на e-mail", end: "Завершить чат", prechatIntro: "Прежде чем начать, представьтесь, пожалуйста.",
      name: "Ваше имя", email: "E-mail", phone: "Телефон", start: "Начать чат", required: "Заполните это поле.",
      badEmail: "Введите правильный адрес e-mail.", offlineIntro: "Сейчас никто не может ответить. Оставьте сообщение, и мы ответим по e-mail.",
      leave: "Отправить сообщение", offlineDone: "Спасибо! Мы получили ваше сообщение и ответим по e-mail.",
      transcriptIntro: "Мы пришлём всю переписку на этот адрес.", transcriptSend: "Отправить", cancel: "Отмена",
      transcriptDone: "Переписка отправлена на {email}.", ended: "Чат завершён. Спасибо!", newChat: "Начать новый чат",
      tooLong: "Сообщение слишком длинное (не более {n} символов).", rateLimited: "Вы отправляете сообщения слишком быстро. Подождите немного.",
      fileType: "Можно прикрепить только файлы JPG, PNG и PDF.", fileSize: "Файл слишком большой (не более {n} МБ).",
      uploadFailed: "Не удалось отправить файл.", unavailable: "Чат недоступен на этой странице.", error: "Что-то пошло не так. Попробуйте ещё раз.",
      unread: "Новых сообщений: {n}", newMessage: "Новое сообщение", file: "Файл", poweredBy: "Opiekun", agentHere: "Отвечает: {name}",
    },
  };
  var LANG = (document.documentElement.lang || navigator.language || "en").slice(0, 2).toLowerCase();
  if (!T[LANG]) LANG = "en";
  function t(key, vars) {
    var s = T[LANG][key] || T.en[key] || key;
    for (var k in vars || {}) s = s.split("{" + k + "}").join(String(vars[k]));
    return s;
  }

  // --- state, kept in localStorage so a reload keeps the session and what is still unsent ---
  var state = load();
  function load() {
    try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (e) { return {}; }
  }
  function save() {
    try { localStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* private mode: memory only */ }
  }
  state.pending = Array.isArray(state.pending) ? state.pending : [];
  state.lastId = state.lastId || 0;

  var config = { online: true, colour: "#2f6f4f", position: "right", title: "", greeting: "", prechat: { enabled: false, fields: [], required: [] }, max_text: 4000, max_file_mb: 10 };
  var known = {}; // server id → <li>
  var byClient = {}; // client id → <li>
  var agentMax = 0, readByAgent = 0, readSent = 0, unread = 0;
  var shownMax = 0; // newest message id on this page: a reconnect asks only for what came after it
  var socket = null, welcomed = false, attempt = 0, reconnectTimer = null, pingTimer = null, lastHeard = 0;
  var stopped = false, afterWelcome = [], typingTimer = null, typingOn = false, typingLast = 0, agentTypingTimer = null;
  var identified = false, prechatDone = !!state.prechatDone;

  // --- DOM ---
  var host = document.createElement("div");
  host.setAttribute("data-opiekun-chat", "");
  var root = host.attachShadow({ mode: "open" });
  var CSS =
    ":host{all:initial}*{box-sizing:border-box}" +
    ".w{--c:#2f6f4f;--on:#fff;position:fixed;bottom:20px;right:20px;z-index:2147483000;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24}" +
    ".w.left{right:auto;left:20px}" +
    ".launcher{width:58px;height:58px;border-radius:50%;border:0;background:var(--c);color:var(--on);cursor:pointer;box-shadow:0 6px 20px rgba(0,0,0,.22);display:grid;place-items:center;position:relative;transition:transform .15s}" +
    ".launcher:hover{transform:scale(1.05)}.launcher:focus-visible,button:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}" +
    "textarea:focus-visible,input:focus-visible{outline:2px solid var(--c);outline-offset:1px;border-color:var(--c)}" +
    ".launcher svg{width:28px;height:28px}.badge{position:absolute;top:-2px;right:-2px;min-width:22px;height:22px;border-radius:11px;background:#d93025;color:#fff;font-size:12px;font-weight:700;display:grid;place-items:center;padding:0 6px;border:2px solid #fff}" +
    ".panel{position:absolute;bottom:72px;right:0;width:370px;height:min(600px,calc(100vh - 110px));background:#fff;border-radius:16px;box-shadow:0 12px 48px rgba(0,0,0,.22);display:flex;flex-direction:column;overflow:hidden}" +
    ".w.left .panel{right:auto;left:0}[hidden]{display:none!important}" +
    "header{background:var(--c);color:var(--on);padding:14px 12px 14px 18px;display:flex;align-items:center;gap:6px;position:relative}" +
    "h2{margin:0;font-size:17px;font-weight:650;line-height:1.25}.status{margin:2px 0 0;font-size:13px;opacity:.92;display:flex;align-items:center;gap:6px}" +
    ".dot{width:8px;height:8px;border-radius:50%;background:#7ee2a8;box-shadow:0 0 0 2px rgba(255,255,255,.35)}.away .dot{background:#f6c244}" +
    ".ht{flex:1;min-width:0}.hb{background:transparent;border:0;color:inherit;width:36px;height:36px;border-radius:8px;cursor:pointer;display:grid;place-items:center}.hb:hover{background:rgba(255,255,255,.16)}.hb svg{width:20px;height:20px}" +
    ".menu{position:absolute;top:54px;right:12px;background:#fff;color:#1b1f24;border-radius:10px;box-shadow:0 8px 28px rgba(0,0,0,.2);padding:6px;min-width:230px;z-index:2}" +
    ".menu button{display:block;width:100%;text-align:left;background:none;border:0;padding:10px 12px;border-radius:6px;font:inherit;cursor:pointer;color:inherit}.menu button:hover{background:#f1f3f4}" +
    ".banner{background:#fff4d6;color:#6b4e00;font-size:13px;padding:7px 14px;border-bottom:1px solid #f3e1a8}" +
    ".body{flex:1;display:flex;flex-direction:column;min-height:0;background:#f7f8fa}" +
    ".log{list-style:none;margin:0;padding:16px 14px 8px;overflow-y:auto;flex:1;display:flex;flex-direction:column;gap:10px}" +
    ".msg{display:flex;flex-direction:column;max-width:82%}.msg.v{align-self:flex-end;align-items:flex-end}.msg.a{align-self:flex-start}" +
    ".bubble{padding:9px 13px;border-radius:16px;white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;border:1px solid #e3e6ea}" +
    ".msg.a .bubble{border-bottom-left-radius:5px}.msg.v .bubble{background:var(--c);color:var(--on);border-color:transparent;border-bottom-right-radius:5px}" +
    ".msg.v .bubble a{color:inherit}.msg.greet .bubble{background:#fff}" +
    ".meta{font-size:11.5px;color:#69707a;margin:3px 4px 0;display:flex;gap:6px;align-items:center}.msg.failed .meta{color:#c5221f}" +
    ".meta button{font:inherit;color:#1a73e8;background:none;border:0;padding:0;cursor:pointer;text-decoration:underline}" +
    ".file{display:flex;align-items:center;gap:8px;text-decoration:none;color:inherit}.file img{max-width:220px;max-height:180px;border-radius:10px;display:block}" +
    ".typing{font-size:13px;color:#5f6368;padding:0 18px 6px;display:flex;align-items:center;gap:8px}" +
    ".dots{display:inline-flex;gap:3px}.dots i{width:6px;height:6px;border-radius:50%;background:#9aa0a6;animation:b 1.2s infinite}.dots i:nth-child(2){animation-delay:.2s}.dots i:nth-child(3){animation-delay:.4s}" +
    "@keyframes b{0%,80%,100%{opacity:.3;transform:translateY(0)}40%{opacity:1;transform:translateY(-3px)}}" +
    ".composer{display:flex;align-items:flex-end;gap:6px;padding:10px;border-top:1px solid #e3e6ea;background:#fff}" +
    "textarea{flex:1;resize:none;border:1px solid #d5d9de;border-radius:20px;padding:9px 14px;font:inherit;max-height:120px;min-height:40px;color:inherit;background:#fff}" +
    ".ib{width:40px;height:40px;border-radius:50%;border:0;background:transparent;color:#5f6368;cursor:pointer;display:grid;place-items:center;flex:none}.ib:hover{background:#f1f3f4}" +
    ".ib.send{background:var(--c);color:var(--on)}.ib.send:hover{filter:brightness(1.08);background:var(--c)}.ib svg{width:20px;height:20px}" +
    ".err{margin:0;padding:8px 14px;background:#fce8e6;color:#a50e0e;font-size:13px}" +
    "form.view{padding:20px 18px;display:flex;flex-direction:column;gap:12px;overflow-y:auto}.view p{margin:0}" +
    "label{display:flex;flex-direction:column;gap:4px;font-size:13px;font-weight:600;color:#3c4043}" +
    "input,.view textarea{font:inherit;font-weight:400;border:1px solid #d5d9de;border-radius:10px;padding:10px 12px;color:inherit;background:#fff}.view textarea{border-radius:10px;min-height:110px;max-height:none}" +
    ".fe{color:#c5221f;font-weight:500;font-size:12.5px}.hp{position:absolute;left:-9999px}" +
    ".primary{background:var(--c);color:var(--on);border:0;border-radius:10px;padding:11px 16px;font:inherit;font-weight:600;cursor:pointer}.secondary{background:none;border:0;color:#1a73e8;font:inherit;cursor:pointer;padding:6px}" +
    ".done{padding:28px 20px;text-align:center;display:flex;flex-direction:column;gap:14px;align-items:center}" +
    "footer{font-size:11px;color:#9aa0a6;text-align:center;padding:4px 0 6px;background:#fff}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    "@media (max-width:480px){.w{bottom:14px;right:14px}.w.left{left:14px}.w.open .panel{position:fixed;inset:0;width:auto;height:auto;border-radius:0}.w.open .launcher{display:none}}" +
    "@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}";
  var ICON = {
    chat: '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z" opacity=".95"/></svg>',
    close: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>',
    more: '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><circle cx="5" cy="12" r="2"/><circle cx="12" cy="12" r="2"/><circle cx="19" cy="12" r="2"/></svg>',
    send: '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M3 20.5l18-8.5L3 3.5v6.6l12 1.9-12 1.9z"/></svg>',
    clip: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" aria-hidden="true"><path d="M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9"/></svg>',
  };
  // The markup is ours and static; nothing from the network is ever put into it as HTML.
  root.innerHTML =
    "<style>" + CSS + "</style>" +
    '<div class="w" part="widget">' +
    '<section class="panel" id="p" role="dialog" aria-labelledby="ttl" hidden>' +
    '<header><div class="ht"><h2 id="ttl"></h2><p class="status"><span class="dot" aria-hidden="true"></span><span class="st"></span></p></div>' +
    '<button type="button" class="hb mb" aria-haspopup="true" aria-expanded="false">' + ICON.more + "</button>" +
    '<button type="button" class="hb cl">' + ICON.close + "</button>" +
    '<div class="menu" role="menu" hidden><button type="button" role="menuitem" data-act="transcript"></button><button type="button" role="menuitem" data-act="end"></button></div></header>' +
    '<div class="banner" role="status" hidden></div>' +
    '<div class="body">' +
    '<div class="chat" style="display:flex;flex-direction:column;flex:1;min-height:0">' +
    '<ol class="log" role="log" aria-live="polite"></ol>' +
    '<div class="typing" hidden><span class="dots" aria-hidden="true"><i></i><i></i><i></i></span><span class="tt"></span></div>' +
    '<p class="err" role="alert" hidden></p>' +
    '<form class="composer"><label class="sr" for="tx"></label><textarea id="tx" rows="1"></textarea>' +
    '<input type="file" class="fi" accept="image/jpeg,image/png,application/pdf" hidden tabindex="-1">' +
    '<button type="button" class="ib at">' + ICON.clip + '</button><button type="submit" class="ib send">' + ICON.send + "</button></form></div>" +
    '<form class="view pre" novalidate hidden></form>' +
    '<form class="view off" novalidate hidden></form>' +
    '<form class="view trn" novalidate hidden></form>' +
    '<div class="done" hidden><p class="dt" role="status"></p><button type="button" class="primary again"></button></div>' +
    "</div><footer></footer></section>" +
    '<button type="button" class="launcher" aria-controls="p" aria-expanded="false">' + ICON.chat + '<span class="badge" hidden></span></button>' +
    "</div>";
  var $ = function (sel) { return root.querySelector(sel); };
  var W = $(".w"), panel = $(".panel"), launcher = $(".launcher"), badge = $(".badge"), log = $(".log");
  var textarea = $("textarea"), errorBox = $(".err"), banner = $(".banner"), typingBox = $(".typing");
  var chatView = $(".chat"), preForm = $(".pre"), offForm = $(".off"), trnForm = $(".trn"), doneView = $(".done"), menu = $(".menu");

  function paintStatic() {
    launcher.setAttribute("aria-label", t("open"));
    $(".cl").setAttribute("aria-label", t("close"));
    $(".mb").setAttribute("aria-label", t("menu"));
    $('[data-act="transcript"]').textContent = t("transcript");
    $('[data-act="end"]').textContent = t("end");
    $("label[for=tx]").textContent = t("message");
    textarea.placeholder = t("placeholder");
    textarea.maxLength = config.max_text || 4000;
    $(".at").setAttribute("aria-label", t("attach"));
    $(".send").setAttribute("aria-label", t("send"));
    log.setAttribute("aria-label", t("title"));
    $("footer").textContent = t("poweredBy");
    $(".again").textContent = t("newChat");
    $("#ttl").textContent = config.title || t("title");
    W.style.setProperty("--c", /^#[0-9a-f]{6}$/i.test(config.colour) ? config.colour : "#2f6f4f");
    W.style.setProperty("--on", onColour(config.colour));
    W.classList.toggle("left", config.position === "left");
    paintStatus();
  }
  function onColour(hex) {
    if (!/^#[0-9a-f]{6}$/i.test(hex)) return "#fff";
    var n = parseInt(hex.slice(1), 16), r = (n >> 16) / 255, g = ((n >> 8) & 255) / 255, b = (n & 255) / 255;
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.6 ? "#fff" : "#1b1f24";
  }
  var agentName = "";
  function paintStatus() {
    $(".status").classList.toggle("away", !config.online && !agentName);
    $(".st").textContent = agentName ? t("agentHere", { name: agentName }) : config.online ? t("online") : t("away");
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  // Text with its web links clickable: built from text nodes and <a> elements, never from HTML.
  function richText(node, text) {
    var re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g, at = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > at) node.appendChild(document.createTextNode(text.slice(at, m.index)));
      var a = el("a", "", m[0]);
      a.href = m[0];
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      node.appendChild(a);
      at = m.index + m[0].length;
    }
    if (at < text.length) node.appendChild(document.createTextNode(text.slice(at)));
  }
  function clock(iso) {
    var d = iso ? new Date(iso) : new Date();
    return isNaN(d) ? "" : d.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" });
  }
  function nearBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }
  function scrollDown(force) { if (force || nearBottom()) log.scrollTop = log.scrollHeight; }

  function bubble(from, text, files, iso, author) {
    var stick = nearBottom();
    var li = el("li", "msg " + (from === "visitor" ? "v" : "a"));
    var b = el("div", "bubble");
    if (text) richText(b, text);
    (files || []).forEach(function (f) {
      var a = el("a", "file");
      a.href = new URL(f.url, BASE).href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      if (/^image\//.test(f.type)) {
        var img = el("img");
        img.src = a.href;
        img.alt = f.name;
        a.appendChild(img);
      } else {
        a.textContent = "📄 " + f.name;
      }
      if (text) b.appendChild(document.createElement("br"));
      b.appendChild(a);
    });
    li.appendChild(b);
    var meta = el("div", "meta");
    var who = from === "visitor" ? t("you") : author || config.title || t("someone");
    meta.appendChild(el("span", "who", who));
    meta.appendChild(el("time", "", clock(iso)));
    if (from === "visitor") meta.appendChild(el("span", "state"));
    li.appendChild(meta);
    log.appendChild(li);
    scrollDown(stick || from === "visitor");
    return li;
  }
  function setState(li, key, retry) {
    var s = li && li.querySelector(".state");
    if (!s) return;
    s.textContent = t(key);
    li.classList.toggle("failed", key === "failed");
    if (retry) {
      var b = el("button", "", t("retry"));
      b.type = "button";
      b.addEventListener("click", retry);
      s.appendChild(document.createTextNode(" · "));
      s.appendChild(b);
    }
  }
  function paintRead() {
    for (var id in known) {
      var li = known[id];
      if (li.classList.contains("v") && !li.classList.contains("failed")) setState(li, +id <= readByAgent ? "read" : "sent");
    }
  }

  function showMessage(m) {
    if (!m || typeof m.id !== "number" || known[m.id]) return;
    var li = m.client_id && byClient[m.client_id];
    if (li) {
      delete byClient[m.client_id];
      dropPending(m.client_id);
    } else {
      li = bubble(m.from, m.text, m.files, m.at, m.author);
    }
    li.dataset.id = m.id;
    known[m.id] = li;
    if (m.from === "visitor") setState(li, m.id <= readByAgent ? "read" : "sent");
    if (m.id > state.lastId) { state.lastId = m.id; save(); }
    shownMax = Math.max(shownMax, m.id);
    if (m.from === "agent" && m.id > agentMax) {
      agentMax = m.id;
      if (m.author && !agentName) { agentName = m.author; paintStatus(); } // whoever answers is the agent
      send({ type: "delivered", up_to: m.id });
      if (!isOpen() || document.visibilityState !== "visible") {
        unread += 1;
        paintBadge();
      }
      hideAgentTyping();
    }
    markRead();
  }
  function paintBadge() {
    badge.hidden = !unread;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    launcher.setAttribute("aria-label", unread ? t("open") + " — " + t("unread", { n: unread }) : t("open"));
  }
  function markRead() {
    if (isOpen() && document.visibilityState === "visible" && agentMax > readSent && welcomed) {
      readSent = agentMax;
      send({ type: "read", up_to: agentMax });
    }
    if (isOpen()) { unread = 0; paintBadge(); }
  }

  // --- pending messages (sent, not yet acknowledged) ---
  function newId() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  function dropPending(cid) {
    state.pending = state.pending.filter(function (p) { return p.client_id !== cid; });
    save();
  }
  function queueText(text) {
    var p = { client_id: newId(), text: text, at: new Date().toISOString() };
    state.pending.push(p);
    save();
    var li = bubble("visitor", text, [], p.at);
    byClient[p.client_id] = li;
    setState(li, "sending");
    if (welcomed) send({ type: "message", client_id: p.client_id, text: text });
    else ensureSocket();
  }
  function resendPending() {
    state.pending.forEach(function (p) {
      if (!byClient[p.client_id]) {
        byClient[p.client_id] = bubble("visitor", p.text, [], p.at);
        setState(byClient[p.client_id], "sending");
      }
      send({ type: "message", client_id: p.client_id, text: p.text });
    });
  }

  // --- the socket ---
  function send(frame) {
    if (socket && socket.readyState === 1 && (welcomed || frame.type === "hello")) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }
  function whenWelcomed(fn) {
    if (welcomed) fn();
    else { afterWelcome.push(fn); ensureSocket(); }
  }
  function ensureSocket() {
    if (stopped || (socket && socket.readyState <= 1)) return;
    connect();
  }
  function identity() {
    var cfg = window.OpiekunChat || {};
    if (cfg.identity) return cfg.identity;
    try { return JSON.parse(script.getAttribute("data-identity") || "null"); } catch (e) { return null; }
  }
  function connect() {
    clearTimeout(reconnectTimer);
    welcomed = false;
    var ws;
    try { ws = new WebSocket(WS); } catch (e) { return retryLater(); }
    socket = ws;
    var slow = setTimeout(function () { if (socket === ws && !welcomed) showBanner(attempt ? t("reconnecting") : t("connecting")); }, 1500);
    ws.onopen = function () {
      lastHeard = Date.now();
      ws.send(JSON.stringify({ type: "hello", session: state.session || null, identity: identity(), lang: LANG, last_id: shownMax, page: { url: location.href, title: document.title } }));
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (ws.readyState !== 1) return;
        if (Date.now() - lastHeard > SILENCE) ws.close();
        else ws.send('{"type":"ping"}');
      }, PING_EVERY);
    };
    ws.onmessage = function (event) {
      lastHeard = Date.now();
      var f;
      try { f = JSON.parse(event.data); } catch (e) { return; }
      if (f && typeof f.type === "string") onFrame(f);
    };
    ws.onclose = function (event) {
      clearTimeout(slow);
      if (socket !== ws) return;
      socket = null;
      welcomed = false;
      clearInterval(pingTimer);
      hideAgentTyping();
      if (event.code === 4403 || event.code === 4404) {
        stopped = true;
        showBanner(t("unavailable"));
        return;
      }
      if (stopped) return;
      showBanner(t("reconnecting"));
      if (event.code === 1008) attempt = Math.max(attempt, 4); // we flooded it: wait longer
      retryLater();
    };
  }
  function retryLater() {
    var ceiling = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, attempt));
    attempt += 1;
    reconnectTimer = setTimeout(connect, ceiling / 2 + Math.random() * (ceiling / 2));
  }
  function showBanner(text) { banner.textContent = text; banner.hidden = !text; }

  function onFrame(f) {
    switch (f.type) {
      case "welcome":
        welcomed = true;
        attempt = 0;
        showBanner("");
        state.session = f.session;
        identified = !!f.identified;
        if (f.prechat_done) { prechatDone = true; state.prechatDone = true; }
        if (f.visitor && f.visitor.email) state.email = f.visitor.email;
        save();
        config.online = !!f.online;
        agentName = typeof f.agent === "string" ? f.agent : "";
        paintStatus();
        readByAgent = Math.max(readByAgent, f.agent_read_up_to || 0);
        (f.messages || []).forEach(showMessage);
        paintRead();
        resendPending();
        var queued = afterWelcome;
        afterWelcome = [];
        queued.forEach(function (fn) { fn(); });
        // Never rebuild a form the visitor is filling in, or the transcript/thanks screens.
        if (isOpen() && current !== trnForm && current !== doneView) chooseView();
        markRead();
        break;
      case "ack":
        var li = byClient[f.client_id];
        dropPending(f.client_id);
        if (li && !known[f.id]) {
          delete byClient[f.client_id];
          li.dataset.id = f.id;
          known[f.id] = li;
          setState(li, f.id <= readByAgent ? "read" : "sent");
        } else if (li) {
          li.remove(); // another tab showed it already
          delete byClient[f.client_id];
        }
        if (f.id > state.lastId) { state.lastId = f.id; save(); }
        shownMax = Math.max(shownMax, f.id);
        break;
      case "message":
        showMessage(f);
        break;
      case "typing":
        if (f.on) showAgentTyping(f.name);
        else hideAgentTyping();
        break;
      case "read":
        readByAgent = Math.max(readByAgent, f.up_to || 0);
        paintRead();
        break;
      case "agent":
        agentName = typeof f.name === "string" ? f.name : "";
        paintStatus();
        break;
      case "online":
        // Pushed when agents come or go: the header follows at once; the open panel changes between
        // the chat and the "leave a message" form only while the visitor is not filling in a form.
        config.online = !!f.online;
        paintStatus();
        if (isOpen() && !(current && current.dataset.touched) && current !== trnForm && current !== doneView) chooseView();
        break;
      case "prechat_ok":
        prechatDone = true;
        state.prechatDone = true;
        save();
        chooseView();
        break;
      case "transcript_ok":
        showDone(t("transcriptDone", { email: f.email || "" }), false);
        break;
      case "ended":
        state = { pending: [], lastId: 0 };
        save();
        stopped = true;
        if (socket) socket.close(1000);
        showDone(t("ended"), true);
        break;
      case "error":
        onError(f);
        break;
      default: // pong
    }
  }
  function onError(f) {
    var li = f.client_id && byClient[f.client_id];
    if (f.code === "too_long" || f.code === "invalid" || f.code === "bad_client_id") {
      if (li) {
        var text = (state.pending.filter(function (p) { return p.client_id === f.client_id; })[0] || {}).text;
        dropPending(f.client_id);
        delete byClient[f.client_id];
        setState(li, "failed", text ? function () { li.remove(); queueText(text); } : null);
      }
      if (f.field && !preForm.hidden) return fieldError(preForm, f.field, f.message || t("error"));
      if (f.field === "email" && !trnForm.hidden) return fieldError(trnForm, "email", f.message || t("badEmail"));
      showError(f.code === "too_long" ? t("tooLong", { n: f.limit || config.max_text }) : f.message || t("error"));
    } else if (f.code === "rate_limited") {
      showError(t("rateLimited"));
      if (li) setTimeout(function () { if (byClient[f.client_id]) resendPending(); }, Math.min(60, f.retry_after || 5) * 1000);
    } else if (f.code !== "already_started") {
      showError(t("error"));
    }
  }
  var errorTimer = null;
  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(function () { errorBox.hidden = true; }, 8000);
  }
  function showAgentTyping(name) {
    $(".tt").textContent = t("typing", { name: name || config.title || t("someone") });
    typingBox.hidden = false;
    scrollDown();
    clearTimeout(agentTypingTimer);
    agentTypingTimer = setTimeout(hideAgentTyping, 6000);
  }
  function hideAgentTyping() { typingBox.hidden = true; clearTimeout(agentTypingTimer); }

  // --- views ---
  function isOpen() { return !panel.hidden; }
  function hasChat() { return state.lastId > 0 || state.pending.length > 0; }
  function needPrechat() { return config.prechat.enabled && !prechatDone && !identified && !hasChat(); }
  var current = null;
  function only(view) {
    current = view;
    [chatView, preForm, offForm, trnForm, doneView].forEach(function (v) { v.hidden = v !== view; });
    $(".mb").hidden = view !== chatView || !hasChat();
  }
  function chooseView() {
    if (current === doneView && stopped) return;
    if (!config.online && !hasChat()) return current === offForm ? null : buildOffline();
    if (needPrechat()) return current === preForm ? null : buildPrechat();
    only(chatView);
    if (!log.querySelector(".greet") && config.greeting) {
      var g = bubble("agent", config.greeting, [], null, config.title);
      g.classList.add("greet");
      g.querySelector("time").remove();
      log.insertBefore(g, log.firstChild);
    }
    if (isOpen()) textarea.focus();
  }
  function field(form, name, label, type, value, required) {
    var l = el("label");
    l.appendChild(document.createTextNode(label + (required ? " *" : "")));
    var input = type === "textarea" ? el("textarea") : el("input");
    if (type !== "textarea") input.type = type;
    input.name = name;
    input.value = value || "";
    if (required) input.required = true;
    if (type === "email") input.autocomplete = "email";
    if (name === "name") input.autocomplete = "name";
    var e = el("span", "fe");
    e.id = form.className.split(" ")[1] + "-" + name + "-e";
    e.setAttribute("aria-live", "polite");
    input.setAttribute("aria-describedby", e.id);
    l.appendChild(input);
    l.appendChild(e);
    form.appendChild(l);
    return input;
  }
  [preForm, offForm, trnForm].forEach(function (form) {
    form.addEventListener("input", function (e) {
      form.dataset.touched = "1"; // the visitor is filling it in: never rebuilt or replaced under them
      var input = e.target;
      if (!input || !input.getAttribute || input.getAttribute("aria-invalid") !== "true") return;
      input.removeAttribute("aria-invalid");
      var fe = input.parentNode.querySelector(".fe");
      if (fe) fe.textContent = "";
    });
  });
  function fieldError(form, name, message) {
    var input = form.querySelector('[name="' + name + '"]');
    if (!input) return showError(message);
    input.setAttribute("aria-invalid", "true");
    input.parentNode.querySelector(".fe").textContent = message;
    input.focus();
  }
  function checkFields(form) {
    var ok = true;
    form.querySelectorAll("input:not(.hp),textarea").forEach(function (input) {
      input.removeAttribute("aria-invalid");
      input.parentNode.querySelector(".fe").textContent = "";
      var v = input.value.trim();
      var bad = input.required && !v ? t("required") : input.type === "email" && v && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) ? t("badEmail") : "";
      if (bad && ok) { fieldError(form, input.name, bad); ok = false; } else if (bad) {
        input.setAttribute("aria-invalid", "true");
        input.parentNode.querySelector(".fe").textContent = bad;
      }
    });
    return ok;
  }
  function values(form) {
    var out = {};
    form.querySelectorAll("input,textarea").forEach(function (i) { out[i.name] = i.value.trim(); });
    return out;
  }
  function buildPrechat() {
    preForm.textContent = "";
    preForm.dataset.touched = "";
    preForm.appendChild(el("p", "", config.greeting || t("prechatIntro")));
    if (config.greeting) preForm.appendChild(el("p", "", t("prechatIntro")));
    var first = null;
    (config.prechat.fields || []).forEach(function (name) {
      var input = field(preForm, name, t(name), name === "email" ? "email" : name === "phone" ? "tel" : "text", name === "email" ? state.email : "", config.prechat.required.indexOf(name) >= 0);
      first = first || input;
    });
    var go = el("button", "primary", t("start"));
    go.type = "submit";
    preForm.appendChild(go);
    only(preForm);
    if (first) first.focus();
  }
  preForm.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!checkFields(preForm)) return;
    var v = values(preForm);
    if (v.email) state.email = v.email;
    whenWelcomed(function () { send({ type: "prechat", name: v.name || "", email: v.email || "", phone: v.phone || "" }); });
  });
  function buildOffline() {
    offForm.textContent = "";
    offForm.dataset.touched = "";
    offForm.appendChild(el("p", "", t("offlineIntro")));
    var who = identity() || {}; // the shop's signed-in customer: no need to type who they are
    var first = field(offForm, "name", t("name"), "text", typeof who.name === "string" ? who.name : "", false);
    field(offForm, "email", t("email"), "email", state.email || (typeof who.email === "string" ? who.email : ""), true);
    field(offForm, "message", t("message"), "textarea", "", true);
    var hp = el("input", "hp");
    hp.name = "website";
    hp.tabIndex = -1;
    hp.setAttribute("aria-hidden", "true");
    hp.autocomplete = "off";
    offForm.appendChild(hp);
    var go = el("button", "primary", t("leave"));
    go.type = "submit";
    offForm.appendChild(go);
    only(offForm);
    (first.value ? offForm.querySelector("textarea") : first).focus();
  }
  offForm.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!checkFields(offForm)) return;
    var v = values(offForm), body = new FormData();
    ["name", "email", "message", "website"].forEach(function (k) { body.append(k, v[k] || ""); });
    body.append("page", location.href);
    body.append("lang", LANG);
    var button = offForm.querySelector(".primary");
    button.disabled = true;
    fetch(BASE + "/chat/" + encodeURIComponent(KEY) + "/offline/", { method: "POST", body: body, mode: "cors", credentials: "omit" })
      .then(function (r) { return r.json().catch(function () { return { ok: false }; }); })
      .then(function (data) {
        button.disabled = false;
        if (data.ok) {
          state.email = v.email;
          save();
          showDone(t("offlineDone"), false);
        } else if (data.field) fieldError(offForm, data.field === "text" ? "message" : data.field, data.message || t("error"));
        else showError(data.code === "rate_limited" ? t("rateLimited") : data.message || t("error"));
      })
      .catch(function () { button.disabled = false; showError(t("error")); });
  });
  function buildTranscript() {
    trnForm.textContent = "";
    trnForm.dataset.touched = "";
    trnForm.appendChild(el("p", "", t("transcriptIntro")));
    var input = field(trnForm, "email", t("email"), "email", state.email, true);
    var go = el("button", "primary", t("transcriptSend"));
    go.type = "submit";
    var back = el("button", "secondary", t("cancel"));
    back.type = "button";
    back.addEventListener("click", function () { current = null; chooseView(); });
    trnForm.appendChild(go);
    trnForm.appendChild(back);
    only(trnForm);
    input.focus();
  }
  trnForm.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!checkFields(trnForm)) return;
    var email = values(trnForm).email;
    state.email = email;
    save();
    whenWelcomed(function () { send({ type: "transcript", email: email }); });
  });
  function showDone(text, fresh) {
    $(".dt").textContent = text;
    $(".again").hidden = !fresh;
    var back = doneView.querySelector(".secondary");
    if (!fresh && !back && hasChat()) {
      back = el("button", "secondary", t("title"));
      back.type = "button";
      back.addEventListener("click", function () { back.remove(); current = null; chooseView(); });
      doneView.appendChild(back);
    }
    only(doneView);
    $(".dt").focus && $(".dt").setAttribute("tabindex", "-1");
    $(".dt").focus();
  }
  $(".again").addEventListener("click", function () {
    stopped = false;
    log.textContent = "";
    known = {};
    byClient = {};
    agentMax = readByAgent = readSent = shownMax = 0;
    prechatDone = false;
    current = null;
    connect();
    chooseView();
  });

  // --- opening, closing, composing ---
  function open() {
    panel.hidden = false;
    W.classList.add("open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.innerHTML = ICON.close + '<span class="badge" hidden></span>';
    badge = $(".badge");
    state.open = true;
    save();
    // Agents come and go: whether someone is there is asked again when the chat opens after a while.
    if (configAt && Date.now() - configAt > 20000) loadConfig();
    ensureSocket();
    chooseView();
    markRead();
  }
  function close() {
    panel.hidden = true;
    W.classList.remove("open");
    menu.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.innerHTML = ICON.chat + '<span class="badge" hidden></span>';
    badge = $(".badge");
    paintBadge();
    state.open = false;
    save();
    sendTyping(false);
    launcher.focus();
  }
  launcher.addEventListener("click", function () { if (isOpen()) close(); else open(); });
  $(".cl").addEventListener("click", close);
  root.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    if (!menu.hidden) { menu.hidden = true; $(".mb").setAttribute("aria-expanded", "false"); $(".mb").focus(); } else if (isOpen()) close();
  });
  $(".mb").addEventListener("click", function () {
    menu.hidden = !menu.hidden;
    $(".mb").setAttribute("aria-expanded", String(!menu.hidden));
    if (!menu.hidden) menu.querySelector("button").focus();
  });
  menu.addEventListener("click", function (e) {
    var act = e.target.getAttribute && e.target.getAttribute("data-act");
    menu.hidden = true;
    $(".mb").setAttribute("aria-expanded", "false");
    if (act === "transcript") buildTranscript();
    if (act === "end") whenWelcomed(function () { send({ type: "end" }); });
  });

  function sendTyping(on) {
    if (on === typingOn && (!on || Date.now() - typingLast < 2500)) return;
    typingOn = on;
    typingLast = Date.now();
    send({ type: "typing", on: on });
  }
  textarea.addEventListener("input", function () {
    textarea.style.height = "auto";
    textarea.style.height = Math.min(120, textarea.scrollHeight) + "px";
    var has = !!textarea.value.trim();
    sendTyping(has);
    clearTimeout(typingTimer);
    if (has) typingTimer = setTimeout(function () { sendTyping(false); }, 4000);
  });
  textarea.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $(".composer").requestSubmit ? $(".composer").requestSubmit() : submitText();
    }
  });
  function submitText() {
    var text = textarea.value.trim();
    if (!text) return;
    if (text.length > (config.max_text || 4000)) return showError(t("tooLong", { n: config.max_text }));
    textarea.value = "";
    textarea.style.height = "auto";
    clearTimeout(typingTimer);
    sendTyping(false);
    errorBox.hidden = true;
    queueText(text);
    $(".mb").hidden = false;
  }
  $(".composer").addEventListener("submit", function (e) { e.preventDefault(); submitText(); textarea.focus(); });

  var fileInput = $(".fi");
  $(".at").addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    if (["image/jpeg", "image/png", "application/pdf"].indexOf(file.type) < 0) return showError(t("fileType"));
    if (file.size > (config.max_file_mb || 10) * 1048576) return showError(t("fileSize", { n: config.max_file_mb || 10 }));
    upload(file);
  });
  function upload(file) {
    var cid = newId();
    var li = bubble("visitor", "📎 " + file.name, [], null);
    setState(li, "sending");
    whenWelcomed(function () {
      var body = new FormData();
      body.append("session", state.session || "");
      body.append("client_id", cid);
      body.append("file", file, file.name);
      fetch(BASE + "/chat/" + encodeURIComponent(KEY) + "/upload/", { method: "POST", body: body, mode: "cors", credentials: "omit" })
        .then(function (r) { return r.json().catch(function () { return { ok: false }; }); })
        .then(function (data) {
          if (!data.ok || !data.message) {
            setState(li, "failed", function () { li.remove(); upload(file); });
            return showError(data.message || t("uploadFailed"));
          }
          li.remove();
          showMessage(data.message);
        })
        .catch(function () {
          setState(li, "failed", function () { li.remove(); upload(file); });
          showError(t("uploadFailed"));
        });
    });
  }

  // --- the page around us ---
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { markRead(); if (!socket && hasChat() && !stopped) { attempt = 0; connect(); } }
  });
  window.addEventListener("online", function () { if (!socket && !stopped) { attempt = 0; connect(); } });
  window.addEventListener("pagehide", function () { if (socket) { var s = socket; socket = null; s.close(1000); } });
  var lastUrl = location.href;
  setInterval(function () {
    // Single-page shops change the address without loading a page: tell the agent where the visitor is.
    if (location.href !== lastUrl) { lastUrl = location.href; send({ type: "page", url: location.href, title: document.title }); }
  }, 2000);

  window.OpiekunChat = Object.assign(window.OpiekunChat || {}, { open: open, close: close });

  var configAt = 0;
  function loadConfig() {
    configAt = Date.now();
    return fetch(BASE + "/chat/" + encodeURIComponent(KEY) + "/config.json?lang=" + LANG, { mode: "cors", credentials: "omit" })
      .then(function (r) {
        if (r.status === 403 || r.status === 404) {
          // Not allowed on this page (or no such widget): show nothing rather than a broken chat.
          stopped = true;
          if (socket) socket.close(1000);
          host.remove();
        }
        return r.ok ? r.json() : Promise.reject(r.status);
      })
      .then(function (data) {
        for (var k in data) config[k] = data[k];
        paintStatic();
        if (isOpen() && !(current && current.dataset.touched) && current !== trnForm && current !== doneView) {
          if (current !== chatView) current = null; // an untouched form may give way (someone came back)
          chooseView();
        }
      })
      .catch(function () { /* the socket's welcome still tells us what we need */ });
  }

  function start() {
    document.body.appendChild(host);
    paintStatic();
    loadConfig();
    // A visitor with a chat going reconnects at once (replies reach them on any page); others on open.
    if (state.session && hasChat()) connect();
    if (state.open) open();
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
