// The 360 panel is re-rendered whenever the case changes (htmx, the live desk): orders the agent opened
// stay open, remembered for this tab. Loaded once, whatever the number of re-renders.
(function () {
  if (window.__c360) return;
  window.__c360 = true;
  var KEY = "opiekun.c360-open";
  var SELECTOR = "#customer-orders details[data-order-id]";
  function opened() {
    try { return new Set(JSON.parse(sessionStorage.getItem(KEY) || "[]")); } catch (e) { return new Set(); }
  }
  function restore() {
    var open = opened();
    document.querySelectorAll(SELECTOR).forEach(function (d) { if (open.has(d.dataset.orderId)) d.open = true; });
  }
  document.addEventListener("toggle", function (e) {
    var d = e.target;
    if (!d.matches || !d.matches(SELECTOR)) return;
    var open = opened();
    if (d.open) open.add(d.dataset.orderId); else open.delete(d.dataset.orderId);
    try { sessionStorage.setItem(KEY, JSON.stringify(Array.from(open))); } catch (err) { /* private mode */ }
  }, true);
  document.addEventListener("htmx:afterSettle", restore);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", restore); else restore();
})();
