// Drag and drop for the evidence upload form, a list of the chosen files, and a check that
// stops an upload over the size limit before it is sent (its message beside the field).
// Without JavaScript the file picker works alone; the server checks everything again.
(function () {
  "use strict";

  function formatSize(bytes) {
    if (bytes < 1024) return bytes + " bytes";
    var units = ["KB", "MB", "GB"], size = bytes, unit = -1;
    do { size /= 1024; unit += 1; } while (size >= 1024 && unit < units.length - 1);
    return (size >= 10 ? size.toFixed(0) : size.toFixed(1)) + " " + units[unit];
  }

  function showChosen(zone, input) {
    var list = zone.querySelector(".evidence-chosen");
    if (!list) return;
    list.textContent = "";
    var limit = Number(zone.dataset.maxBytes) || 0, total = 0;
    Array.prototype.forEach.call(input.files, function (file) {
      total += file.size;
      var item = document.createElement("li");
      item.textContent = file.name + " (" + formatSize(file.size) + ")";  // text, never HTML
      list.appendChild(item);
    });
    if (limit && total > limit) {
      var warning = document.createElement("li");
      warning.className = "text-danger";
      warning.textContent = "Together these are larger than the " + formatSize(limit) +
        " an upload may have. Send them in smaller groups.";
      list.appendChild(warning);
    }
  }

  function totalSize(input) {
    var total = 0;
    Array.prototype.forEach.call(input.files || [], function (file) { total += file.size; });
    return total;
  }

  function tooLarge(zone, input) {
    var limit = Number(zone.dataset.maxBytes) || 0;
    return limit && totalSize(input) > limit ? limit : 0;
  }

  function showLimit(zone, input, limit) {
    var message = zone.querySelector(".evidence-too-large");
    if (!message) return;
    if (limit) {
      message.textContent = "These files are " + formatSize(totalSize(input)) + " together, more than the " +
        formatSize(limit) + " an upload may have, so nothing was sent. Choose fewer or smaller files.";
      message.classList.add("d-block");
      input.classList.add("is-invalid");
      input.setAttribute("aria-describedby", message.id);
    } else {
      message.textContent = "";
      message.classList.remove("d-block");
      input.classList.remove("is-invalid");
      input.removeAttribute("aria-describedby");
    }
  }

  function setUp(zone) {
    var input = zone.querySelector("input[type=file]");
    if (!input) return;
    var highlight = ["border-primary", "bg-light"];
    input.addEventListener("change", function () {
      showChosen(zone, input);
      if (!tooLarge(zone, input)) showLimit(zone, input, 0);
    });
    var form = zone.closest("form");
    if (form) {
      form.addEventListener("submit", function (event) {
        var limit = tooLarge(zone, input);
        if (!limit) return;
        event.preventDefault();  // the server would refuse it after the whole upload
        showLimit(zone, input, limit);
        input.focus();
      });
    }
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
        zone.classList.add.apply(zone.classList, highlight);
      });
    });
    zone.addEventListener("dragleave", function (event) {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove.apply(zone.classList, highlight);
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove.apply(zone.classList, highlight);
      if (!event.dataTransfer.files.length) return;
      input.files = event.dataTransfer.files;
      showChosen(zone, input);
    });
  }

  document.querySelectorAll(".evidence-dropzone").forEach(setUp);
})();
