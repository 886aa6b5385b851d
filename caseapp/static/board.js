// The board's drag and drop, an enhancement of the card's own "Move to" form: a card dropped on
// a column chooses that column's status in its form and sends the form, so the server's
// workflow check, its confirmation and its message are the same as with the button. A column
// the workflow does not allow still takes the drop: the server then says why it refused.
// While a card is dragged, the columns it may go to are marked (board-drop-ok) and the others
// dimmed (board-drop-no). Without JavaScript, or by keyboard, the form does it all.
(function () {
  "use strict";

  var board = document.querySelector("[data-board]");
  if (!board) return;
  var dragged = null;
  board.ownerDocument.querySelectorAll(".board-drag-help").forEach(function (help) {
    help.hidden = false;  // dragging works only with this script
  });

  function columns() {
    return board.querySelectorAll(".board-column");
  }

  function clearMarks() {
    columns().forEach(function (column) {
      column.classList.remove("board-drop-ok", "board-drop-no", "board-drop-over");
    });
  }

  function send(card, target, label) {
    var form = card.querySelector("form.board-move");
    var select = form && form.elements.namedItem("status");
    if (!select) return;
    var before = select.value;
    var added = null;
    if (!Array.prototype.some.call(select.options, function (o) { return o.value === target; })) {
      added = new Option(label, target);  // a move the workflow will refuse, with its reason
      select.add(added);
    }
    select.value = target;
    var undo = function (event) {
      if (event.target !== form) return;
      document.removeEventListener("submit", undo);
      // After every other handler: the confirm question may have been answered "Cancel".
      window.setTimeout(function () {
        if (!event.defaultPrevented) {
          card.classList.add("board-card-moving");
          return;
        }
        if (added) added.remove();
        select.value = before;
      }, 0);
    };
    document.addEventListener("submit", undo);
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();
    } else {
      form.submit();  // old browsers: no confirm question, so the server asks on its page
    }
  }

  board.querySelectorAll(".board-card").forEach(function (card) {
    if (!card.querySelector("form.board-move")) return;
    card.setAttribute("draggable", "true");
    card.addEventListener("dragstart", function (event) {
      dragged = card;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.dataset.caseId);
      var allowed = (card.dataset.moves || "").split(" ");
      columns().forEach(function (column) {
        if (column.dataset.status === card.dataset.status) return;
        column.classList.add(allowed.indexOf(column.dataset.status) >= 0 ? "board-drop-ok" : "board-drop-no");
      });
      card.classList.add("board-card-dragged");
    });
    card.addEventListener("dragend", function () {
      card.classList.remove("board-card-dragged");
      clearMarks();
      dragged = null;
    });
  });

  columns().forEach(function (column) {
    column.addEventListener("dragover", function (event) {
      if (!dragged || column.dataset.status === dragged.dataset.status) return;
      event.preventDefault();  // this column takes the drop
      event.dataTransfer.dropEffect = "move";
      column.classList.add("board-drop-over");
    });
    column.addEventListener("dragleave", function (event) {
      if (!column.contains(event.relatedTarget)) column.classList.remove("board-drop-over");
    });
    column.addEventListener("drop", function (event) {
      if (!dragged || column.dataset.status === dragged.dataset.status) return;
      event.preventDefault();
      var card = dragged;
      clearMarks();
      send(card, column.dataset.status, column.dataset.label || column.dataset.status);
    });
  });
})();
