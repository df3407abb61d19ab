// The board's only script: it keeps the page live. The server renders the page's main content again after each
// change and sends it as a server-sent event; this swaps it in. Without JavaScript the page is the same, as of
// its loading.
(function () {
  "use strict";
  if (!window.EventSource) { return; }
  var main = document.getElementById("board");
  var live = document.getElementById("live");
  if (!main || !live) { return; }
  var page = live.getAttribute("data-page") || "/";
  var source = new EventSource("/events?page=" + encodeURIComponent(page));
  var swaps = 0;
  source.addEventListener("fragment", function (e) {
    swaps++;
    var focused = document.activeElement && document.activeElement.id;
    main.innerHTML = e.data;
    main.setAttribute("data-live", String(swaps));
    if (focused) {
      var again = document.getElementById(focused);
      if (again) { again.focus(); }
    }
    live.textContent = "Live: updated " + new Date().toLocaleTimeString();
  });
  source.addEventListener("open", function () {
    live.textContent = "Live: updates as they happen";
  });
  source.addEventListener("error", function () {
    live.textContent = "Live updates interrupted; reconnecting…";
  });
})();
