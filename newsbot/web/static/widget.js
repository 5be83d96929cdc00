/* newsbot widget. On your page:
 *   <script src="http://HOST:PORT/widget.js" data-title="Ask the news" data-position="right"
 *           data-color="#1f5fbf" async></script>
 * It adds a floating button that opens the compact chat (/embed of the same server) in a frame.
 * Only origins the server allows may frame it (CSP frame-ancestors); on any other site the
 * button opens a note saying so instead. Styles are set through the DOM, not inline markup, so
 * a strict CSP on the host page does not break it. */
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

  // Before framing, ask the server whether this page's origin may embed the chat: a refused
  // origin would get a frame the browser will not show ("refused to connect"). The check is a
  // CORS request that succeeds only for the allowed origins (the frame-ancestors list); when it
  // fails, a no-cors request tells a refused origin from a server that cannot be reached.
  var checkUrl = new URL("embed/allowed", script.src).href;
  var panel = null;
  var checking = false;
  button.addEventListener("click", function () {
    if (panel && panel.getAttribute("data-retry") === null) return toggle(panel.style.display === "none");
    if (panel) {  // the server could not be reached last time: close the note, ask again on the next click
      toggle(false);
      panel.remove();
      panel = null;
      return;
    }
    if (checking) return;
    checking = true;
    allowed().then(function (verdict) {
      checking = false;
      if (verdict === "allowed") {
        panel = makeFrame();
      } else if (verdict === "refused") {
        panel = makeNotice("This site is not allowed to embed the newsroom's chat.",
          "The newsroom lists the sites that may show its chat, and " + location.origin + " is not one of " +
          "them (site owners: ask the newsroom to add it to NEWSBOT_ALLOWED_ORIGINS).");
      } else {
        panel = makeNotice("The newsroom's chat could not be reached.", "Please try again later.");
        panel.setAttribute("data-retry", "");
      }
      toggle(true);
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && panel && panel.style.display !== "none") toggle(false);
  });

  root.appendChild(button);
  (document.body || document.documentElement).appendChild(host);

  function allowed() {
    var options = { credentials: "omit", cache: "no-store" };
    return fetch(checkUrl, options).then(function () { return "allowed"; }, function () {
      options.mode = "no-cors";
      return fetch(checkUrl, options).then(function () { return "refused"; }, function () { return "unreachable"; });
    });
  }

  function toggle(open) {
    panel.style.display = open ? "block" : "none";
    button.setAttribute("aria-expanded", String(open));
  }

  function placed(el) {
    style(el, {
      display: "none", position: "fixed", bottom: "76px", width: "380px", maxWidth: "calc(100vw - 40px)",
      borderRadius: "12px", boxShadow: "0 8px 30px rgba(0,0,0,.3)", background: "#fff", zIndex: "2147483647"
    });
    el.style[side] = "20px";
    root.appendChild(el);
    return el;
  }

  function makeFrame() {
    var f = document.createElement("iframe");
    f.className = "newsbot-frame";
    f.title = title;
    f.src = embedUrl.href;
    f.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms allow-popups " +
      "allow-popups-to-escape-sandbox");
    style(f, { height: "560px", maxHeight: "calc(100vh - 100px)", border: "none" });
    return placed(f);
  }

  function makeNotice(headline, detail) {
    var box = document.createElement("div");
    box.className = "newsbot-notice";
    box.setAttribute("role", "status");
    style(box, { overflow: "hidden", font: "14px/1.45 system-ui, sans-serif", color: "#1d1d1f" });
    var bar = document.createElement("div");
    bar.textContent = title;
    style(bar, { background: color, color: "#fff", padding: "10px 14px", fontWeight: "600" });
    var text = document.createElement("p");
    text.className = "newsbot-notice-text";
    text.textContent = headline;
    style(text, { margin: "14px 14px 6px", fontWeight: "600" });
    var more = document.createElement("p");
    more.textContent = detail;
    style(more, { margin: "0 14px 14px", color: "#555", fontSize: "13px" });
    box.appendChild(bar);
    box.appendChild(text);
    box.appendChild(more);
    return placed(box);
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
