// Every page's forms: a submit button is disabled once its form is on its way (the server
// does a POST once anyway: each form carries a one-time key), and a page shown again with
// mistakes lands on the first field that has one.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || (form.method || "").toLowerCase() !== "post") return;
    // After every other handler: a confirm dialog or a size check may still stop the form.
    window.setTimeout(function () {
      if (event.defaultPrevented) return;
      form.querySelectorAll("button[type=submit], input[type=submit], button:not([type])")
        .forEach(function (button) {
          button.disabled = true;
          button.setAttribute("aria-disabled", "true");
        });
    }, 0);
  });

  // Back to a page from the browser's cache: its buttons work again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form button[disabled][aria-disabled=true], form input[disabled][aria-disabled=true]")
      .forEach(function (button) {
        button.disabled = false;
        button.removeAttribute("aria-disabled");
      });
  });

  var invalid = document.querySelector("main .is-invalid");
  if (invalid) {
    var details = invalid.closest("details");
    if (details) details.open = true;
    invalid.scrollIntoView({block: "center"});
    invalid.focus({preventScroll: true});
  }
})();
