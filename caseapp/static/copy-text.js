// A button with data-copy="<element id>" copies that element's text to the clipboard and
// says so. Hidden until this script runs: without JavaScript the text stays selectable.
(function () {
  "use strict";

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    var label = button.textContent;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = "Copied";
        button.setAttribute("aria-live", "polite");
        window.setTimeout(function () { button.textContent = label; }, 2000);
      }, function () {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Press Ctrl+C";
      });
    });
  });
})();
