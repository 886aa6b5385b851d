// The case list's bulk bar (templates/dashboard/index.html): "select all on this page", a
// count of the ticked cases, and a value list narrowed to the chosen action. Without
// JavaScript the checkboxes and both buttons work as they are; every value is listed.
(function () {
  "use strict";

  var form = document.getElementById("bulk-form");
  if (!form) return;
  var all = document.getElementById("bulk-all");
  var count = document.getElementById("bulk-count");
  var action = document.getElementById("bulk-action");
  var value = document.getElementById("bulk-value");
  var valueCol = document.getElementById("bulk-value-col");
  var picks = Array.prototype.slice.call(document.querySelectorAll("input.bulk-pick"));

  function ticked() {
    return picks.filter(function (box) { return box.checked; }).length;
  }

  function showCount() {
    var n = ticked();
    count.textContent = n ? n + " selected" : "";
    all.checked = n > 0 && n === picks.length;
    all.indeterminate = n > 0 && n < picks.length;
  }

  if (picks.length) {
    document.getElementById("bulk-all-label").hidden = false;
    all.addEventListener("change", function () {
      picks.forEach(function (box) { box.checked = all.checked; });
      showCount();
    });
    picks.forEach(function (box) { box.addEventListener("change", showCount); });
    showCount();
  }

  function narrow() {
    var chosen = action.value;
    valueCol.hidden = chosen === "close";
    Array.prototype.forEach.call(value.querySelectorAll("optgroup"), function (group) {
      var mine = group.dataset.action === chosen;
      group.hidden = !mine;
      group.disabled = !mine;
    });
    var current = value.selectedOptions[0];
    if (current && current.parentElement.tagName === "OPTGROUP" && current.parentElement.disabled) {
      value.value = "choose";
    }
  }
  action.addEventListener("change", narrow);
  narrow();
})();
