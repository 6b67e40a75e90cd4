{% autoescape off %}/* Opiekun contact form: paste <script src=".../embed.js" async></script> where the form should appear. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.parentNode) { return; }
  var src = new URL("{{ embed_path|escapejs }}", script.src);
  try { src.searchParams.set("page", String(window.location.href).slice(0, 500)); } catch (e) { /* ignore */ }
  var lang = script.getAttribute("data-lang") || document.documentElement.lang || "";
  if (lang) { src.searchParams.set("lang", lang.slice(0, 2).toLowerCase()); }
  var frame = document.createElement("iframe");
  frame.src = src.href;
  frame.title = script.getAttribute("data-title") || "{{ title|escapejs }}";
  frame.setAttribute("loading", "lazy");
  frame.style.cssText = "display:block;width:100%;min-height:560px;border:0;margin:0;background:transparent;color-scheme:normal";
  script.parentNode.insertBefore(frame, script);
  window.addEventListener("message", function (event) {
    if (event.origin !== src.origin || event.source !== frame.contentWindow) { return; }
    var data = event.data || {};
    if (data.type === "opiekun:height" && typeof data.height === "number" && data.height > 0) {
      frame.style.minHeight = "0";
      frame.style.height = Math.ceil(Math.min(data.height, 20000)) + "px";
    } else if (data.type === "opiekun:done") {
      var top = frame.getBoundingClientRect().top;
      if (top < 0) { frame.scrollIntoView({ behavior: "smooth", block: "start" }); }
    }
  });
})();
{% endautoescape %}
