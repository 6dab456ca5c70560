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
