/* newsbot widget. On your page:
 *   <script src="http://HOST:PORT/widget.js" data-title="Ask the news" data-position="right"
 *           data-color="#1f5fbf" async></script>
 * It adds a floating button that opens the compact chat (/embed of the same server) in a frame.
 * Only origins the server allows may frame it (CSP frame-ancestors). Styles are set through the
 * DOM, not inline markup, so a strict CSP on the host page does not break it. */
(function () {
  "use strict";
  if (window.__newsbotWidget) return;
  var script = document.currentScript || findScript();
  if (!script) return;
  window.__newsbotWidget = true;

  var DEFAULT_COLOR = "#1f5fbf";
  var title = (script.getAttribute("data-title") || "Ask the news").slice(0, 80);
  var left = /left/i.test(script.getAttribute("data-position") || "");
  var color = script.getAttribute("data-color") || DEFAULT_COLOR;
  if (!(window.CSS && CSS.supports && CSS.supports("color", color))) color = DEFAULT_COLOR;

  var embedUrl = new URL("embed", script.src);
  embedUrl.searchParams.set("title", title);
  embedUrl.searchParams.set("color", color);

  var host = document.createElement("div");
  host.setAttribute("data-newsbot-widget", "");
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var side = left ? "left" : "right";

  var button = document.createElement("button");
  button.type = "button";
  button.className = "newsbot-button";
  button.textContent = title;
  button.setAttribute("aria-expanded", "false");
  style(button, {
    position: "fixed", bottom: "20px", zIndex: "2147483646", padding: "12px 18px", border: "none",
    borderRadius: "24px", background: color, color: "#fff", font: "600 15px/1.2 system-ui, sans-serif",
    boxShadow: "0 4px 14px rgba(0,0,0,.25)", cursor: "pointer"
  });
  button.style[side] = "20px";

  var frame = null;
  button.addEventListener("click", function () {
    if (!frame) frame = makeFrame();
    var open = frame.style.display === "none";
    frame.style.display = open ? "block" : "none";
    button.setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && frame && frame.style.display !== "none") button.click();
  });

  root.appendChild(button);
  (document.body || document.documentElement).appendChild(host);

  function makeFrame() {
    var f = document.createElement("iframe");
    f.className = "newsbot-frame";
    f.title = title;
    f.src = embedUrl.href;
    f.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms allow-popups " +
      "allow-popups-to-escape-sandbox");
    style(f, {
      display: "none", position: "fixed", bottom: "76px", width: "380px", height: "560px",
      maxWidth: "calc(100vw - 40px)", maxHeight: "calc(100vh - 100px)", border: "none",
      borderRadius: "12px", boxShadow: "0 8px 30px rgba(0,0,0,.3)", background: "#fff",
      zIndex: "2147483647"
    });
    f.style[side] = "20px";
    root.appendChild(f);
    return f;
  }

  function style(el, props) {
    for (var key in props) el.style[key] = props[key];
  }

  function findScript() {
    var scripts = document.querySelectorAll("script[src]");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/widget\.js([?#]|$)/.test(scripts[i].src)) return scripts[i];
    }
    return null;
  }
})();
