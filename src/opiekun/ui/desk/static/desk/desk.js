/* Opiekun desk: keyboard shortcuts, list selection, composer niceties. Works on top of htmx; the
   pages also work without it (plain links and forms). The websocket live script is desk/live.js. */
(function () {
  "use strict";

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // --- CSRF on every htmx request (inheritance is off, so hx-headers on <body> would not reach) ---
  document.addEventListener("htmx:configRequest", (event) => {
    const meta = $('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRFToken"] = meta.content;
  });

  // --- list: the open conversation is highlighted, j/k move a selection ---
  function openNumber() {
    const thread = $("#thread");
    return thread ? thread.dataset.number : "";
  }

  function items() {
    return $$("#conversation-list .conv-item");
  }

  let selected = null; // number of the selected row (survives list refreshes)

  function markRows() {
    const open = openNumber();
    for (const el of items()) {
      el.classList.toggle("is-active", el.dataset.number === open);
      el.classList.toggle("is-selected", selected !== null && el.dataset.number === selected);
      if (el.dataset.number === open) el.setAttribute("aria-current", "true");
      else el.removeAttribute("aria-current");
    }
  }

  function move(step) {
    const rows = items();
    if (!rows.length) return;
    let index = rows.findIndex((el) => el.dataset.number === (selected ?? openNumber()));
    index = index < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, index + step));
    selected = rows[index].dataset.number;
    markRows();
    rows[index].scrollIntoView({ block: "nearest" });
  }

  function openSelected() {
    const rows = items();
    const row = rows.find((el) => el.dataset.number === selected) || rows.find((el) => el.classList.contains("is-active"));
    if (row) row.click();
  }

  // --- thread: keep the newest message in view ---
  function scrollThread(force) {
    const thread = $("#thread");
    if (!thread) return;
    const nearBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 160;
    if (force || nearBottom) thread.scrollTop = thread.scrollHeight;
  }

  // --- composer ---
  function composer() {
    return $("#compose-form");
  }

  function setMode(mode) {
    const form = composer();
    if (!form) return false;
    const radio = form.querySelector(`input[name=mode][value=${mode}]`);
    if (radio) {
      radio.checked = true;
      syncMode(form);
    }
    const text = form.querySelector("textarea[name=text]");
    if (text) {
      text.focus();
      text.setSelectionRange(text.value.length, text.value.length);
    }
    return true;
  }

  function syncMode(form) {
    const checked = form.querySelector("input[name=mode]:checked");
    const mode = checked ? checked.value : "reply";
    form.classList.remove("mode-reply", "mode-note", "mode-log");
    form.classList.add(`mode-${mode}`);
    const text = form.querySelector("textarea[name=text]");
    const placeholder = text && text.dataset[`placeholder${mode[0].toUpperCase()}${mode.slice(1)}`];
    if (placeholder) text.placeholder = placeholder;
  }

  function syncFiles(input) {
    const label = input.closest(".attach");
    if (!label) return;
    const span = label.querySelector(".attach-label");
    const n = input.files ? input.files.length : 0;
    label.classList.toggle("has-files", n > 0);
    if (span) span.textContent = n === 0 ? span.dataset.empty : n === 1 ? input.files[0].name : `${n} ×`;
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("#compose-form input[name=mode]")) syncMode(target.form);
    if (target.matches(".attach input[type=file]")) syncFiles(target);
  });

  // Plain (non-htmx) forms that ask before doing something irreversible.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // --- overlay ---
  function overlay() {
    return $("#shortcuts");
  }

  function toggleOverlay(show) {
    const el = overlay();
    if (!el) return;
    el.hidden = show === undefined ? !el.hidden : !show;
    if (!el.hidden) el.querySelector("button")?.focus();
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-action]");
    if (target && target.dataset.action === "shortcuts") toggleOverlay(true);
    if (target && target.dataset.action === "close-overlay") toggleOverlay(false);
    if (event.target === overlay()) toggleOverlay(false);
  });

  // --- keyboard shortcuts ---
  function typing(el) {
    if (!el || el === document.body) return false;
    return el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
  }

  function click(selector) {
    const el = $(selector);
    if (!el) return false;
    // Content swapped in a moment ago may not be wired up by htmx yet; without this the click would
    // fall back to a plain form post (it works, but reloads the page).
    const form = el.closest("form");
    if (form && window.htmx) window.htmx.process(form);
    el.click();
    return true;
  }

  let pendingG = 0;

  document.addEventListener("keydown", (event) => {
    const el = event.target;
    // Ctrl/Cmd+Enter sends the form of the field being typed in.
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && el.matches && el.matches("textarea, input")) {
      const form = el.form;
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (event.key === "Escape") {
      const ov = overlay();
      if (ov && !ov.hidden) {
        toggleOverlay(false);
        event.preventDefault();
      } else if (typing(el)) {
        el.blur();
      } else {
        selected = null;
        markRows();
      }
      return;
    }
    if (typing(el) || event.ctrlKey || event.metaKey || event.altKey) return;
    const ov = overlay();
    if (ov && !ov.hidden && event.key !== "?") return;

    const key = event.key;
    if (pendingG && Date.now() - pendingG < 1500) {
      pendingG = 0;
      if (key === "i") {
        event.preventDefault();
        window.location.href = $("#desk")?.dataset.inboxUrl || "/";
        return;
      }
    }
    let handled = true;
    switch (key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter":
      case "o":
        if (selected === null && !items().some((r) => r.classList.contains("is-active"))) handled = false;
        else openSelected();
        break;
      case "r": handled = setMode("reply"); break;
      case "n": handled = setMode("note"); break;
      case "l": handled = setMode("log"); break;
      case "a": handled = click('[data-shortcut="assign-me"]'); break;
      case "e": handled = click('[data-shortcut="resolve"]'); break;
      case "s":
      case "/": {
        const q = $("#q");
        if (q) {
          q.focus();
          q.select();
        } else handled = false;
        break;
      }
      case "g": pendingG = Date.now(); break;
      case "?": toggleOverlay(); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });

  // --- live refreshes never wipe what the agent is typing in the side panel (tags, order number) ---
  document.addEventListener("htmx:beforeRequest", (event) => {
    const elt = event.detail.elt;
    // An action from the side panel: its own answer must land, so leave the field first.
    if (elt && elt.closest && elt.closest("#case-side") && document.activeElement && elt.contains(document.activeElement)) {
      document.activeElement.blur();
    }
  });
  document.addEventListener("htmx:oobBeforeSwap", (event) => {
    const target = event.detail.target;
    if (target && target.id === "case-side" && target.contains(document.activeElement) && typing(document.activeElement)) {
      event.detail.shouldSwap = false;
    }
  });

  // --- after htmx swaps ---
  document.addEventListener("htmx:afterSettle", (event) => {
    const target = event.detail.target;
    if (!target) return;
    if (target.id === "pane") {
      selected = null;
      scrollThread(true);
      const form = composer();
      if (form) syncMode(form);
      const thread = $("#thread");
      document.title = thread ? `#${thread.dataset.number} · Opiekun` : document.title;
    }
    if (target.id === "thread") scrollThread(true);
    if (target.id === "composer") {
      const form = composer();
      if (form) {
        syncMode(form);
        const text = form.querySelector("textarea[name=text]");
        if (text && (form.querySelector(".field-error") || form.querySelector(".macro-used"))) text.focus();
      }
    }
    markRows();
  });

  // A new list element replaces the old one (outerHTML): keep the highlight.
  document.addEventListener("htmx:load", () => markRows());

  // --- toasts fade out by themselves ---
  function ageToasts() {
    for (const toast of $$("#toasts .toast:not([data-aging])")) {
      toast.dataset.aging = "1";
      setTimeout(() => toast.classList.add("is-leaving"), 3800);
      setTimeout(() => toast.remove(), 4200);
    }
  }
  document.addEventListener("DOMContentLoaded", () => {
    const toasts = $("#toasts");
    if (toasts) new MutationObserver(ageToasts).observe(toasts, { childList: true });
    markRows();
    scrollThread(true);
    const form = composer();
    if (form) syncMode(form);
    ageToasts();
  });
})();

// Enter and Space on a focused button or <summary> (e.g. "Show quoted text") do what the control does;
// the list shortcuts (Enter opens the selected row) must not take them over. Capturing on the document
// runs before the shortcut handler; the control's own default action still happens.
document.addEventListener(
  "keydown",
  (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const el = event.target;
    if (el && el.matches && el.matches("summary, button")) event.stopPropagation();
  },
  true,
);

// The formatted e-mail's frame takes the height of its document (same origin, no scripts inside it),
// up to a limit past which it scrolls.
document.addEventListener(
  "toggle",
  (event) => {
    const details = event.target;
    if (!details.matches || !details.matches("details.msg-html") || !details.open) return;
    const frame = details.querySelector("iframe");
    const fit = () => {
      const body = frame.contentDocument && frame.contentDocument.body;
      if (body) frame.style.height = Math.min(Math.max(body.scrollHeight + 8, 80), 900) + "px";
    };
    fit();
    frame.addEventListener("load", fit, { once: true });
  },
  true,
);
