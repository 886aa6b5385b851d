// The POA editor never loses what was typed (issue 14).
//
// - Leaving the editor with unsaved edits asks first (beforeunload); saving does not ask.
// - Every edit is also kept in this browser's localStorage, under the person, the case and the
//   version being edited, until a save took it (the server says so once, in data-saved-from)
//   or the person discards it. So when the session ran out and Save led to the sign-in page,
//   or the browser or the computer stopped, the next visit to that version's editor offers
//   "Restore your unsaved text from <time>". Kept text older than KEEP_DAYS is forgotten.
(function () {
  "use strict";

  var PREFIX = "caseapp.poa-unsaved.";
  var KEEP_DAYS = 14;
  var form = document.getElementById("poa-form");
  if (!form) return;

  var store = null;
  try {
    store = window.localStorage;
    store.getItem(PREFIX);  // may throw when storage is refused (private modes, policies)
  } catch (error) {
    store = null;
  }

  var fields = Array.prototype.filter.call(form.elements, function (el) {
    return (el.tagName === "TEXTAREA" || el.type === "text") && el.name;
  });
  var keyFor = function (version) {
    return PREFIX + form.dataset.userId + "." + form.dataset.caseId + ".v" + version;
  };
  var key = keyFor(form.dataset.version);
  var values = function () {
    var found = {};
    fields.forEach(function (el) { found[el.name] = el.value; });
    return found;
  };
  var same = function (a, b) {
    return fields.every(function (el) { return (a[el.name] || "") === (b[el.name] || ""); });
  };
  var read = function (name) {
    if (!store) return null;
    try {
      var kept = JSON.parse(store.getItem(name));
      return kept && kept.values && kept.savedAt ? kept : null;
    } catch (error) {
      return null;
    }
  };
  var forget = function (name) {
    if (store) store.removeItem(name);
  };

  // Forget what a save took, and anything kept too long.
  if (form.dataset.savedFrom) forget(keyFor(form.dataset.savedFrom));
  if (store) {
    var oldest = Date.now() - KEEP_DAYS * 86400 * 1000;
    for (var i = store.length - 1; i >= 0; i--) {
      var name = store.key(i);
      if (name && name.indexOf(PREFIX) === 0) {
        var entry = read(name);
        if (!entry || Date.parse(entry.savedAt) < oldest) forget(name);
      }
    }
  }

  var shown = values();  // what the page shows: the version, or the text sent back with errors
  var dirty = form.dataset.unsaved === "yes";  // re-shown with errors: not saved yet
  var submitting = false;

  var keep = function () {
    var now = values();
    dirty = form.dataset.unsaved === "yes" || !same(now, shown);
    if (!store) return;
    if (dirty) {
      try {
        store.setItem(key, JSON.stringify({ savedAt: new Date().toISOString(), values: now }));
      } catch (error) { /* storage full: the warning before leaving still holds */ }
    } else {
      forget(key);
    }
  };

  var offer = function (kept) {
    var box = document.getElementById("poa-restore");
    if (!box) return;
    var when = new Date(kept.savedAt);
    var time = box.querySelector("time");
    time.dateTime = kept.savedAt;
    time.textContent = when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    box.hidden = false;
    box.querySelector("[data-action=restore]").addEventListener("click", function () {
      fields.forEach(function (el) {
        if (Object.prototype.hasOwnProperty.call(kept.values, el.name)) el.value = kept.values[el.name];
      });
      box.hidden = true;
      keep();
      fields[0].focus();
    });
    box.querySelector("[data-action=discard]").addEventListener("click", function () {
      forget(key);
      box.hidden = true;
    });
  };

  var kept = read(key);
  if (kept && !same(kept.values, shown)) {
    offer(kept);
  } else if (dirty) {
    keep();
  } else if (kept) {
    forget(key);  // the page shows that text already
  }

  fields.forEach(function (el) { el.addEventListener("input", keep); });
  form.addEventListener("submit", function () { submitting = true; });
  window.addEventListener("pageshow", function () { submitting = false; });  // back from a refused leave
  window.addEventListener("beforeunload", function (event) {
    if (!dirty || submitting) return undefined;
    event.preventDefault();
    event.returnValue = "";  // browsers show their own words: "Leave site? Changes may not be saved."
    return "";
  });
})();
