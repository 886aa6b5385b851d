// Forms with data-confirm ask before they are sent (deleting a note, for one). A form with
// data-confirm-choice="<select name>" asks only when the chosen option carries data-confirm
// (Amazon's reply "Reinstated" closes the case). On OK the form says so in its "confirmed"
// field; without JavaScript the server asks on a page instead.
(function () {
  "use strict";

  function question(form) {
    if (!form.dataset.confirmChoice) return form.dataset.confirm;
    var select = form.elements.namedItem(form.dataset.confirmChoice);
    var option = select && select.selectedOptions ? select.selectedOptions[0] : null;
    return option ? option.dataset.confirm : null;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var message = question(form);
    if (!message) return;
    if (!window.confirm(message)) {
      event.preventDefault();
      return;
    }
    var confirmed = form.querySelector("input[name=confirmed]");
    if (confirmed) confirmed.value = "yes";
  });
})();
