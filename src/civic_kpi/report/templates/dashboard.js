// The theme: the reader's choice (remembered in localStorage) or else the system's (prefers-color-scheme).
// Set before the page draws, so that a dark page does not flash light first.
(function () {
  var key = "civic-kpi-theme";
  var root = document.documentElement;
  var stored = null;
  try { stored = localStorage.getItem(key); } catch (e) { /* storage blocked (a file: URL in some browsers) */ }
  if (stored === "light" || stored === "dark") root.setAttribute("data-theme", stored);
  function current() {
    var chosen = root.getAttribute("data-theme");
    if (chosen) return chosen;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function label(button) {
    var dark = current() === "dark";
    button.setAttribute("aria-pressed", dark ? "true" : "false");
    button.textContent = dark ? "Light theme" : "Dark theme";
  }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    label(button);
    button.addEventListener("click", function () {
      var next = current() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem(key, next); } catch (e) { /* the choice lasts this visit only */ }
      label(button);
    });
  });
})();
