// claimflow's only script besides htmx: no inline script anywhere (CSP script-src 'self').

// Every htmx request carries the session's CSRF token.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content"); }
});

// A region marked data-keep-forms (a claim page that refreshes itself) is not replaced
// while a form inside it has focus or was typed into: nothing half-filled is lost. It is
// refreshed at the next poll after that.
document.addEventListener("htmx:beforeSwap", function (event) {
  var target = event.detail.target;
  if (!target || !target.hasAttribute("data-keep-forms")) { return; }
  var active = document.activeElement;
  var typing = active && active.form && target.contains(active);
  if (typing || target.querySelector("form[data-dirty]")) { event.detail.shouldSwap = false; }
});
document.addEventListener("input", function (event) {
  if (event.target.form) { event.target.form.setAttribute("data-dirty", "1"); }
});
document.addEventListener("submit", function (event) { event.target.removeAttribute("data-dirty"); });
