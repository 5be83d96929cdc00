() => {
  /* The chat page's [n] markers: each becomes a button that brings its quote into view in the
   * sources panel and marks it (cards.py gives the quote numbered n of the t-th answer the id
   * nb-a{t}-s{n}). Gradio's own rendering of a message is never edited: a linked copy, built
   * with text nodes only, is shown in its place (CSS hides the original), so the message's copy
   * button and label keep the plain text. */
  "use strict";
  if (window.__newsbotChat) return;
  window.__newsbotChat = true;
  var MARKER = /\[(\d{1,3})\]/g;

  function linked(md, turn) {
    var text = md.textContent;
    var copy = document.createElement("span");
    copy.className = md.className + " nb-linked";
    var last = 0;
    text.replace(MARKER, function (marker, n, at) {
      var target = "nb-a" + turn + "-s" + n;
      if (!document.getElementById(target)) return marker;
      copy.appendChild(document.createTextNode(text.slice(last, at)));
      var ref = document.createElement("button");
      ref.type = "button";
      ref.className = "nb-ref";
      ref.setAttribute("data-target", target);
      ref.title = "Show source " + marker;
      ref.textContent = marker;
      copy.appendChild(ref);
      last = at + marker.length;
      return marker;
    });
    copy.appendChild(document.createTextNode(text.slice(last)));
    return copy;
  }

  function refresh() {
    var chat = document.getElementById("nb-chat");
    if (!chat) return;
    var bots = chat.querySelectorAll('[data-testid="bot"]');
    for (var i = 0; i < bots.length; i++) {
      var md = bots[i].querySelector(".md:not(.nb-linked)");
      if (!md || !md.parentNode) continue;
      var turn = i + 1;
      var prev = md.previousElementSibling;
      var old = prev && prev.classList.contains("nb-linked") ? prev : null;
      var key = turn + "|" + md.textContent + "|" + Boolean(document.getElementById("nb-a" + turn));
      if (old && old.nbKey === key) continue;  // a property, not an attribute: article text stays out of the markup
      var copy = linked(md, turn);
      if (!copy.querySelector(".nb-ref")) {  // nothing to link (yet): show Gradio's own
        if (old) old.remove();
        continue;
      }
      copy.nbKey = key;
      if (old) old.replaceWith(copy);
      else md.parentNode.insertBefore(copy, md);
    }
    // a copy whose original is gone (the chat was cleared or re-rendered) goes too
    chat.querySelectorAll(".nb-linked").forEach(function (copy) {
      var next = copy.nextElementSibling;
      if (!next || !next.classList.contains("md") || next.classList.contains("nb-linked")) copy.remove();
    });
  }

  // Called before the browser paints the change, so the original never shows in between; a
  // refresh that finds everything current changes nothing, which ends the round.
  new MutationObserver(refresh).observe(document.body, { childList: true, subtree: true, characterData: true });
  refresh();

  document.addEventListener("click", function (event) {
    var ref = event.target.closest ? event.target.closest("button.nb-ref") : null;
    if (!ref) return;
    var quote = document.getElementById(ref.getAttribute("data-target"));
    if (!quote) return;
    document.querySelectorAll("#nb-sources .nb-hit").forEach(function (el) { el.classList.remove("nb-hit"); });
    quote.classList.add("nb-hit");
    quote.scrollIntoView({ behavior: "smooth", block: "center" });
    quote.focus({ preventScroll: true });
  });
}
