// Adds a copy button after every input with data-copy-label; without JavaScript the field
// stays a read-only text field to select and copy by hand.
(function () {
  "use strict";
  function attach(input) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button-secondary copy-button";
    button.textContent = input.getAttribute("data-copy-label") || "Kopieren";
    var status = document.createElement("span");
    status.setAttribute("role", "status");
    status.className = "copy-status";
    button.addEventListener("click", function () {
      input.select();
      var done = function () { status.textContent = "Kopiert."; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          status.textContent = "Bitte mit Strg+C kopieren.";
        });
      } else {
        try { document.execCommand("copy"); done(); } catch (e) { status.textContent = "Bitte mit Strg+C kopieren."; }
      }
    });
    input.insertAdjacentElement("afterend", status);
    input.insertAdjacentElement("afterend", button);
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-copy-label]"), attach);
  });
})();
