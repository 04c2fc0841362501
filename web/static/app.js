// claimflow's only script besides htmx: no inline script anywhere (CSP script-src 'self').

// Elements only needed without scripts (class "no-js") are hidden once this runs.
document.documentElement.classList.add("js");

// Every htmx request carries the session's CSRF token.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content"); }
});

// Whether a form holds something the user typed or chose: a value that differs from the
// one the page came with, or data-dirty (set by the server on a form it sent back with
// what was typed, after an error).
function edited(form) {
  if (form.hasAttribute("data-dirty")) { return true; }
  for (var i = 0; i < form.elements.length; i++) {
    var el = form.elements[i];
    if (el.type === "hidden" || el.type === "submit" || el.type === "button" || el.disabled) { continue; }
    if (el.type === "checkbox" || el.type === "radio") {
      if (el.checked !== el.defaultChecked) { return true; }
    } else if (el.tagName === "SELECT") {
      var first = 0;
      for (var j = 0; j < el.options.length; j++) { if (el.options[j].defaultSelected) { first = j; break; } }
      if (el.selectedIndex !== first) { return true; }
    } else if (el.value !== el.defaultValue) {
      return true;
    }
  }
  return false;
}

// A region marked data-keep-forms (the claim page, which refreshes itself) is not replaced
// by its own refresh while a form inside it has focus or holds something typed: nothing
// half-filled is lost. It is refreshed at the next poll after that. A request made by a
// form inside the region swaps as usual.
var openState = null;
document.addEventListener("htmx:beforeSwap", function (event) {
  var target = event.detail.target;
  if (!target || !target.hasAttribute("data-keep-forms")) { return; }
  var from = event.detail.elt;
  if (from && from !== target && from.closest && from.closest("form") && target.contains(from)) { return; }
  var active = document.activeElement;
  if (active && active.form && target.contains(active)) { event.detail.shouldSwap = false; return; }
  var forms = target.querySelectorAll("form");
  for (var i = 0; i < forms.length; i++) {
    if (edited(forms[i])) { event.detail.shouldSwap = false; return; }
  }
  // What the reader unfolded or folded (<details> with an id) stays so after the swap.
  openState = {};
  var details = target.querySelectorAll("details[id]");
  for (var k = 0; k < details.length; k++) { openState[details[k].id] = details[k].open; }
});
document.addEventListener("htmx:afterSettle", function () {
  if (!openState) { return; }
  Object.keys(openState).forEach(function (id) {
    var element = document.getElementById(id);
    if (element && element.tagName === "DETAILS") { element.open = openState[id]; }
  });
  openState = null;
});
document.addEventListener("submit", function (event) { event.target.removeAttribute("data-dirty"); });
