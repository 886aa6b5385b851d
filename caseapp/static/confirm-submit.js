// Forms with data-confirm ask before they are sent (deleting a note, for one). On OK the
// form says so in its "confirmed" field; without JavaScript the server asks on a page instead.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    var confirmed = form.querySelector("input[name=confirmed]");
    if (confirmed) confirmed.value = "yes";
  });
})();
