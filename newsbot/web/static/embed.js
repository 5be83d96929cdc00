/* The compact chat inside the widget's frame. Everything from the server is written with
 * textContent (never innerHTML): article text stays text. */
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var log = document.getElementById("log");
  var form = document.getElementById("ask");
  var input = document.getElementById("question");
  var send = document.getElementById("send");
  var history = [];

  var title = params.get("title");
  if (title) {
    document.getElementById("title").textContent = title.slice(0, 80);
    document.title = title.slice(0, 80);
  }
  var color = params.get("color");
  if (color && window.CSS && CSS.supports("color", color)) {
    document.documentElement.style.setProperty("--accent", color);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var question = input.value.trim();
    if (question && !send.disabled) ask(question);
  });

  function ask(question) {
    add("msg user", question);
    var pending = add("msg bot pending", "Looking through the articles…");
    busy(true);
    fetch("api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question: question, history: history.slice(-6) })
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          return { status: response.status, body: body, retry: response.headers.get("Retry-After") };
        });
      })
      .then(function (result) {
        pending.remove();
        if (result.status !== 200) return add("msg error", problem(result));
        showAnswer(result.body);
        history.push({ role: "user", content: question }, { role: "assistant", content: result.body.answer });
      })
      .catch(function () {
        pending.remove();
        add("msg error", "The news bot could not be reached.");
      })
      .then(function () { busy(false); });
  }

  function showAnswer(answer) {
    var box = add("msg bot answer", "");
    if (answer.notice) box.appendChild(el("p", "notice", answer.notice));
    box.appendChild(el("p", "text", answer.answer));
    if (!answer.citations || !answer.citations.length) return;
    var list = el("ol", "sources", "");
    byArticle(answer.citations).forEach(function (quotes) { list.appendChild(source(quotes)); });
    box.appendChild(list);
  }

  // One entry per article, in the order first cited, listing each sentence quoted from it.
  function byArticle(citations) {
    var groups = [], seen = {};
    citations.forEach(function (c) {
      var key = "a:" + c.article_id;
      if (!seen[key]) groups.push(seen[key] = []);
      seen[key].push(c);
    });
    return groups;
  }

  function source(quotes) {
    var c = quotes[0];
    var item = el("li", "source", "");
    var name = c.title || "Untitled article";
    var link = safeUrl(c.url);
    var heading = el(link ? "a" : "span", "title", name);
    if (link) {
      heading.href = link;
      heading.target = "_blank";
      heading.rel = "noopener noreferrer nofollow";
    }
    item.appendChild(heading);
    var meta = [c.source, niceDate(c.published)].filter(Boolean).join(" · ");
    if (meta) item.appendChild(el("span", "meta", meta));
    quotes.forEach(function (q) {
      var quote = el("blockquote", "quote", "");
      quote.appendChild(el("span", "n", "[" + q.n + "]"));
      quote.appendChild(document.createTextNode(" " + (q.quote || "")));
      item.appendChild(quote);
    });
    return item;
  }

  function problem(result) {
    if (result.status === 429) {
      return "Too many questions at once; try again in " + (result.retry || "a few") + " seconds.";
    }
    if (result.status === 422) return "That question cannot be asked (empty or too long).";
    if (result.status === 503) return "The news bot is busy; try again shortly.";
    return "Something went wrong (" + result.status + ").";
  }

  // Only a parseable http(s) URL with a host becomes a link ("http:///x" or "javascript:" never do).
  function safeUrl(url) {
    if (typeof url !== "string" || !/^https?:\/\/[^\/\\]/i.test(url)) return null;
    try {
      var parsed = new URL(url);
      return (parsed.protocol === "http:" || parsed.protocol === "https:") && parsed.hostname ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function niceDate(iso) {
    if (!iso) return "";
    var day = new Date(iso.slice(0, 10) + "T00:00:00Z");
    if (isNaN(day)) return iso;
    return day.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  }

  function add(className, text) {
    var node = el("div", className, text);
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function busy(on) {
    send.disabled = on;
    if (!on) {
      input.value = "";
      input.focus();
    }
  }
})();
