// The SMS length counter under the desk composer: the twin of inboxes/drivers/sms/segments.py
// (GSM-7: 160 per message, 153 per part; UCS-2: 70, 67, counted in UTF-16 code units).
(function () {
  "use strict";
  const BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const EXTENDED = "^{}\\[~]|€\f";
  function count(text) {
    let gsm = true, septets = 0;
    for (const ch of text) {
      if (EXTENDED.includes(ch)) septets += 2;
      else if (BASIC.includes(ch)) septets += 1;
      else { gsm = false; break; }
    }
    const units = gsm ? septets : text.length; // JS strings are UTF-16 already
    const single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    if (units <= single) return { encoding: gsm ? "GSM-7" : "UCS-2", units, segments: units ? 1 : 0, remaining: single - units };
    const parts = Math.ceil(units / multi);
    return { encoding: gsm ? "GSM-7" : "UCS-2", units, segments: parts, remaining: parts * multi - units };
  }
  window.opiekunSmsSegments = count;
  function wire(root) {
    const out = root.querySelector("#sms-counter");
    const area = root.querySelector("#reply-text");
    if (!out || !area || out.dataset.wired) return;
    out.dataset.wired = "1";
    const render = () => {
      const c = count(area.value);
      out.querySelector("[data-encoding]").textContent = c.encoding;
      out.querySelector("[data-units]").textContent = c.units;
      out.querySelector("[data-segments]").textContent = c.segments;
      out.querySelector("[data-remaining]").textContent = c.remaining;
      out.classList.toggle("is-long", c.segments > 1);
    };
    area.addEventListener("input", render);
    render();
  }
  wire(document);
  document.addEventListener("htmx:afterSwap", () => wire(document));
})();
