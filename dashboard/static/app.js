// Progressive enhancement only: every page works without it.
(function () {
  "use strict";

  var notice = document.getElementById("notice");
  var hideTimer = null;
  function say(text, bad) {
    if (!notice) return;
    notice.textContent = text || "";
    notice.hidden = !text;
    notice.classList.toggle("notice-bad", !!bad);
    clearTimeout(hideTimer);
    if (text && !bad) hideTimer = setTimeout(function () { notice.hidden = true; }, 6000);
  }

  // Colour theme: automatic (the system's), light or dark; remembered in this browser.
  var themes = ["auto", "light", "dark"];
  var button = document.getElementById("theme");
  if (button) {
    var current = document.documentElement.dataset.theme || "auto";
    var show = function () {
      button.querySelector(".theme-name").textContent = current;
      button.setAttribute("aria-label", "Colour theme: " + current + " (change)");
    };
    button.hidden = false;
    show();
    button.addEventListener("click", function () {
      current = themes[(themes.indexOf(current) + 1) % themes.length];
      if (current === "auto") delete document.documentElement.dataset.theme;
      else document.documentElement.dataset.theme = current;
      try { localStorage.setItem("theme", current); } catch (e) { /* ignore */ }
      show();
    });
  }

  // Live regions: fetch the server's fragment of the same URL and swap it in.
  function keepOpen(region) {
    return Array.prototype.map.call(region.querySelectorAll("details"), function (d) { return d.open; });
  }
  function poll(region) {
    var url = region.dataset.pollUrl;
    var every = Math.max(1000, parseInt(region.dataset.pollMs || "3000", 10));
    var failures = 0;
    var last = region.innerHTML;
    function tick() {
      if (document.hidden) { setTimeout(tick, every); return; }
      fetch(url, { headers: { "X-Fragment": "1" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          return response.text().then(function (html) { return { response: response, html: html }; });
        })
        .then(function (got) {
          if (got.response.status >= 500) {
            failures += 1;
            say("Firestore is not answering; retrying…", true);
            setTimeout(tick, Math.min(every * (failures + 1), 30000));
            return;
          }
          if (failures) say("Connection back; the page is up to date.");
          failures = 0;
          if (got.html !== last) {
            var open = keepOpen(region);
            region.innerHTML = got.html;
            last = got.html;
            region.querySelectorAll("details").forEach(function (d, i) { if (open[i]) d.open = true; });
          }
          if (got.response.headers.get("X-Terminal") === "1") {
            region.dataset.terminal = "1";
            var state = region.querySelector(".status");
            say(state ? "Finished: " + state.textContent.trim() : "");
            return;
          }
          setTimeout(tick, every);
        })
        .catch(function () {
          failures += 1;
          say("The dashboard is not answering; retrying…", true);
          setTimeout(tick, Math.min(every * (failures + 1), 30000));
        });
    }
    setTimeout(tick, every);
  }
  document.querySelectorAll("[data-poll-url]").forEach(function (region) {
    if (region.dataset.terminal !== "1") poll(region);
  });

  // Error pages that can recover (Firestore down) try again by themselves.
  var retry = document.querySelector("[data-retry-ms]");
  if (retry) setTimeout(function () { location.reload(); }, parseInt(retry.dataset.retryMs, 10));

  // The intent picker shows the chosen intent's form at once.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
    form.addEventListener("change", function () { form.submit(); });
  });

  // Publish: one submission per click (the server also publishes a form only once), and the
  // live confirmation only when live is chosen.
  document.querySelectorAll("form.publish").forEach(function (form) {
    var sent = false;
    window.addEventListener("pageshow", function () { sent = false; });
    form.addEventListener("submit", function (event) {
      if (sent) { event.preventDefault(); return; }
      sent = true;
      var submit = form.querySelector("button[type=submit]");
      if (submit) {
        submit.setAttribute("aria-disabled", "true");
        submit.textContent = submit.dataset.busy || submit.textContent;
      }
    });
    var confirm = document.getElementById("confirm-field");
    function sync() {
      var live = form.querySelector("input[name=mode][value=live]");
      if (confirm) confirm.hidden = !(live && live.checked);
    }
    form.querySelectorAll("input[name=mode]").forEach(function (r) { r.addEventListener("change", sync); });
    sync();
  });
})();
