// Autocomplete for search boxes with data-suggest-url; the pages work fully without it.
(function () {
  "use strict";
  if (!window.fetch) { return; }
  var groups = [["listings", "Eintrag"], ["organisations", "Kommune"], ["ozg", "OZG-Leistung"]];
  function attach(input) {
    var list = document.getElementById(input.getAttribute("aria-controls") || "");
    if (!list) { return; }
    var timer = null;
    function render(data) {
      list.textContent = "";
      var n = 0;
      groups.forEach(function (g) {
        (data[g[0]] || []).forEach(function (item) {
          var li = document.createElement("li");
          li.setAttribute("role", "option");
          var a = document.createElement("a");
          a.href = item.url;
          a.textContent = item.label + " (" + g[1] + ")";
          li.appendChild(a);
          list.appendChild(li);
          n += 1;
        });
      });
      list.hidden = n === 0;
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2) { list.hidden = true; return; }
      timer = setTimeout(function () {
        fetch(input.dataset.suggestUrl + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : {}; })
          .then(render)
          .catch(function () { list.hidden = true; });
      }, 150);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { list.hidden = true; }
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[data-suggest-url]"), attach);
}());

// Browse filters: with JavaScript every choice applies at once, and the URL carries no empty
// parameters; after the reload the choice keeps its focus. Without it the "Anzeigen" button
// sends the form (and the server drops the empty fields).
(function () {
  "use strict";
  var form = document.getElementById("browse-form");
  var panel = document.getElementById("filter");
  if (!form || !panel || !window.URLSearchParams || !window.FormData) { return; }
  var KEY = "marktplatz-filter-focus";
  function go(focusId) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (String(value).trim() !== "") { params.append(name, value); }
    });
    try { sessionStorage.setItem(KEY, focusId || ""); } catch (e) { /* private mode */ }
    var query = params.toString();
    window.location.assign(form.action + (query ? "?" + query : ""));
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); go(""); });
  Array.prototype.forEach.call(panel.querySelectorAll("input[type=checkbox], select"), function (el) {
    el.addEventListener("change", function () { go(el.id); });
  });
  Array.prototype.forEach.call(panel.querySelectorAll(".js-only"), function (el) { el.hidden = false; });
  Array.prototype.forEach.call(panel.querySelectorAll(".apply-filters"), function (el) { el.hidden = true; });
  var last = null;
  try { last = sessionStorage.getItem(KEY); sessionStorage.removeItem(KEY); } catch (e) { /* private mode */ }
  if (last) {
    panel.open = true;
    var el = document.getElementById(last);
    if (el) { el.focus(); }
  }
}());
