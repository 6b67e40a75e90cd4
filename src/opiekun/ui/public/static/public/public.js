/* Opiekun public pages: file picking with drag and drop, error focus, double-send guard,
   and (inside the shop's iframe) telling the embedding page our height. No dependencies. */
(function () {
  "use strict";

  var KINDS = { "jpg": 1, "jpeg": 1, "png": 1, "pdf": 1 };

  function formatSize(bytes) {
    if (bytes >= 1024 * 1024) { return (bytes / (1024 * 1024)).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function setupDropzone(zone) {
    var input = zone.querySelector("input[type=file]");
    var target = zone.querySelector("[data-drop-target]");
    var list = zone.querySelector("[data-file-list]");
    var problem = zone.querySelector("[data-file-problem]");
    if (!input || !list || !target) { return; }
    var maxFiles = parseInt(zone.getAttribute("data-max-files"), 10) || 5;
    var maxBytes = parseInt(zone.getAttribute("data-max-bytes"), 10) || 10485760;
    var canAssign = typeof DataTransfer === "function";

    function render() {
      list.textContent = "";
      var files = Array.prototype.slice.call(input.files || []);
      files.forEach(function (file, index) {
        var ext = (file.name.split(".").pop() || "").toLowerCase();
        var issue = file.size > maxBytes ? zone.getAttribute("data-msg-too-large")
          : (!KINDS[ext] ? zone.getAttribute("data-msg-bad-type") : "");
        var item = document.createElement("li");
        item.className = "file-item" + (issue ? " file-item--bad" : "");
        var kind = document.createElement("span");
        kind.className = "file-item__kind";
        kind.setAttribute("aria-hidden", "true");
        kind.textContent = (KINDS[ext] ? (ext === "jpeg" ? "jpg" : ext) : "?").toUpperCase();
        item.appendChild(kind);
        var name = document.createElement("span");
        name.className = "file-item__name";
        name.textContent = file.name;
        var size = document.createElement("span");
        size.className = "file-item__size";
        size.textContent = formatSize(file.size);
        item.appendChild(name);
        item.appendChild(size);
        if (issue) {
          var note = document.createElement("span");
          note.className = "file-item__problem";
          note.textContent = issue;
          item.appendChild(note);
        }
        if (canAssign) {
          var remove = document.createElement("button");
          remove.type = "button";
          remove.className = "file-item__remove";
          remove.setAttribute("aria-label", (zone.getAttribute("data-msg-remove") || "Remove") + ": " + file.name);
          remove.textContent = "×";
          remove.addEventListener("click", function () { removeAt(index); });
          item.appendChild(remove);
        }
        list.appendChild(item);
      });
      if (problem) {
        var tooMany = files.length > maxFiles;
        problem.hidden = !tooMany;
        problem.textContent = tooMany ? zone.getAttribute("data-msg-too-many") : "";
      }
      notifyHeight();
    }

    function assign(files) {
      var dt = new DataTransfer();
      files.forEach(function (f) { dt.items.add(f); });
      input.files = dt.files;
      render();
    }

    function removeAt(index) {
      var files = Array.prototype.slice.call(input.files || []);
      files.splice(index, 1);
      assign(files);
      input.focus();
    }

    input.addEventListener("change", render);
    ["dragenter", "dragover"].forEach(function (type) {
      target.addEventListener(type, function (event) {
        event.preventDefault();
        target.classList.add("is-dragover");
      });
    });
    ["dragleave", "dragend"].forEach(function (type) {
      target.addEventListener(type, function () { target.classList.remove("is-dragover"); });
    });
    target.addEventListener("drop", function (event) {
      event.preventDefault();
      target.classList.remove("is-dragover");
      if (!event.dataTransfer || !event.dataTransfer.files.length) { return; }
      var dropped = Array.prototype.slice.call(event.dataTransfer.files);
      if (canAssign) {
        assign(Array.prototype.slice.call(input.files || []).concat(dropped));
      } else {
        input.files = event.dataTransfer.files;
        render();
      }
    });
  }

  function guardDoubleSend(form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (!button) { return; }
      window.setTimeout(function () {
        button.disabled = true;
        var label = form.getAttribute("data-sending-label");
        if (label) { button.textContent = label; }
      }, 0);
    });
  }

  var lastHeight = 0;
  function notifyHeight() {
    var mode = document.body && document.body.getAttribute("data-embed");
    if (!mode || window.parent === window) { return; }
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      // Only our height goes out: nothing private, so any embedding page may read it.
      window.parent.postMessage({ type: "opiekun:height", height: height }, "*");
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-dropzone]"), setupDropzone);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-sending-label]"), guardDoubleSend);
    var summary = document.querySelector("[data-error-summary]");
    var autofocus = document.querySelector("[data-autofocus]");
    if (summary) { summary.focus(); } else if (autofocus) { autofocus.focus({ preventScroll: true }); }
    var mode = document.body.getAttribute("data-embed");
    if (mode) {
      notifyHeight();
      if (typeof ResizeObserver === "function") { new ResizeObserver(notifyHeight).observe(document.documentElement); }
      window.addEventListener("load", notifyHeight);
      if (mode === "done" && window.parent !== window) { window.parent.postMessage({ type: "opiekun:done" }, "*"); }
    }
  });
})();
