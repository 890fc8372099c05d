// Hemiscope page helpers: copy buttons and relative ages. Loaded as a file (no inline script),
// so a Content-Security-Policy without 'unsafe-inline' allows it. Pages work without it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function age(seconds) {
    if (seconds < 0) return "just now (clock ahead)";
    if (seconds < 60) return seconds + " s ago";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min ago";
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + " h ago";
    return Math.floor(hours / 24) + " days ago";
  }

  function relativeTimes(root) {
    var nodes = root.querySelectorAll("time[data-relative]");
    var now = Date.now();
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var when = Date.parse(node.getAttribute("datetime"));
      if (isNaN(when)) continue;
      if (!node.dataset.absolute) node.dataset.absolute = node.textContent;
      node.textContent = age(Math.round((now - when) / 1000));
      node.title = node.dataset.absolute;
    }
  }

  function copied(button, ok) {
    var label = button.textContent;
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(function () { button.textContent = label; }, 1200);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy") : null;
    if (!button) return;
    var text = button.getAttribute("data-copy") || "";
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { copied(button, true); },
                                               function () { copied(button, false); });
    } else {
      copied(button, false);
    }
  });

  document.addEventListener("DOMContentLoaded", function () { relativeTimes(document); });
  document.addEventListener("htmx:afterSwap", function (event) { relativeTimes(event.target); });
  setInterval(function () { relativeTimes(document); }, 15000);
})();
